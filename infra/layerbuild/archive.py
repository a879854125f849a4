"""Deterministic zips: the same tree gives the same bytes, so the same sha256 and no new layer
version on deploy. Entries are sorted, timestamps fixed (1980-01-01, the zip epoch), modes
fixed (0644 files, 0755 folders), no extra fields, one compression level."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
DIR_MODE = 0o755
COMPRESS_LEVEL = 6  # zlib default: level 9 costs seconds on numpy for ~1% smaller zips


def write_zip(root: Path, zip_path: Path) -> tuple[int, int]:
    """Zip everything under root (root's own name not included, so pass the folder that holds
    `python/`). Returns (zipped_bytes, unzipped_bytes). Written to a temporary name first so a
    failed build never leaves a half-written zip behind."""
    files: list[tuple[str, Path]] = []
    dirs: list[str] = []
    for folder, subdirs, names in os.walk(root):
        subdirs.sort()
        rel = Path(folder).relative_to(root).as_posix()
        if rel != ".":
            dirs.append(rel + "/")
        files += [
            ((Path(rel) / n).as_posix() if rel != "." else n, Path(folder) / n) for n in names
        ]
    entries = sorted([(d, None) for d in dirs] + files, key=lambda e: e[0])
    unzipped = 0
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.create_system = 3  # Unix, so external_attr carries the mode
            if path is None:
                info.external_attr = (stat.S_IFDIR | DIR_MODE) << 16 | 0x10
                archive.writestr(info, b"")
                continue
            if path.is_symlink():
                raise ValueError(f"symlink in layer tree: {path} (not reproducible in a zip)")
            data = path.read_bytes()
            unzipped += len(data)
            info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(
                info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            )
    os.replace(tmp, zip_path)
    return zip_path.stat().st_size, unzipped


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
