"""Deterministic zips: same tree, same bytes, whatever the files' times and modes."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from infra.layerbuild.archive import FIXED_TIME, sha256_file, write_zip


def make_tree(root: Path, mtime: int, mode: int, order: list[str]) -> Path:
    for name in order:
        path = root / "python" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
        path.chmod(mode)
        os.utime(path, (mtime, mtime))
    return root


def test_same_tree_gives_identical_zip_bytes(tmp_path):
    names = ["b/mod.py", "a/__init__.py", "a/z.so", "c.py"]
    one = make_tree(tmp_path / "one", 1_700_000_000, 0o600, names)
    two = make_tree(tmp_path / "two", 1_800_000_000, 0o755, list(reversed(names)))
    write_zip(one, tmp_path / "one.zip")
    write_zip(two, tmp_path / "two.zip")
    assert sha256_file(tmp_path / "one.zip") == sha256_file(tmp_path / "two.zip")


def test_entries_are_sorted_with_fixed_time_and_modes(tmp_path):
    root = make_tree(tmp_path / "t", 1_700_000_000, 0o700, ["b.py", "a/x.py"])
    zipped, unzipped = write_zip(root, tmp_path / "t.zip")
    with zipfile.ZipFile(tmp_path / "t.zip") as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) == ["python/", "python/a/", "python/a/x.py", "python/b.py"]
    assert {i.date_time for i in infos} == {FIXED_TIME}
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {
        "python/": 0o755,
        "python/a/": 0o755,
        "python/a/x.py": 0o644,
        "python/b.py": 0o644,
    }
    assert unzipped == sum(i.file_size for i in infos)
    assert zipped == (tmp_path / "t.zip").stat().st_size
    assert not (tmp_path / "t.zip.tmp").exists()
