"""Bytecode compiled by the target Python, so cold starts do not compile (Lambda's /opt is
read-only: without shipped .pyc every cold start compiles every imported module again).

`unchecked-hash` .pyc files are used without comparing the source's mtime: the zip fixes all
timestamps to 1980, so timestamp-based .pyc would be stale on arrival and ignored. The source
paths recorded in the code objects are rewritten to /opt/python/... (what Lambda sees), which
also keeps them independent of the build folder, so the bytes are reproducible.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.layerbuild.config import Target
from infra.layerbuild.environment import hermetic_env

LAMBDA_OPT = "/opt"


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # e.g. "3.12.1"


def compile_command(python: str, layer_root: str) -> list[str]:
    """compileall for the layer folder `layer_root` (which holds python/)."""
    return [
        python,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        layer_root,
        "-p",
        LAMBDA_OPT,
        f"{layer_root}/python",
    ]


def find_host_interpreter(target: Target) -> Interpreter | None:
    """A CPython on this machine with the target's major.minor (PATH, then pyenv), or None.

    LAYER_PYTHON overrides the search (its version must still match)."""
    candidates = []
    if os.environ.get("LAYER_PYTHON"):
        candidates.append(os.environ["LAYER_PYTHON"])
    candidates.append(shutil.which(f"python{target.dotted}") or "")
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(glob.glob(f"{pyenv}/{target.dotted}.*/bin/python{target.dotted}"))[::-1]
    for candidate in filter(None, candidates):
        version = _version_of(candidate)
        if version and version.startswith(target.dotted + "."):
            return Interpreter(candidate, version)
    return None


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run(
            [
                python,
                "-I",
                "-c",
                "import platform, sys; "
                "print(platform.python_version() if sys.implementation.name == 'cpython' else '')",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def compile_on_host(interpreter: Interpreter, layer_root: Path) -> None:
    subprocess.run(
        compile_command(interpreter.path, str(layer_root)),
        env=hermetic_env(),
        check=True,
        capture_output=True,
        text=True,
    )


def count_bytecode(site: Path) -> int:
    return sum(1 for _ in site.rglob("*.pyc"))
