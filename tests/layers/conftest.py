"""Fixtures for the layer builder tests: small hand-written layer folders, and real builds
shared across the session (pip path for all layers, arm64 and the container path for the
small ones) so the slow work happens once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from infra.layerbuild.config import LAYERS_DIR, ROOT
from infra.layerbuild.pipeline import build

STANDIN_IMAGE = os.environ.get("LAYER_TEST_IMAGE", "local/sam-build-python3.12:latest-x86_64")
VADER_LOCK = (LAYERS_DIR / "vader" / "requirements.txt").read_text()
VADER_OMIT = 'omit = [{ name = "requests", reason = "only for the demo" }]'


def write_layer(
    layers_dir: Path,
    name: str,
    lock: str | None = VADER_LOCK,
    *,
    position: int = 10,
    extra_toml: str = VADER_OMIT,
) -> Path:
    folder = layers_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layer.toml").write_text(
        f'position = {position}\ndescription = "test layer {name}"\n{extra_toml}\n'
    )
    if lock is not None:
        (folder / "requirements.txt").write_text(lock)
    return folder


@pytest.fixture
def make_layer():
    return write_layer


@pytest.fixture
def layers_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "layers"
    folder.mkdir()
    return folder


@pytest.fixture
def quiet():
    lines: list[str] = []
    return lines.append, lines


@pytest.fixture(scope="session")
def pip_build(tmp_path_factory):
    """All real layers for python3.12/x86_64 through the pip path, into a private build dir."""
    build_dir = tmp_path_factory.mktemp("pip-build")
    lines: list[str] = []
    report = build(
        None, "python3.12", "x86_64", build_dir=build_dir, builder=_pip(), out=lines.append
    )
    return build_dir, report, lines


@pytest.fixture(scope="session")
def docker_client():
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(
            f"Docker is not reachable ({str(exc).splitlines()[0][:120]}); the "
            "container path runs in CI, where .ci/run starts dockerd"
        )
    return client


@pytest.fixture(scope="session")
def standin_image(docker_client) -> str:
    """The CI stand-in build image; built here when missing (needs mmdebstrap and pyenv 3.12)."""
    import docker

    try:
        docker_client.images.get(STANDIN_IMAGE)
    except docker.errors.ImageNotFound:
        script = ROOT / ".ci" / "standin-image"
        done = subprocess.run([str(script)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(
                f"stand-in image {STANDIN_IMAGE} is missing and {script} failed:\n"
                f"{done.stderr[-1500:]}"
            )
    return STANDIN_IMAGE


def _pip():
    from infra.layerbuild.builders import PipBuilder
    from infra.layerbuild.config import make_target
    from infra.layerbuild.interpreter import find_host_interpreter

    return PipBuilder(
        make_target("python3.12", "x86_64"),
        find_host_interpreter(make_target("python3.12", "x86_64")),
    )
