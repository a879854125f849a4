"""The Runtime Interface Emulator binary, taken from the `aws-sam-cli` wheel on PyPI.

SAM CLI ships RIE inside its wheel (samcli/local/rapid/) to run functions in containers; we
run it directly. The wheel is downloaded once with pip, checked against a pinned hash, and only
the binary for the wanted architecture is kept, cached under .venv/ (survives `make clean`).
"""

from __future__ import annotations

import os
import platform
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAM_CLI_VERSION = "1.170.0"
SAM_CLI_SHA256 = "24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf"
CACHE = ROOT / ".venv" / "aws-lambda-rie" / SAM_CLI_VERSION
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class RieUnavailable(RuntimeError):
    """RIE cannot be obtained (no network, wrong host architecture)."""


def host_arch() -> str:
    return _MACHINES.get(platform.machine().lower(), platform.machine())


def ensure_rie(arch: str) -> Path:
    """Path of the RIE binary for `arch` (LOCAL_RIE overrides), downloading it once."""
    if os.environ.get("LOCAL_RIE"):
        return Path(os.environ["LOCAL_RIE"])
    if arch != host_arch():
        raise RieUnavailable(
            f"functions for {arch} cannot run on this {host_arch()} machine (no emulation); "
            f"build and deploy with ARCH={host_arch()}"
        )
    binary = CACHE / f"aws-lambda-rie-{arch}"
    if binary.is_file():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        reqs = Path(tmp) / "requirements.txt"
        reqs.write_text(f"aws-sam-cli=={SAM_CLI_VERSION} --hash=sha256:{SAM_CLI_SHA256}\n")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "-r",
            str(reqs),
            "-d",
            tmp,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("aws_sam_cli-*.whl"))
        if done.returncode != 0 or not wheels:
            raise RieUnavailable(
                f"cannot download aws-sam-cli=={SAM_CLI_VERSION} (it carries RIE): "
                + (done.stderr or done.stdout).strip()[-800:]
            )
        member = f"samcli/local/rapid/aws-lambda-rie-{arch}"
        with zipfile.ZipFile(wheels[0]) as wheel:
            staged = Path(tmp) / binary.name
            staged.write_bytes(wheel.read(member))
        staged.chmod(staged.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(staged, binary)
    return binary
