"""The managed runtime's pieces: its Python, and /var/runtime (boto3, awslambdaric) compiled.

Lambda's runtime ships its packages with bytecode, and /var/task and /opt are read-only, so
nothing is compiled and cached at run time except what a zip lacks. Locally the instances run
with PYTHONDONTWRITEBYTECODE=1 (root can write anywhere, a read-only mode would not stop it),
so a layer that ships no bytecode is as slow here as on Lambda; the emulated /var/runtime from
the layer builder is hard-linked into our state and compiled once, as Lambda's is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class RuntimeUnavailable(RuntimeError):
    """The runtime's Python or packages cannot be found or installed."""


@dataclass(frozen=True)
class Runtime:
    name: str  # python3.12
    arch: str
    python: str  # interpreter path
    version: str  # e.g. 3.12.1
    packages: Path  # the emulated /var/runtime


def resolve(name: str, arch: str, state: Path) -> Runtime:
    from infra.layerbuild.config import make_target
    from infra.layerbuild.interpreter import find_host_interpreter
    from infra.layerbuild.runtime import ensure_runtime

    try:
        target = make_target(name, arch)
    except Exception as exc:  # the builder's ConfigError names the supported runtimes
        raise RuntimeUnavailable(str(exc)) from exc
    interpreter = find_host_interpreter(target)
    if interpreter is None:
        raise RuntimeUnavailable(
            f"no Python {target.dotted} on this machine for the {name} runtime "
            f"(install one, e.g. `pyenv install {target.dotted}`, or set LAYER_PYTHON)"
        )
    try:
        source = ensure_runtime(name, arch)
    except Exception as exc:
        raise RuntimeUnavailable(f"cannot install the emulated /var/runtime: {exc}") from exc
    return Runtime(
        name,
        arch,
        interpreter.path,
        interpreter.version,
        _compiled(source, interpreter.path, state),
    )


def _compiled(source: Path, python: str, state: Path) -> Path:
    stamp_src = (
        (source / ".layerbuild-runtime").read_text().strip()
        if (source / ".layerbuild-runtime").exists()
        else ""
    )
    final = state / "runtime" / source.name
    stamp = final / ".compiled"
    if stamp.exists() and stamp.read_text() == stamp_src + python:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".runtime-", dir=final.parent))
    try:
        tree = staging / "var-runtime"
        shutil.copytree(
            source, tree, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("__pycache__")
        )
        # The runtime's own interpreter writes the .pyc (its magic number must match).
        subprocess.run(
            [python, "-I", "-m", "compileall", "-q", "-j", "0", str(tree)],
            check=True,
            capture_output=True,
        )
        (tree / ".compiled").write_text(stamp_src + python)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tree, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
