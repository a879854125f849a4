"""What to build: the target (runtime, arch) and the layers declared under layers/<name>/.

A layer is a folder holding `layer.toml` (position, description, deliberately omitted
dependencies) and `requirements.txt` (complete, pinned with ==, hashed). Adding a layer means
adding a folder; nothing here names a layer.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from infra.choices import ARCHES, MAX_LAYERS, RUNTIMES
from infra.layerbuild.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LAYERS_DIR = ROOT / "layers"
BUILD_DIR = ROOT / "build"

GLIBC = (2, 34)  # of Amazon Linux 2023, under every runtime in infra/choices.py


@dataclass(frozen=True)
class Target:
    runtime: str
    arch: str

    @property
    def version(self) -> tuple[int, int]:
        return RUNTIMES[self.runtime]

    @property
    def dotted(self) -> str:
        return "{}.{}".format(*self.version)

    @property
    def nodot(self) -> str:
        return "{}{}".format(*self.version)

    @property
    def machine(self) -> str:
        return ARCHES[self.arch]

    @property
    def label(self) -> str:
        return f"{self.runtime}-{self.arch}"


def make_target(runtime: str, arch: str) -> Target:
    if runtime not in RUNTIMES:
        raise ConfigError(
            f"unsupported runtime {runtime!r}; supported: {', '.join(RUNTIMES)} "
            "(set RUNTIME=..., e.g. `make layers RUNTIME=python3.13`)"
        )
    if arch not in ARCHES:
        raise ConfigError(
            f"unsupported arch {arch!r}; supported: {', '.join(ARCHES)} "
            "(set ARCH=..., e.g. `ARCH=arm64 make layers`)"
        )
    return Target(runtime, arch)


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503) name
    version: str
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Omit:
    name: str
    reason: str


@dataclass(frozen=True)
class Layer:
    name: str
    directory: Path
    position: int
    description: str
    omit: tuple[Omit, ...]
    pins: tuple[Pin, ...]
    smoke: str  # extra Python run by the import smoke test ("" for none)
    inputs_sha256: str  # over layer.toml and requirements.txt: part of the input hash
    functions: tuple[str, ...] = ("*",)  # the functions that attach it ("*": every function)

    @property
    def lock(self) -> Path:
        return self.directory / "requirements.txt"

    @property
    def omitted(self) -> frozenset[str]:
        return frozenset(o.name for o in self.omit)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_layers(layers_dir: Path = LAYERS_DIR) -> list[str]:
    """Every folder under layers/ that declares a layer (has a layer.toml)."""
    return sorted(p.parent.name for p in layers_dir.glob("*/layer.toml"))


def load_layers(names: list[str] | None = None, layers_dir: Path = LAYERS_DIR) -> list[Layer]:
    """The requested layers (all when names is None), ordered by position.

    The 5-layer limit is checked per function against all declared layers, even when
    building one, because each function attaches every layer that names it."""
    declared = declared_layers(layers_dir)
    if not declared:
        raise ConfigError(f"no layers declared: no {layers_dir}/*/layer.toml found")
    for name in names or []:
        if name not in declared:
            raise ConfigError(
                f"unknown layer {name!r}; declared layers: {', '.join(declared)} "
                f"(a layer is a folder {layers_dir.name}/<name>/ with layer.toml and "
                "requirements.txt)"
            )
    everything = [load_layer(n, layers_dir) for n in declared]
    positions: dict[int, str] = {}
    for layer in everything:
        if layer.position in positions:
            raise ConfigError(
                f"layers {positions[layer.position]!r} and {layer.name!r} both declare "
                f"position = {layer.position} in layer.toml; positions must be unique"
            )
        positions[layer.position] = layer.name
    users = {f for layer in everything for f in layer.functions if f != "*"} or {"*"}
    for function in sorted(users):
        attached = [x.name for x in everything if "*" in x.functions or function in x.functions]
        if len(attached) > MAX_LAYERS:
            raise ConfigError(
                f"{len(attached)} layers are attached to function {function!r} "
                f"({', '.join(attached)}) but a Lambda function can use at most {MAX_LAYERS}: "
                "merge some of them"
            )
    chosen = [layer for layer in everything if names is None or layer.name in names]
    return sorted(chosen, key=lambda layer: layer.position)


def load_layer(name: str, layers_dir: Path = LAYERS_DIR) -> Layer:
    directory = layers_dir / name
    toml_path = directory / "layer.toml"
    lock = directory / "requirements.txt"
    try:
        toml_bytes = toml_path.read_bytes()
        meta = tomllib.loads(toml_bytes.decode())
    except FileNotFoundError:
        raise ConfigError(f"{_rel(toml_path)} is missing; see docs/layers.md") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_rel(toml_path)} is not valid TOML: {exc}") from None
    position = meta.get("position")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise ConfigError(f"{_rel(toml_path)}: `position` must be a non-negative integer")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ConfigError(f"{_rel(toml_path)}: `description` must be a non-empty string")
    omit = tuple(_parse_omit(toml_path, meta.get("omit", [])))
    functions = meta.get("functions", ["*"])
    if (
        not isinstance(functions, list)
        or not functions
        or not all(
            isinstance(f, str) and re.fullmatch(r"\*|[a-z][a-z0-9_-]*", f) for f in functions
        )
    ):
        raise ConfigError(
            f"{_rel(toml_path)}: `functions` must be a non-empty list of function folder names "
            'under functions/ (e.g. functions = ["sentiment"]), or ["*"] for every function'
        )
    smoke = meta.get("smoke", "")
    if not isinstance(smoke, str):
        raise ConfigError(f"{_rel(toml_path)}: `smoke` must be a string of Python code")
    if not lock.is_file():
        raise ConfigError(
            f"{_rel(lock)} is missing: write {_rel(directory / 'requirements.in')} and run "
            f"`make lock LAYER={name}`"
        )
    lock_bytes = lock.read_bytes()
    pins = parse_lock(lock_bytes.decode(), lock, name)
    for pin in pins:
        if pin.name in {o.name for o in omit}:
            raise ConfigError(
                f"{_rel(lock)} pins {pin.name}, which {_rel(toml_path)} lists in `omit`: "
                f"drop one of them (`make lock LAYER={name}` drops omitted packages)"
            )
    digest = hashlib.sha256(toml_bytes + b"\0" + lock_bytes).hexdigest()
    return Layer(
        name, directory, position, description.strip(), omit, pins, smoke, digest,
        tuple(functions),
    )  # fmt: skip


def _parse_omit(path: Path, raw: object) -> list[Omit]:
    if not isinstance(raw, list):
        raise ConfigError(f"{_rel(path)}: `omit` must be a list of {{name, reason}} tables")
    out = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("reason"), str)
            or not item["reason"].strip()
        ):
            raise ConfigError(
                f"{_rel(path)}: every `omit` entry needs a name and a non-empty reason, "
                f'e.g. {{ name = "requests", reason = "..." }}; got {item!r}'
            )
        out.append(Omit(canonical(item["name"]), item["reason"].strip()))
    return out


_REQ = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(?P<spec>[=<>!~][^;\s]*)?")


def parse_lock(text: str, path: Path, layer: str) -> tuple[Pin, ...]:
    """Parse a pip-compile --generate-hashes lock; every line must be `name==version --hash=...`."""
    fix = f"run `make lock LAYER={layer}`"
    pins: list[Pin] = []
    logical = re.sub(r"\\\s*\n", " ", text)
    for raw in logical.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            raise ConfigError(
                f"{_rel(path)}: option line {line.split()[0]!r} is not supported in a layer lock "
                f"(the builder sets index and platform options itself); {fix}"
            )
        match = _REQ.match(line)
        if not match:
            raise ConfigError(f"{_rel(path)}: cannot parse requirement {line!r}; {fix}")
        spec = match["spec"] or ""
        name = canonical(match["name"])
        if not spec.startswith("==") or any(c in spec[2:] for c in "*<>=!,~"):
            raise ConfigError(
                f"{_rel(path)}: {match['name']} is not pinned to an exact version "
                f"({spec or 'no version'}); layers need `name==version` pins with hashes; {fix}"
            )
        hashes = tuple(re.findall(r"--hash=(\S+)", line))
        if not hashes:
            raise ConfigError(
                f"{_rel(path)}: {match['name']}{spec} has no --hash; the builder installs with "
                f"--require-hashes; {fix}"
            )
        pins.append(Pin(name, spec[2:], hashes))
    if not pins:
        raise ConfigError(f"{_rel(path)} pins nothing; {fix}")
    names = [p.name for p in pins]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{_rel(path)} pins {', '.join(dupes)} more than once; {fix}")
    return tuple(pins)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
