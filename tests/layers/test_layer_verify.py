"""Checks on built trees and zips: machine types, pins and completeness, conflicts between
layers, and the runtime's boto3 requirements on what the layers ship."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.layerbuild.config import load_layers, make_target
from infra.layerbuild.errors import VerificationError
from infra.layerbuild.verify import (
    check_conflicts,
    check_elf_machines,
    check_layer_tree,
    check_runtime_compat,
    lambda_sys_path,
)

X86 = make_target("python3.12", "x86_64")
ARM = make_target("python3.12", "arm64")


def elf(machine: int) -> bytes:
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4] = 2  # 64-bit
    header[18:20] = machine.to_bytes(2, "little")
    return bytes(header)


def dist(site: Path, name: str, version: str, requires=(), tag="py3-none-any") -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {tag}\n")


def test_elf_check_flags_the_wrong_machine(tmp_path):
    (tmp_path / "good.so").write_bytes(elf(183))
    (tmp_path / "bad.so").write_bytes(elf(62))
    (tmp_path / "text.py").write_text("not an ELF")
    assert check_elf_machines(tmp_path.iterdir(), ARM) == [
        "bad.so is an ELF for x86_64, not aarch64"
    ]


def test_layer_tree_matches_the_lock_and_is_complete(tmp_path):
    (vader,) = load_layers(["vader"])
    dist(tmp_path, "vaderSentiment", "3.3.2", ["requests"])
    assert check_layer_tree(vader, tmp_path, X86) == {"vadersentiment": "3.3.2"}


def test_missing_dependency_that_is_not_omitted_fails(tmp_path):
    (vader,) = load_layers(["vader"])
    dist(
        tmp_path,
        "vaderSentiment",
        "3.3.2",
        ["requests", "numpy>=2; sys_platform == 'linux'", "pywin32; sys_platform == 'win32'"],
    )
    with pytest.raises(VerificationError, match=r"requires numpy>=2.*neither in the lock nor in"):
        check_layer_tree(vader, tmp_path, X86)


def test_shipping_botocore_or_a_wrong_platform_wheel_fails(tmp_path):
    (vader,) = load_layers(["vader"])
    dist(tmp_path, "vaderSentiment", "3.3.2", tag="cp312-cp312-manylinux_2_28_aarch64")
    (tmp_path / "botocore").mkdir()
    with pytest.raises(VerificationError) as info:
        check_layer_tree(vader, tmp_path, X86)
    assert "ships botocore, which the Lambda runtime provides" in str(info.value)
    assert "wheel tags ['cp312-cp312-manylinux_2_28_aarch64'] do not fit" in str(info.value)


def layer_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "")
    return path


def test_two_layers_shipping_the_same_package_fail(tmp_path):
    one = layer_zip(tmp_path / "one.zip", ["python/six.py", "python/six-1.17.0.dist-info/METADATA"])
    two = layer_zip(
        tmp_path / "two.zip",
        ["python/six.py", "python/six-1.16.0.dist-info/METADATA", "python/dateutil/__init__.py"],
    )
    with pytest.raises(VerificationError) as info:
        check_conflicts({"pandas": one, "extra": two})
    assert "six is shipped by both 'pandas' and 'extra'" in str(info.value)
    assert "six-1.16.0.dist-info is shipped by both" in str(info.value)


def test_distinct_layers_pass_the_conflict_check(tmp_path):
    one = layer_zip(tmp_path / "one.zip", ["python/numpy/__init__.py", "python/numpy.libs/x.so"])
    two = layer_zip(tmp_path / "two.zip", ["python/vaderSentiment/__init__.py"])
    check_conflicts({"pandas": one, "vader": two})


def test_a_dateutil_botocore_rejects_is_caught(tmp_path):
    dist(
        tmp_path,
        "botocore",
        "1.44.8",
        ["python-dateutil<3.0.0,>=2.1", "jmespath<2.0.0,>=0.7.1", "urllib3!=2.2.0,<3,>=1.25.4"],
    )
    packages = {"pandas": {"python-dateutil": "3.0.0", "numpy": "2.5.5"}}
    with pytest.raises(
        VerificationError,
        match=r"ships python-dateutil 3.0.0, but the runtime's "
        r"botocore requires python-dateutil<3",
    ):
        check_runtime_compat(packages, tmp_path, X86)
    packages["pandas"]["python-dateutil"] = "2.9.0.post0"
    assert check_runtime_compat(packages, tmp_path, X86) == [
        "python-dateutil 2.9.0.post0 (pandas) for botocore: <3.0.0,>=2.1"
    ]


def test_lambda_sys_path_order(tmp_path):
    paths = lambda_sys_path(tmp_path / "opt", tmp_path / "runtime", X86, tmp_path / "task")
    assert paths == [
        str(tmp_path / "task"),
        str(tmp_path / "opt/python"),
        str(tmp_path / "opt/python/lib/python3.12/site-packages"),
        str(tmp_path / "runtime"),
    ]
