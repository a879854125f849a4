"""Fixtures for the deployer tests: the shared moto server as the AWS endpoint, a build dir
with fake layers, and an editable copy of the function package."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from infra.deploy.aws import Aws, connect
from infra.deploy.config import Config
from tests.deploy import deploy_fakes as fakes

_ids = itertools.count(1)


@pytest.fixture
def aws(moto_server, monkeypatch) -> Aws:
    """Clients for the local endpoint, made the way `make deploy` makes them (local mode)."""
    for key, value in moto_server.deployer_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return connect()


@pytest.fixture
def workspace(tmp_path) -> dict[str, Path]:
    build = tmp_path / "build"
    fakes.write_layers(build)
    return {"build": build, "function": fakes.copy_function(tmp_path)}


@pytest.fixture
def make_config(workspace):
    """Config as `make deploy` reads it, with a stack name unique to the test."""
    stack = f"t{next(_ids)}-{Path(workspace['build']).parent.name[-6:].lower()}"
    stack = "".join(c if c.isalnum() or c == "-" else "-" for c in stack)[:24]

    def make(**env: str) -> Config:
        base = {
            "STACK": stack,
            "BUILD_DIR": str(workspace["build"]),
            "FUNCTION_DIR": str(workspace["function"]),
            "DEPLOY_POLL_SECONDS": "0.01",
        }
        return Config.from_env(base | env)

    return make


class Log(list):
    """Collects what the deployer prints."""

    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture
def log() -> Log:
    return Log()
