"""`lock`: re-pin layers/<name>/requirements.txt from requirements.in with hashes
(pip-compile), then drop the packages the layer declares under `omit`."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from infra.layerbuild.config import LAYERS_DIR, canonical, declared_layers
from infra.layerbuild.environment import ca_bundle, hermetic_env, index_url, pip_cache_dir
from infra.layerbuild.errors import ConfigError, LayerBuildError


def lock(names: list[str] | None, layers_dir: Path = LAYERS_DIR, out=print) -> None:
    declared = declared_layers(layers_dir)
    unknown = [n for n in names or [] if n not in declared]
    if unknown:
        # Not load_layers(): a new layer has no lock yet, and locking is how it gets one.
        raise ConfigError(
            f"unknown layer {unknown[0]!r}; declared layers: {', '.join(declared)} "
            f"(a layer is a folder {layers_dir.name}/<name>/ with layer.toml and requirements.in)"
        )
    for name in names or declared_layers(layers_dir):
        lock_layer(layers_dir / name, out)


def lock_layer(directory: Path, out: Callable[[str], None] = print) -> None:
    source = directory / "requirements.in"
    if not source.is_file():
        raise ConfigError(f"{source} is missing: list the layer's top-level requirements there")
    omitted = _omitted(directory)
    # Index, cache and CA go through the environment, not --pip-args, so the command that
    # pip-compile records in the lock's header stays free of machine-specific paths.
    settings = {"PIP_INDEX_URL": index_url(), "PIP_CACHE_DIR": str(pip_cache_dir())}
    bundle = ca_bundle()
    if bundle:
        settings["PIP_CERT"] = str(bundle[0])
    cmd = [
        sys.executable, "-m", "piptools", "compile", "--quiet", "--allow-unsafe",
        "--generate-hashes", "--no-emit-find-links", "--no-emit-index-url", "--strip-extras",
        "--output-file=requirements.txt", "requirements.in",
    ]  # fmt: skip
    done = subprocess.run(
        cmd, cwd=directory, env=hermetic_env(**settings), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise LayerBuildError(f"pip-compile failed for {directory.name}:\n{done.stderr[-2000:]}")
    lock_path = directory / "requirements.txt"
    lock_path.write_text(drop_omitted(lock_path.read_text(), omitted))
    out(f"[{directory.name}] locked -> {lock_path} (omitted: {', '.join(sorted(omitted)) or '-'})")


def drop_omitted(text: str, omitted: set[str]) -> str:
    """Remove the blocks (requirement line, its --hash continuation lines and `# via`
    comments) of omitted packages from a pip-compile output."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==", line)
        if match:
            skipping = canonical(match[1]) in omitted
        elif not line.startswith((" ", "\t")):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def _omitted(directory: Path) -> set[str]:
    import tomllib

    meta = tomllib.loads((directory / "layer.toml").read_text())
    return {canonical(item["name"]) for item in meta.get("omit", [])}
