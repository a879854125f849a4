"""Handler throughput of two commits, measured alternately in one session (median of N each).

On a shared machine a figure from an earlier session says little; what carries over is the
ratio of two builds run interleaved on the same input, the same endpoint and the same minute.
This checks out both revisions into temporary worktrees, uploads one corpus-like file to a
moto server, then runs the scoring handler of each revision in turn (fresh process each time,
old/new/old/new…) and prints each run, the medians and the ratio new/old.

    .venv/bin/python tests/bench/compare_commits.py --old main --new HEAD [--rounds 5]
        [--copies 10] [--engine fast] [--workers 1] [--set ANALYTICS=off]

Not a `bench_*.py` script (`make bench` prints this tree's figures); run it by hand when a
change must not cost speed, and quote its output.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1].parent
INPUT, OUTPUT, KEY = "cmp-input", "cmp-output", "input/corpus-x.csv"


def child(function_dir: str) -> None:
    """Score KEY once with the handler found in `function_dir`; print rows and seconds."""
    sys.path.insert(0, function_dir)
    import boto3

    import handler

    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    from bench_handler import invoke_handler

    result, seconds = invoke_handler(handler, boto3.client("s3"), INPUT, KEY)
    if result.get("status") != "succeeded":
        raise SystemExit(f"not scored: {json.dumps(result)[:2000]}")
    print(json.dumps({"rows": result["rows"]["total"], "seconds": seconds}))


def _worktree(rev: str, where: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(where), rev], check=True
    )
    return where


def _run(tree: Path, env: dict) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(tree / "functions" / "sentiment")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"the handler of {tree} failed")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return figures["rows"] / figures["seconds"]


def _credentials(env: dict) -> dict:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="main")
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--engine", default="fast")
    parser.add_argument("--workers", default="1")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="a function setting for both runs, e.g. ANALYTICS=off to compare like with like",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    import boto3
    from bench_handler import make_corpus_copies

    from infra.endpoint import start_moto_server

    with tempfile.TemporaryDirectory() as tmp, start_moto_server() as moto:
        trees = {"old": _worktree(args.old, Path(tmp, "old")), "new": Path(tmp, "new")}
        _worktree(args.new, trees["new"])
        try:
            env = {**os.environ, **moto.env(), "OUTPUT_BUCKET": OUTPUT,
                   "POWERTOOLS_LOG_LEVEL": "WARNING", "SCORING_ENGINE": args.engine,
                   "SCORING_WORKERS": args.workers,
                   **dict(item.split("=", 1) for item in args.set)}  # fmt: skip
            s3 = boto3.session.Session(**_credentials(env)).client("s3", endpoint_url=moto.url)
            for bucket in (INPUT, OUTPUT):
                s3.create_bucket(Bucket=bucket)
            corpus = Path(tmp, "corpus-x.csv")
            rows = make_corpus_copies(corpus, args.copies)
            s3.upload_file(str(corpus), INPUT, KEY)
            print(
                f"{args.old} (old) vs {args.new} (new): corpus x{args.copies}, {rows:,} rows, "
                f"engine {args.engine}, workers {args.workers}, {args.rounds} rounds each"
            )
            rates: dict[str, list[float]] = {"old": [], "new": []}
            for i in range(args.rounds):
                for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    # Any earlier report would make the next run a duplicate delivery.
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=OUTPUT):
                        for obj in page.get("Contents", []):
                            s3.delete_object(Bucket=OUTPUT, Key=obj["Key"])
                    rates[name].append(_run(trees[name], env))
                    print(f"  round {i + 1} {name}: {rates[name][-1]:>10,.0f} rows/s")
            old, new = (statistics.median(rates[n]) for n in ("old", "new"))
            print(f"median rows/s: old {old:,.0f}, new {new:,.0f}; new/old = {new / old:.3f}")
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(tree)], check=False)  # fmt: skip


if __name__ == "__main__":
    main()
