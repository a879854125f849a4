"""Zip every `functions/<name>/` into `build/functions/<name>.zip` deterministically: same
sources, same bytes, same sha256.

Sorted entries, a fixed timestamp and fixed permissions, so an unchanged function uploads
nothing and changes nothing; only .py files (no caches), so the zip holds only our code. A
function folder holds one top-level `*handler.py` module: the template's `Handler` names it
(a test checks), and distinct names keep the functions' modules apart when both are imported.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.deploy.errors import DeployError

# A function zip holds our code only; dependencies go to layers. The scoring function grew to
# ~70 KB zipped with the fan-out, backfill, analytics and report-summary modules; the budget
# keeps a third of headroom so a vendored dependency (hundreds of KB) still trips it.
MAX_BYTES = 96 * 1024
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_MODE = 0o100644 << 16  # regular file, rw-r--r--


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size: int


def sources(function_dir: Path) -> list[Path]:
    """The files that ship: every .py under the folder, caches excluded, sorted."""
    files = [
        p
        for p in function_dir.rglob("*.py")
        if p.is_file() and "__pycache__" not in p.relative_to(function_dir).parts
    ]
    return sorted(files, key=lambda p: p.relative_to(function_dir).as_posix())


def functions(root: Path) -> list[Path]:
    """Every function folder under `root` (one with a *handler.py), sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*handler.py")))


def build_all(root: Path, out_dir: Path) -> dict[str, Artifact]:
    """`build/functions/<name>.zip` for every function folder."""
    found = functions(root) if root.is_dir() else []
    if not found:
        raise DeployError(f"no function folders under {root}", "restore functions/<name>/")
    return {d.name: build(d, out_dir / f"{d.name}.zip") for d in found}


def build(function_dir: Path, out: Path) -> Artifact:
    files = sources(function_dir)
    handlers = sorted(p.name for p in function_dir.glob("*handler.py"))
    if len(handlers) != 1:
        raise DeployError(
            f"{function_dir} holds {len(handlers)} top-level *handler.py modules "
            f"({', '.join(handlers) or 'none'}); expected exactly one, the function's handler",
            f"restore {function_dir.name}/'s handler module (the template's Handler names it)",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(function_dir).as_posix(), _EPOCH)
            info.external_attr = _MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permissions above are honoured
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    data = out.read_bytes()
    if len(data) > MAX_BYTES:
        raise DeployError(
            f"{out} is {len(data)} bytes, over the {MAX_BYTES}-byte budget for our own code",
            f"dependencies belong in layers/<name>/, not in functions/{function_dir.name}/",
        )
    return Artifact(out, hashlib.sha256(data).hexdigest(), len(data))
