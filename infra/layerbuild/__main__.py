"""python -m infra.layerbuild build [--layer NAME] --runtime R --arch A | lock [--layer NAME]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from infra.layerbuild.config import BUILD_DIR
from infra.layerbuild.errors import LayerBuildError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.layerbuild", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build layer zips and build/layers/manifest.json")
    build.add_argument("--layer", action="append", help="only this layer (repeatable)")
    build.add_argument("--runtime", default="python3.12")
    build.add_argument("--arch", default="x86_64")
    build.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="default: build/")
    build.add_argument("--force", action="store_true", help="rebuild even if inputs are unchanged")
    lock = commands.add_parser("lock", help="re-pin layers/<name>/requirements.txt with hashes")
    lock.add_argument("--layer", action="append", help="only this layer (repeatable)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.command == "build":
            from infra.layerbuild.pipeline import build as run_build

            report = run_build(
                args.layer or None,
                args.runtime,
                args.arch,
                build_dir=args.build_dir,
                force=args.force,
            )
            print(
                f"layers {report.target.label}: built {', '.join(report.built) or 'none'}; "
                f"up to date {', '.join(report.skipped) or 'none'} "
                f"({time.monotonic() - started:.1f}s) -> {args.build_dir / 'layers'}"
            )
        else:
            from infra.layerbuild.lock import lock as run_lock

            run_lock(args.layer or None)
    except LayerBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
