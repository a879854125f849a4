"""An emulation of Lambda's /var/runtime: what the managed Python runtime ships next to the
interpreter (boto3 and its dependencies, awslambdaric), pinned in lambda-runtime.txt.

Used by the import smoke test (layers first on sys.path, this last) and by the local Lambda
service (infra/local), so keep `ensure_runtime(runtime, arch) -> Path` stable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.layerbuild.config import BUILD_DIR, make_target
from infra.layerbuild.environment import ca_bundle, hermetic_env, pip_cache_dir, pip_common_options
from infra.layerbuild.errors import LayerBuildError
from infra.layerbuild.tags import pip_target_options

PINS = Path(__file__).with_name("lambda-runtime.txt")
STAMP = ".layerbuild-runtime"


def ensure_runtime(runtime: str, arch: str, *, build_dir: Path | None = None) -> Path:
    """The folder emulating /var/runtime for (runtime, arch), installed once and cached under
    build/runtime/<runtime>-<arch>/ (reinstalled when lambda-runtime.txt changes).

    Safe to call from several processes at once: each installs into a private folder and the
    first to finish renames it into place."""
    target = make_target(runtime, arch)
    root = (build_dir or BUILD_DIR) / "runtime"
    final = root / target.label
    fingerprint = hashlib.sha256(PINS.read_bytes() + target.label.encode()).hexdigest()
    if _stamp(final) == fingerprint:
        return final
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.label}-", dir=root))
    try:
        bundle = ca_bundle()
        cmd = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile",
            "--target", str(staging), "-r", str(PINS),
            *pip_target_options(target),
            *pip_common_options(str(pip_cache_dir()), str(bundle[0]) if bundle else None),
        ]  # fmt: skip
        done = subprocess.run(cmd, env=hermetic_env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise LayerBuildError(
                f"cannot install the emulated Lambda runtime ({PINS.name}) for {target.label}:\n"
                + (done.stdout + done.stderr).strip()[-2000:]
            )
        shutil.rmtree(staging / "bin", ignore_errors=True)
        (staging / STAMP).write_text(fingerprint)
        if _stamp(final) == fingerprint:  # another process won the race
            return final
        if final.exists():
            stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=root))
            os.replace(final, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(staging, final)
        except OSError:
            if _stamp(final) != fingerprint:
                raise
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stamp(folder: Path) -> str | None:
    try:
        return (folder / STAMP).read_text().strip()
    except OSError:
        return None
