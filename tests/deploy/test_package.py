"""The function zip: deterministic, small, only our code."""

from __future__ import annotations

import zipfile

import pytest

from infra.deploy import package
from infra.deploy.errors import DeployError
from tests.paths import FUNCTION_DIR


def test_real_function_zip_is_small_and_holds_only_our_python(tmp_path):
    art = package.build(FUNCTION_DIR, tmp_path / "function.zip")
    assert art.size <= package.MAX_BYTES
    names = zipfile.ZipFile(art.path).namelist()
    expected = sorted(
        p.relative_to(FUNCTION_DIR).as_posix()
        for p in FUNCTION_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert names == expected
    assert "handler.py" in names
    assert "csv_sentiment/settings.py" in names


def test_same_sources_give_the_same_bytes(workspace, tmp_path):
    a = package.build(workspace["function"], tmp_path / "a" / "function.zip")
    (workspace["function"] / "handler.py").touch()  # a new mtime must not matter
    b = package.build(workspace["function"], tmp_path / "b" / "function.zip")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.sha256 == b.sha256


def test_entries_are_sorted_with_fixed_time_and_permissions(workspace, tmp_path):
    art = package.build(workspace["function"], tmp_path / "function.zip")
    infos = zipfile.ZipFile(art.path).infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}


def test_caches_and_non_python_files_are_left_out(workspace, tmp_path):
    cache = workspace["function"] / "csv_sentiment" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "settings.cpython-312.pyc").write_bytes(b"\0" * 100)
    (workspace["function"] / "notes.txt").write_text("not code")
    (workspace["function"] / "stray.pyc").write_bytes(b"\0")
    names = zipfile.ZipFile(
        package.build(workspace["function"], tmp_path / "f.zip").path
    ).namelist()
    assert not [n for n in names if "__pycache__" in n or not n.endswith(".py")]


def test_a_code_change_changes_the_hash(workspace, tmp_path):
    before = package.build(workspace["function"], tmp_path / "function.zip").sha256
    with open(workspace["function"] / "handler.py", "a") as f:
        f.write("\n# changed\n")
    assert package.build(workspace["function"], tmp_path / "function.zip").sha256 != before


def test_a_zip_over_64_kib_is_refused_with_the_reason(workspace, tmp_path):
    import os

    (workspace["function"] / "vendored.py").write_text(f"BLOB = {os.urandom(80_000).hex()!r}\n")
    with pytest.raises(DeployError, match="64") as exc:
        package.build(workspace["function"], tmp_path / "function.zip")
    assert "layers" in exc.value.next_step


def test_a_missing_handler_is_named(workspace, tmp_path):
    (workspace["function"] / "handler.py").unlink()
    with pytest.raises(DeployError, match=r"handler\.py"):
        package.build(workspace["function"], tmp_path / "function.zip")


def test_every_function_folder_gets_its_own_zip(workspace, tmp_path):
    arts = package.build_all(workspace["function"].parent, tmp_path / "functions")
    assert sorted(arts) == ["insights", "sentiment"]
    with zipfile.ZipFile(arts["insights"].path) as zf:
        names = zf.namelist()
    assert "insights_handler.py" in names and "csv_insights/publish.py" in names
    assert not any(n.startswith("csv_sentiment/") or n == "handler.py" for n in names)


def test_a_folder_with_two_handler_modules_is_refused(workspace, tmp_path):
    (workspace["function"] / "other_handler.py").write_text("def lambda_handler(e, c): pass\n")
    with pytest.raises(DeployError, match="2 top-level"):
        package.build(workspace["function"], tmp_path / "function.zip")
