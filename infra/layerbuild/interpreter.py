"""Find a CPython on this machine for a target runtime: the layer builder compiles bytecode and
runs its smoke test with it, and the local Lambda service runs functions with it.

The version must match the runtime's major.minor, because bytecode is only valid for the
interpreter version that wrote it and a smoke test on another version proves nothing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.layerbuild.config import Target


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # e.g. "3.12.1"


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
