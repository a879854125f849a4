"""Wheel selection for the target runtime: every manylinux tag 2_17..2_34, newest first."""

from __future__ import annotations

import pytest

from infra.layerbuild.config import make_target
from infra.layerbuild.tags import pip_target_options, platform_tags, wheel_tag_fits

X86 = make_target("python3.12", "x86_64")
ARM = make_target("python3.13", "arm64")


def test_platform_tags_cover_glibc_2_17_to_2_34_best_first():
    tags = platform_tags(X86)
    assert tags[0] == "manylinux_2_34_x86_64"
    assert tags[-2:] == ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    assert [f"manylinux_2_{m}_x86_64" for m in range(34, 16, -1)] == tags[:-1]
    assert "manylinux_2_35_x86_64" not in tags  # newer than Amazon Linux 2023's glibc


def test_arm64_uses_aarch64_tags_only():
    assert all(tag.endswith("_aarch64") for tag in platform_tags(ARM))


def test_pip_options_pin_implementation_version_abi_and_binary_only():
    options = pip_target_options(ARM)
    assert options[:7] == [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        "3.13",
        "--abi",
        "cp313",
    ]
    platforms = [options[i + 1] for i, o in enumerate(options) if o == "--platform"]
    assert platforms == platform_tags(ARM)


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("cp312-cp312-manylinux_2_27_x86_64", True),
        ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("cp39-abi3-manylinux_2_28_x86_64", True),
        ("cp312-cp312-manylinux_2_35_x86_64", False),  # glibc too new
        ("cp312-cp312-manylinux_2_28_aarch64", False),  # wrong machine
        ("cp313-cp313-manylinux_2_28_x86_64", False),  # wrong Python
        ("cp312-cp312-musllinux_1_2_x86_64", False),
        ("cp312-cp312-macosx_11_0_arm64", False),
        ("cp314-abi3-manylinux_2_28_x86_64", False),  # stable ABI newer than the runtime
        ("garbage", False),
    ],
)
def test_wheel_tag_fits_python312_x86_64(tag, fits):
    assert wheel_tag_fits(tag, X86) is fits
