"""Which wheels fit a Lambda runtime: the pip platform options and the check of built tags.

`--platform manylinux2014_x86_64` alone makes pip pick the newest release that still ships a
glibc 2.17 wheel, which for numpy/pandas means silently old versions. Listing every manylinux
tag from 2_17 up to the runtime's glibc lets pip choose current wheels, and never one that
needs a newer glibc than Amazon Linux 2023 has.
"""

from __future__ import annotations

from infra.layerbuild.config import GLIBC, Target

FIRST_MANYLINUX_MINOR = 17  # manylinux2014 == manylinux_2_17


def platform_tags(target: Target) -> list[str]:
    """Best first, as pip ranks them: manylinux_2_34 ... manylinux_2_17, then the legacy alias."""
    major, newest = GLIBC
    tags = [
        f"manylinux_{major}_{minor}_{target.machine}"
        for minor in range(newest, FIRST_MANYLINUX_MINOR - 1, -1)
    ]
    return [*tags, f"manylinux2014_{target.machine}"]


def pip_target_options(target: Target) -> list[str]:
    """pip options that select wheels for the target instead of the interpreter running pip."""
    options = [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.dotted,
        "--abi",
        f"cp{target.nodot}",
    ]
    for tag in platform_tags(target):
        options += ["--platform", tag]
    return options


def wheel_tag_fits(tag: str, target: Target) -> bool:
    """True when a wheel tag (from a dist-info WHEEL file, e.g. `cp312-cp312-manylinux_2_28_x86_64`
    or a compressed `py2.py3-none-any`) has at least one expansion the target runtime accepts."""
    try:
        interps, abis, plats = (part.split(".") for part in tag.split("-"))
    except ValueError:
        return False
    return any(
        _interp_ok(i, a, target) and _abi_ok(a, i, target) and _platform_ok(p, target)
        for i in interps
        for a in abis
        for p in plats
    )


def _interp_ok(interp: str, abi: str, target: Target) -> bool:
    major, minor = target.version
    if interp in (f"py{major}", f"py{major}{minor}", f"cp{major}{minor}"):
        return True
    if abi == "abi3" and interp.startswith(f"cp{major}"):  # stable ABI: built for <= target
        return interp[2:].isdigit() and int(interp[3:] or 0) <= minor
    return False


def _abi_ok(abi: str, interp: str, target: Target) -> bool:
    return abi in ("none", "abi3", f"cp{target.nodot}")


def _platform_ok(plat: str, target: Target) -> bool:
    return plat == "any" or plat in platform_tags(target)
