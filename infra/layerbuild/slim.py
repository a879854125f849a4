"""Remove what a layer never needs at run time, and nothing it does.

Dropped: test suites, type stubs, caches and stale bytecode (we compile our own), docs,
console scripts (their shebangs point at the build machine), and the dist-info files that
record the build machine (RECORD, INSTALLER, direct_url.json, REQUESTED). Kept on purpose:
every `.py` (vaderSentiment reads its lexicon next to its source; tracebacks need sources),
data files, `*.libs` folders (numpy.libs holds the OpenBLAS numpy links against: removing or
`strip`-ing it breaks `import numpy`), `testing` modules (public API, e.g. numpy.testing),
and the dist-info METADATA/WHEEL/entry points/licences that importlib.metadata reads.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

DROP_DIRS = {"tests", "test", "__pycache__", ".pytest_cache", "docs", "doc"}
DROP_SUFFIXES = {".pyc", ".pyo", ".pyi"}
DROP_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
TOP_LEVEL_DROP = {"bin"}  # console scripts installed by pip --target


@dataclass
class SlimReport:
    files: int = 0
    bytes: int = 0


def slim(site: Path) -> SlimReport:
    """Slim an installed tree in place (`site` is the layer's python/ folder)."""
    report = SlimReport()
    for name in TOP_LEVEL_DROP:
        _remove(site / name, report)
    for top in sorted(site.iterdir()):
        if top.name.endswith(".dist-info"):
            for name in DROP_DIST_INFO:
                _remove(top / name, report)
            continue
        if top.name.endswith(".libs"):
            continue  # vendored shared libraries: never touched
        if top.name.endswith("-stubs"):
            _remove(top, report)
            continue
        if top.is_file():
            if top.suffix in DROP_SUFFIXES:
                _remove(top, report)
            continue
        _slim_package(top, report)
    return report


def _slim_package(package: Path, report: SlimReport) -> None:
    # Walk top-down so a dropped folder is not descended into.
    stack = [package]
    while stack:
        folder = stack.pop()
        if folder.name == "__pycache__":
            _remove(folder, report)
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name in DROP_DIRS:
                    _remove(entry, report)
                else:
                    stack.append(entry)
            elif entry.suffix in DROP_SUFFIXES:
                _remove(entry, report)


def _remove(path: Path, report: SlimReport) -> None:
    if path.is_dir() and not path.is_symlink():
        for file in path.rglob("*"):
            if file.is_file():
                report.files += 1
                report.bytes += file.stat().st_size
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        report.files += 1
        report.bytes += path.lstat().st_size
        path.unlink()
