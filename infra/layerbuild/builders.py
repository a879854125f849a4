"""The two ways to install and compile a layer: in the Amazon Linux build container (Docker SDK)
or with pip on the host for the target platform. `select_builder` applies LAYER_BUILDER.

Both paths run the same pip options (tags from tags.py), so they choose the same wheels; the
container adds the target interpreter (bytecode) and Amazon Linux's userland.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from infra.layerbuild import bytecode
from infra.layerbuild.config import Target
from infra.layerbuild.environment import (
    ca_bundle,
    hermetic_env,
    pip_cache_dir,
    pip_common_options,
)
from infra.layerbuild.errors import BuilderUnavailable, ConfigError, LayerBuildError
from infra.layerbuild.interpreter import Interpreter, find_host_interpreter
from infra.layerbuild.tags import pip_target_options

MODES = ("auto", "docker", "pip")
DOCKER_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
CONTAINER_CA = "/etc/layerbuild/ca-bundle.crt"
CONTAINER_CACHE = "/var/cache/layerbuild-pip"
CONTAINER_LOCK = "/var/task/requirements.txt"
CONTAINER_ROOT = "/build"  # the layer folder (holds python/)
# The SAM build images' release, pinned: `latest-<arch>` moves under a rebuild, a version tag
# does not (and its image ID is recorded in the manifest). Bump it on purpose, then rebuild.
SAM_BUILD_IMAGE_VERSION = "1.142.1"


def default_image(target: Target) -> str:
    return f"public.ecr.aws/sam/build-{target.runtime}:{SAM_BUILD_IMAGE_VERSION}-{target.arch}"


def pip_install_args(lock: str, site: str, target: Target, cache: str, cert: str | None):
    """`pip install` arguments; the locks are complete and hashed, hence --no-deps."""
    return [
        "install",
        "--no-deps",
        "--require-hashes",
        "--no-compile",
        "--target",
        site,
        "-r",
        lock,
        *pip_target_options(target),
        *pip_common_options(cache, cert),
    ]


class Builder(Protocol):
    kind: str

    def identity(self) -> dict: ...  # what the output depends on: part of the input hash

    def describe(self) -> dict: ...  # the manifest's "builder" entry

    def install(self, lock: Path, layer_root: Path) -> None: ...

    def compile(self, layer_root: Path) -> bool: ...  # False: no bytecode shipped


class PipBuilder:
    """pip on the host with explicit target tags; bytecode from a matching host interpreter."""

    kind = "pip"

    def __init__(self, target: Target, interpreter: Interpreter | None):
        self.target = target
        self.interpreter = interpreter

    def identity(self) -> dict:
        return {"kind": self.kind, "python": self.interpreter and self.interpreter.version}

    def describe(self) -> dict:
        return {"kind": self.kind, "image": None, "image_id": None, **self.identity()}

    def install(self, lock: Path, layer_root: Path) -> None:
        bundle = ca_bundle()
        args = pip_install_args(
            str(lock),
            str(layer_root / "python"),
            self.target,
            str(pip_cache_dir()),
            str(bundle[0]) if bundle else None,
        )
        cmd = [sys.executable, "-m", "pip", *args]
        _run(cmd, "pip install")

    def compile(self, layer_root: Path) -> bool:
        if self.interpreter is None:
            return False
        _run(bytecode.compile_command(self.interpreter.path, str(layer_root)), "compileall")
        return True


class DockerBuilder:
    """Installs and compiles inside the build image through the docker SDK."""

    kind = "docker"

    def __init__(self, target: Target, client, image: str, image_obj):
        self.target = target
        self.client = client
        self.image = image
        self.image_id = image_obj.id
        self.digest = (image_obj.attrs.get("RepoDigests") or [None])[0]
        self._python: str | None = None

    def identity(self) -> dict:
        return {"kind": self.kind, "image_id": self.image_id}

    def describe(self) -> dict:
        if self._python is None:
            self._python = self._run(
                [self.python, "-c", "import platform; print(platform.python_version())"],
                {},
                "python --version",
            ).strip()
        # The tag asked for and the image ID it resolved to here (a digest only when the
        # image came from a registry: an imported stand-in has none).
        return {
            "kind": self.kind,
            "image": self.image,
            "image_id": self.image_id,
            "digest": self.digest,
            "python": self._python,
        }

    @property
    def python(self) -> str:
        return f"python{self.target.dotted}"

    def install(self, lock: Path, layer_root: Path) -> None:
        cache = pip_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        volumes = {
            str(layer_root): {"bind": CONTAINER_ROOT, "mode": "rw"},
            str(lock.resolve()): {"bind": CONTAINER_LOCK, "mode": "ro"},
            str(cache): {"bind": CONTAINER_CACHE, "mode": "rw"},
        }
        bundle = ca_bundle()
        if bundle:  # the corporate-proxy case: the container must trust the host's CAs
            volumes[str(bundle[0].resolve())] = {"bind": CONTAINER_CA, "mode": "ro"}
        args = pip_install_args(
            CONTAINER_LOCK,
            f"{CONTAINER_ROOT}/python",
            self.target,
            CONTAINER_CACHE,
            CONTAINER_CA if bundle else None,
        )
        self._run([self.python, "-m", "pip", *args], volumes, "pip install (container)")

    def compile(self, layer_root: Path) -> bool:
        volumes = {str(layer_root): {"bind": CONTAINER_ROOT, "mode": "rw"}}
        self._run(bytecode.compile_command(self.python, CONTAINER_ROOT), volumes, "compileall")
        return True

    def _run(self, command: list[str], volumes: dict, what: str) -> str:
        env = hermetic_env(HOME="/tmp")
        env.pop("PATH", None)  # the image's own PATH finds its Python
        container = self.client.containers.run(
            self.image,
            command,
            volumes=volumes,
            environment=env,
            user=f"{os.getuid()}:{os.getgid()}",
            working_dir="/tmp",
            detach=True,
        )
        try:
            status = container.wait()
            logs = container.logs(stdout=True, stderr=True).decode(errors="replace")
        finally:
            container.remove(force=True)
        if status.get("StatusCode") != 0:
            raise _failure(
                f"{what} failed in container {self.image} (exit {status.get('StatusCode')})", logs
            )
        return logs


def select_builder(
    target: Target,
    mode: str | None = None,
    image: str | None = None,
    warn: Callable[[str], None] = print,
) -> Builder:
    """Apply LAYER_BUILDER: auto (container when possible, else pip with one warning line),
    docker (container or a clear error), pip (always pip)."""
    mode = (mode if mode is not None else os.environ.get("LAYER_BUILDER", "auto")) or "auto"
    if mode not in MODES:
        raise ConfigError(f"LAYER_BUILDER={mode!r} is not one of {', '.join(MODES)}")
    image = image or os.environ.get("LAYER_BUILD_IMAGE") or default_image(target)
    if mode == "pip":
        return _pip_builder(target, warn)
    try:
        client, image_obj = _docker_image(target, image, _docker_timeout())
    except BuilderUnavailable as exc:
        if mode == "docker":
            raise BuilderUnavailable(
                f"LAYER_BUILDER=docker: {exc}. Fix: start Docker / pull the image, set "
                "LAYER_BUILD_IMAGE to a local image (.ci/standin-image builds one), or use "
                "LAYER_BUILDER=auto|pip"
            ) from None
        warn(f"warning: {exc}; falling back to the pip builder (no container)")
        return _pip_builder(target, warn)
    return DockerBuilder(target, client, image, image_obj)


def _pip_builder(target: Target, warn: Callable[[str], None]) -> PipBuilder:
    interpreter = find_host_interpreter(target)
    if interpreter is None:
        warn(
            f"warning: no Python {target.dotted} on this host (PATH, pyenv, LAYER_PYTHON): "
            "layers ship without bytecode, so cold starts will be slower "
            f"(install it, e.g. `pyenv install {target.dotted}`, or build with Docker)"
        )
    return PipBuilder(target, interpreter)


def _docker_timeout() -> int:
    """LAYER_DOCKER_TIMEOUT: seconds for Docker API calls (pulls and builds take minutes)."""
    value = os.environ.get("LAYER_DOCKER_TIMEOUT", "").strip() or "1800"
    if not value.isdigit() or not 10 <= int(value) <= 86400:
        raise ConfigError(
            f"LAYER_DOCKER_TIMEOUT={value!r} is invalid; expected an integer from 10 to 86400 "
            "(seconds for Docker API calls)"
        )
    return int(value)


def _docker_image(target: Target, image: str, timeout: int):
    """(client, image) when Docker is reachable and the image is present or pullable."""
    try:
        import docker
        from docker.errors import DockerException, ImageNotFound
    except ImportError:
        raise BuilderUnavailable("the docker Python SDK is not installed (make venv)") from None
    try:
        # A short timeout to decide, so an unreachable DOCKER_HOST cannot hang the build; the
        # client that pulls and builds gets a long one.
        docker.from_env(timeout=10).ping()
        client = docker.from_env(timeout=timeout)
    except DockerException as exc:
        raise BuilderUnavailable(f"Docker is not reachable ({_first_line(exc)})") from None
    try:
        image_obj = client.images.get(image)
    except ImageNotFound:
        try:
            repository, _, tag = (
                image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
            )
            image_obj = client.images.pull(repository, tag=tag or "latest")
        except DockerException as exc:
            raise BuilderUnavailable(
                f"build image {image} is neither present nor pullable ({_first_line(exc)})"
            ) from None
    except DockerException as exc:
        raise BuilderUnavailable(
            f"cannot inspect build image {image} ({_first_line(exc)})"
        ) from None
    architecture = image_obj.attrs.get("Architecture")
    if architecture and architecture != DOCKER_ARCH[target.arch]:
        raise BuilderUnavailable(
            f"build image {image} is for {architecture}, not {DOCKER_ARCH[target.arch]}"
        )
    return client, image_obj


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, env=hermetic_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise _failure(f"{what} failed (exit {done.returncode})", done.stdout + done.stderr)


def _failure(headline: str, output: str) -> LayerBuildError:
    hint = ""
    if "CERTIFICATE_VERIFY_FAILED" in output:
        hint = (
            "\n  TLS verification failed: behind a TLS-intercepting proxy, point "
            "LAYER_BUILD_CA_BUNDLE at a CA bundle that includes the proxy's CA "
            "(e.g. /etc/ssl/certs/ca-certificates.crt); see docs/layers.md"
        )
    return LayerBuildError(f"{headline}:\n{_tail(output)}{hint}")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
