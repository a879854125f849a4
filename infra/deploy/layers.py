"""The built layers, as `make layers` describes them in build/layers/manifest.json."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from infra import layerdescription
from infra.deploy.errors import DeployError

_RUN_LAYERS = "run `make layers` (same RUNTIME and ARCH), then deploy again"
MAX_DESCRIPTION = 256  # Lambda's limit for a layer version's description
MAX_PACKAGES = 150  # layer.yaml's Packages parameter (MaxLength)


@dataclass(frozen=True)
class BuiltLayer:
    name: str
    position: int
    zip_path: Path
    sha256: str
    packages: dict[str, str]
    unzipped_bytes: int = 0
    functions: tuple[str, ...] = ("*",)  # layer.toml `functions`: who attaches it ("*": all)

    def used_by(self, function: str) -> bool:
        return "*" in self.functions or function in self.functions

    @property
    def key(self) -> str:
        """Content-addressed artifact key: a changed zip gets a new key, an unchanged one not."""
        return f"layers/{self.name}/{self.sha256}.zip"

    def describe_packages(self) -> str:
        """The Packages parameter: cut (marked "...") so that the description layer.yaml
        builds from it (layerdescription) fits in 256 characters whatever the layer's name;
        the content key must stay whole (it maps a version to its zip)."""
        text = ", ".join(f"{k}=={v}" for k, v in sorted(self.packages.items()))
        room = min(MAX_PACKAGES, MAX_DESCRIPTION - len(layerdescription.describe("", self.key)))
        return text if len(text) <= room else text[: max(room - 3, 0)] + "..."


def select(layers_dir: Path, runtime: str, arch: str) -> list[BuiltLayer]:
    """The manifest's layers for this runtime and architecture, in load order (`position`)."""
    manifest = layers_dir / "manifest.json"
    if not manifest.is_file():
        raise DeployError(f"no built layers: {manifest} does not exist", _RUN_LAYERS)
    try:
        doc = json.loads(manifest.read_text())
        entries = doc["layers"]
        if doc.get("schema_version") != 1:
            raise DeployError(
                f"{manifest} has schema_version {doc.get('schema_version')!r}; this deployer "
                "reads version 1",
                _RUN_LAYERS,
            )
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"{manifest} is not a layer manifest ({exc})", _RUN_LAYERS) from exc
    chosen = [e for e in entries if e.get("runtime") == runtime and e.get("arch") == arch]
    if not chosen:
        built = sorted({f"{e.get('runtime')}/{e.get('arch')}" for e in entries}) or ["nothing"]
        raise DeployError(
            f"no layers built for {runtime}/{arch} in {manifest} (built: {', '.join(built)})",
            _RUN_LAYERS,
        )
    names = [e["name"] for e in chosen]
    if len(set(names)) != len(names):
        raise DeployError(f"{manifest} lists a layer twice for {runtime}/{arch}: {names}")
    result = []
    for e in sorted(chosen, key=lambda e: (e["position"], e["name"])):
        path = layers_dir / e["zip"]
        if not path.is_file():
            raise DeployError(f"layer zip {path} is missing", _RUN_LAYERS)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != e["sha256"]:
            raise DeployError(
                f"{path} does not match the manifest (sha256 {digest[:12]}…, manifest "
                f"{str(e['sha256'])[:12]}…): the build is stale or was interrupted",
                _RUN_LAYERS,
            )
        packages = {str(k): str(v) for k, v in (e.get("packages") or {}).items()}
        unzipped = int(e.get("unzipped_bytes") or 0)
        users = tuple(str(f) for f in e.get("functions") or ("*",))
        result.append(
            BuiltLayer(e["name"], int(e["position"]), path, digest, packages, unzipped, users)
        )
    return result


def for_function(built: list[BuiltLayer], function: str) -> list[BuiltLayer]:
    """The layers one function attaches, in load order."""
    return [layer for layer in built if layer.used_by(function)]
