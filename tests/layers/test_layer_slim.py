"""Slimming drops tests, stubs, caches, docs and build-machine records; it keeps sources, data,
vendored shared libraries and the metadata importlib.metadata reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.layerbuild.slim import slim

TREE = {
    # dropped
    "bin/f2py": "#!/build/machine/python",
    "numpy/_core/tests/test_x.py": "",
    "numpy/__pycache__/__init__.cpython-311.pyc": "stale",
    "numpy/__init__.pyi": "stub",
    "pandas/tests/frame/test_y.py": "",
    "pkg/docs/index.rst": "",
    "pkg/test/test_z.py": "",
    "stray.pyc": "",
    "foo-stubs/__init__.pyi": "",
    "numpy-2.5.5.dist-info/RECORD": "numpy/__init__.py,sha256=...",
    "numpy-2.5.5.dist-info/INSTALLER": "pip",
    "numpy-2.5.5.dist-info/REQUESTED": "",
    "numpy-2.5.5.dist-info/direct_url.json": '{"url": "file:///home/someone"}',
    # kept
    "numpy/__init__.py": "",
    "numpy/testing/__init__.py": "",
    "numpy.libs/libscipy_openblas64_-ff651d7f.so": "\x7fELF",
    "numpy.libs/tests/keep.so": "vendored libraries are never touched",
    "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so": "\x7fELF",
    "vaderSentiment/vader_lexicon.txt": "good\t1.9",
    "vaderSentiment/vaderSentiment.py": "",
    "six.py": "",
    "numpy-2.5.5.dist-info/METADATA": "Name: numpy",
    "numpy-2.5.5.dist-info/WHEEL": "Tag: cp312-cp312-manylinux_2_28_x86_64",
    "numpy-2.5.5.dist-info/entry_points.txt": "",
    "numpy-2.5.5.dist-info/licenses/LICENSE.txt": "",
    "py.typed": "",
}
KEPT = set(TREE) - {
    "bin/f2py", "numpy/_core/tests/test_x.py", "numpy/__pycache__/__init__.cpython-311.pyc",
    "numpy/__init__.pyi", "pandas/tests/frame/test_y.py", "pkg/docs/index.rst",
    "pkg/test/test_z.py", "stray.pyc", "foo-stubs/__init__.pyi",
    "numpy-2.5.5.dist-info/RECORD", "numpy-2.5.5.dist-info/INSTALLER",
    "numpy-2.5.5.dist-info/REQUESTED", "numpy-2.5.5.dist-info/direct_url.json",
}  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for rel, text in TREE.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def files(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}


def test_slim_keeps_exactly_what_runs(site):
    report = slim(site)
    assert files(site) == KEPT
    assert report.files == len(TREE) - len(KEPT)


def test_slim_never_touches_numpy_libs(site):
    before = {p: p.read_bytes() for p in (site / "numpy.libs").rglob("*") if p.is_file()}
    slim(site)
    assert {p: p.read_bytes() for p in (site / "numpy.libs").rglob("*") if p.is_file()} == before


def test_slim_is_idempotent(site):
    slim(site)
    assert slim(site).files == 0
