"""arm64, proven: the ARCH=arm64 RUNTIME=python3.13 layers imported and scoring on arm64.

The host is x86_64; Docker runs .ci/arm64-image's Debian trixie arm64 image (python3.13)
under qemu through binfmt. No arm64 CPython 3.12 exists here, so python3.12 on arm64 keeps
the ELF and wheel-tag checks (test_layer_build.py) and this proves python3.13.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

from infra.layerbuild.builders import select_builder
from infra.layerbuild.config import ROOT, make_target
from infra.layerbuild.pipeline import build

pytestmark = [pytest.mark.slow, pytest.mark.docker]
ARM64_IMAGE = os.environ.get("ARM64_TAG", "local/debian-trixie-arm64:python3.13")
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


def _binfmt_enabled() -> bool:
    try:
        return BINFMT.read_text().startswith("enabled")
    except OSError:
        return False


@pytest.fixture(scope="session")
def arm64_image(docker_client) -> str:
    """The arm64 image; built here when missing or stale (the script is idempotent)."""
    if platform.machine() != "aarch64" and not _binfmt_enabled():
        # .ci/run installs qemu-user-static and binfmt-support and enables the handler (it
        # stops if it cannot), so CI always runs this test.
        pytest.skip(
            "the qemu-aarch64 binfmt handler is not enabled here (as root: mount -t binfmt_misc "
            "binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64)"
        )
    script = ROOT / ".ci" / "arm64-image"
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"{script} failed (binfmt for qemu-aarch64 enabled?):\n{done.stderr[-1500:]}")
    return ARM64_IMAGE


def test_python313_arm64_layers_import_and_score_on_arm64_under_qemu(
    arm64_image, tmp_path, monkeypatch
):
    monkeypatch.setenv("LAYER_SMOKE_IMAGE", arm64_image)
    lines: list[str] = []
    target = make_target("python3.13", "arm64")
    report = build(None, "python3.13", "arm64", build_dir=tmp_path,
                   builder=select_builder(target, mode="pip"), out=lines.append)  # fmt: skip

    smoke = report.smoke
    assert smoke is not None, "\n".join(lines)
    assert smoke["machine"] == "aarch64"  # really ran on (emulated) arm64
    assert smoke["python"].startswith("3.13.")
    # Every layer imported, and each layer's smoke snippet ran: VADER scored a sentence,
    # pandas parsed a CSV, Powertools built its Logger and Metrics.
    assert {"vaderSentiment", "pandas", "numpy", "aws_lambda_powertools"} <= set(smoke["imported"])
    assert smoke["bytecode_used"] is True  # the shipped 3.13 bytecode, not recompiled
    assert smoke["botocore_from"].startswith(str(tmp_path / "runtime"))
    assert any(f"on aarch64 in {arm64_image}" in line for line in lines)
