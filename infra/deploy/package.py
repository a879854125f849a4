"""Zip `functions/sentiment/` deterministically: same sources, same bytes, same sha256.

Sorted entries, a fixed timestamp and fixed permissions, so an unchanged function uploads
nothing and changes nothing; only .py files (no caches), so the zip holds only our code.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.deploy.errors import DeployError

MAX_BYTES = 64 * 1024
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


def build(function_dir: Path, out: Path) -> Artifact:
    files = sources(function_dir)
    if not (function_dir / "handler.py").is_file():
        raise DeployError(
            f"{function_dir}/handler.py is missing; the function's handler is "
            "handler.lambda_handler",
            "restore functions/sentiment/handler.py",
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
            "dependencies belong in layers/<name>/, not in functions/sentiment/",
        )
    return Artifact(out, hashlib.sha256(data).hexdigest(), len(data))
