"""LAYER_BUILDER modes, the one-line fallback, clear errors, hermetic pip and the container's
mounts (pip cache, CA bundle for TLS-intercepting proxies)."""

from __future__ import annotations

import os
import re

import pytest

from infra.layerbuild import builders
from infra.layerbuild.builders import (
    CONTAINER_CA,
    CONTAINER_CACHE,
    SAM_BUILD_IMAGE_VERSION,
    DockerBuilder,
    PipBuilder,
    default_image,
    select_builder,
)
from infra.layerbuild.config import make_target
from infra.layerbuild.environment import ca_bundle, hermetic_env
from infra.layerbuild.errors import BuilderUnavailable, ConfigError
from infra.layerbuild.interpreter import find_host_interpreter

X86 = make_target("python3.12", "x86_64")
NO_DOCKER = "unix:///nonexistent/docker.sock"


def test_default_image_is_the_sam_build_image_pinned_to_a_release_for_runtime_and_arch():
    image = default_image(make_target("python3.13", "arm64"))
    assert image == f"public.ecr.aws/sam/build-python3.13:{SAM_BUILD_IMAGE_VERSION}-arm64"
    assert re.fullmatch(r"\d+\.\d+\.\d+", SAM_BUILD_IMAGE_VERSION)  # a release, never latest


def test_pip_mode_never_touches_docker(monkeypatch, quiet):
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    warn, lines = quiet
    builder = select_builder(X86, mode="pip", warn=warn)
    assert isinstance(builder, PipBuilder) and lines == []


def test_auto_falls_back_to_pip_with_one_line_saying_why(monkeypatch, quiet):
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    warn, lines = quiet
    builder = select_builder(X86, mode="auto", warn=warn)
    assert isinstance(builder, PipBuilder)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("warning: Docker is not reachable (")
    assert lines[0].endswith("falling back to the pip builder (no container)")


def test_docker_mode_fails_clearly_when_docker_is_unreachable(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    with pytest.raises(BuilderUnavailable) as info:
        select_builder(X86, mode="docker")
    message = str(info.value)
    assert message.startswith("LAYER_BUILDER=docker: Docker is not reachable")
    assert "LAYER_BUILDER=auto|pip" in message


def test_unknown_mode_is_rejected():
    with pytest.raises(ConfigError, match=r"LAYER_BUILDER='podman' is not one of auto, docker"):
        select_builder(X86, mode="podman")


@pytest.mark.parametrize("value", ["half an hour", "0", "100000"])
def test_a_bad_docker_timeout_is_named_before_docker_is_tried(monkeypatch, value):
    monkeypatch.setenv("LAYER_DOCKER_TIMEOUT", value)
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    with pytest.raises(ConfigError, match=rf"^LAYER_DOCKER_TIMEOUT='{value}' is invalid"):
        select_builder(X86, mode="auto", warn=lambda _: None)


def test_without_a_matching_interpreter_pip_warns_about_cold_starts(monkeypatch, tmp_path, quiet):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.delenv("LAYER_PYTHON", raising=False)
    warn, lines = quiet
    builder = select_builder(make_target("python3.14", "x86_64"), mode="pip", warn=warn)
    assert builder.interpreter is None and builder.compile(tmp_path) is False
    assert lines == [
        "warning: no Python 3.14 on this host (PATH, pyenv, LAYER_PYTHON): layers ship without "
        "bytecode, so cold starts will be slower (install it, e.g. `pyenv install 3.14`, or "
        "build with Docker)"
    ]


def test_an_interpreter_of_another_version_is_not_used(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("LAYER_PYTHON", os.path.realpath(os.sys.executable))  # 3.12
    assert find_host_interpreter(make_target("python3.13", "x86_64")) is None
    assert find_host_interpreter(X86).version.startswith("3.12.")


def test_hermetic_env_shuts_out_host_pip_configuration(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    monkeypatch.setenv("PIP_CONSTRAINT", "/etc/constraints.txt")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    env = hermetic_env()
    assert env["PIP_CONFIG_FILE"] == os.devnull  # pip then reads no config file at all
    assert not {k for k in env if k.startswith("PIP_")} - {
        "PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT",
        "PIP_NO_WARN_SCRIPT_LOCATION",
    }  # fmt: skip
    assert env["HTTPS_PROXY"] == "http://proxy:3128"


def test_ca_bundle_prefers_layer_build_ca_bundle_and_rejects_a_missing_file(monkeypatch, tmp_path):
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("LAYER_BUILD_CA_BUNDLE", str(bundle))
    assert ca_bundle() == (bundle, "LAYER_BUILD_CA_BUNDLE")
    monkeypatch.setenv("LAYER_BUILD_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r"LAYER_BUILD_CA_BUNDLE=.*missing.pem is not a file"):
        ca_bundle()


def test_no_ca_bundle_when_none_is_configured(monkeypatch):
    for name in ("LAYER_BUILD_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert ca_bundle() is None


class FakeContainer:
    def __init__(self, calls):
        self.calls = calls

    def wait(self):
        return {"StatusCode": 0}

    def logs(self, **_):
        return b"3.12.1\n"

    def remove(self, force=False):
        self.calls.append("removed")


class FakeClient:
    """Records what the builder asks Docker to run."""

    def __init__(self):
        self.calls: list = []
        self.containers = self

    def run(self, image, command, **kwargs):
        self.calls.append((image, command, kwargs))
        return FakeContainer(self.calls)


class FakeImage:
    def __init__(self):
        self.id = "sha256:abc"
        self.attrs = {"RepoDigests": ["public.ecr.aws/sam/build-python3.12@sha256:def"]}


def test_container_install_mounts_the_pip_cache_and_the_ca_bundle(monkeypatch, tmp_path):
    bundle = tmp_path / "corp.pem"
    bundle.write_text("pem")
    monkeypatch.setenv("LAYER_BUILD_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("LAYER_PIP_CACHE", str(tmp_path / "cache"))
    lock = tmp_path / "requirements.txt"
    lock.write_text("")
    client = FakeClient()
    builder = DockerBuilder(X86, client, "img:tag", FakeImage())
    builder.install(lock, tmp_path / "root")
    image, command, kwargs = client.calls[0]
    assert image == "img:tag" and command[:4] == ["python3.12", "-m", "pip", "install"]
    volumes = kwargs["volumes"]
    assert volumes[str(bundle)] == {"bind": CONTAINER_CA, "mode": "ro"}
    assert volumes[str(tmp_path / "cache")] == {"bind": CONTAINER_CACHE, "mode": "rw"}
    assert command[command.index("--cert") + 1] == CONTAINER_CA
    assert "--require-hashes" in command and "--no-deps" in command
    assert "manylinux_2_34_x86_64" in command and "manylinux_2_35_x86_64" not in command
    assert kwargs["environment"]["PIP_CONFIG_FILE"] == os.devnull
    assert kwargs["user"] == f"{os.getuid()}:{os.getgid()}"
    assert client.calls[-1] == "removed"
    assert builder.describe() == {
        "kind": "docker",
        "image": "img:tag",  # the pinned tag asked for
        "image_id": "sha256:abc",  # what it resolved to on this machine
        "digest": "public.ecr.aws/sam/build-python3.12@sha256:def",
        "python": "3.12.1",
    }


def test_missing_image_with_docker_mode_names_the_fix(docker_client):
    image = "local/no-such-image:never"
    with pytest.raises(BuilderUnavailable) as info:
        select_builder(X86, mode="docker", image=image)
    message = str(info.value)
    assert f"build image {image} is neither present nor pullable" in message
    assert "LAYER_BUILD_IMAGE" in message and ".ci/standin-image" in message


def test_pip_builder_passes_no_cert_when_none_is_configured(monkeypatch):
    for name in ("LAYER_BUILD_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    args = builders.pip_install_args("r.txt", "site", X86, "cache", None)
    assert "--cert" not in args and args[args.index("--index-url") + 1].startswith("https://")


def test_a_missing_ca_bundle_stops_the_build_before_anything_runs(monkeypatch, tmp_path, capsys):
    from infra.layerbuild.__main__ import main

    monkeypatch.setenv("LAYER_BUILD_CA_BUNDLE", str(tmp_path / "corp.pem"))
    argv = ["build", "--runtime", "python3.12", "--arch", "x86_64", "--build-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "LAYER_BUILD_CA_BUNDLE=" in capsys.readouterr().err
    assert not (tmp_path / "layers" / "manifest.json").exists()
