"""Checks on built layers: per layer (platform, tags, pins, completeness) and across the layers
of one target (conflicts, the runtime's boto3 stack, the import smoke test)."""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import tempfile
import textwrap
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from infra.layerbuild.config import ROOT, Layer, Target, canonical
from infra.layerbuild.errors import VerificationError
from infra.layerbuild.tags import wheel_tag_fits

# The runtime provides these; a layer copy would shadow the runtime's SDK (and its updates).
RUNTIME_SDK = frozenset({"boto3", "botocore", "s3transfer"})
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
FUNCTION_DIR = ROOT / "functions" / "sentiment"


@dataclass
class Dist:
    name: str  # canonical
    version: str
    requires: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def read_dists(site: Path) -> dict[str, Dist]:
    """The distributions installed in a site folder, from their dist-info."""
    dists = {}
    parser = email.parser.HeaderParser()
    for info in sorted(site.glob("*.dist-info")):
        meta = parser.parsestr((info / "METADATA").read_text(encoding="utf-8", errors="replace"))
        wheel = info / "WHEEL"
        tags = []
        if wheel.is_file():
            tags = parser.parsestr(wheel.read_text()).get_all("Tag") or []
        dist = Dist(canonical(meta["Name"]), meta["Version"], meta.get_all("Requires-Dist") or [])
        dist.tags = tags
        dists[dist.name] = dist
    return dists


def marker_env(target: Target) -> dict[str, str]:
    return {
        "python_version": target.dotted,
        "python_full_version": target.dotted + ".0",
        "implementation_name": "cpython",
        "implementation_version": target.dotted + ".0",
        "platform_python_implementation": "CPython",
        "platform_machine": target.machine,
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "extra": "",
    }


def runtime_requirements(dist: Dist, target: Target) -> list[Requirement]:
    """The dependencies a dist needs on the target (markers evaluated, no extras)."""
    env = marker_env(target)
    out = []
    for line in dist.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or Marker(str(req.marker)).evaluate(env):
            out.append(req)
    return out


def check_layer_tree(layer: Layer, site: Path, target: Target) -> dict[str, str]:
    """Per-layer checks on the built python/ folder; returns {package: version}."""
    dists = read_dists(site)
    problems: list[str] = []
    shipped_sdk = sorted(RUNTIME_SDK & (set(dists) | {p.name.lower() for p in site.iterdir()}))
    if shipped_sdk:
        problems.append(
            f"ships {', '.join(shipped_sdk)}, which the Lambda runtime provides (a copy would "
            "shadow the runtime's SDK): remove it from the lock and list it under `omit`"
        )
    pinned = {p.name: p.version for p in layer.pins}
    installed = {name: d.version for name, d in dists.items()}
    if installed != pinned:
        problems.append(f"installed {installed} but the lock pins {pinned}")
    for dist in dists.values():
        bad_tags = [t for t in dist.tags if not wheel_tag_fits(t, target)]
        if dist.tags and len(bad_tags) == len(dist.tags):
            problems.append(f"{dist.name} wheel tags {dist.tags} do not fit {target.label}")
        for req in runtime_requirements(dist, target):
            dep = canonical(req.name)
            if dep in layer.omitted or dep in RUNTIME_SDK:
                continue
            if dep not in dists:
                problems.append(
                    f"{dist.name} requires {req}, which is neither in the lock nor in `omit` "
                    f"(run `make lock LAYER={layer.name}` or add it to `omit` with a reason)"
                )
            elif not req.specifier.contains(dists[dep].version, prereleases=True):
                problems.append(
                    f"{dist.name} requires {req} but the lock pins {dep} {dists[dep].version}"
                )
    problems += check_elf_machines(site.rglob("*"), target)
    if problems:
        raise VerificationError(
            f"layer {layer.name!r} ({target.label}) failed verification:\n  - "
            + "\n  - ".join(problems)
        )
    return dict(sorted(installed.items()))


def check_elf_machines(paths: Iterable[Path], target: Target) -> list[str]:
    """Every ELF file (shared objects, executables) must be 64-bit for the target machine."""
    problems = []
    for path in paths:
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as stream:
            header = stream.read(20)
        if header[:4] != b"\x7fELF":
            continue
        machine = ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "unknown")
        if header[4] != 2 or machine != target.machine:
            problems.append(f"{path.name} is an ELF for {machine}, not {target.machine}")
    return problems


def top_levels(zip_path: Path) -> set[str]:
    """Top-level names under python/ in a layer zip (packages, modules, .libs, dist-info)."""
    names = set()
    with zipfile.ZipFile(zip_path) as archive:
        for entry in archive.namelist():
            parts = entry.split("/")
            if len(parts) >= 2 and parts[0] == "python" and parts[1]:
                top = parts[1]
                if len(parts) == 2:
                    top = top.split(".")[0] if top.endswith((".py", ".so")) else top
                if top != "__pycache__":
                    names.add(top)
    return names


def check_conflicts(zips: dict[str, Path]) -> None:
    """Lambda merges layers into one /opt: two layers shipping one package silently shadow."""
    seen: dict[str, str] = {}
    clashes = []
    for layer, path in zips.items():
        for name in sorted(top_levels(path)):
            if name.endswith(".dist-info"):
                key = "dist:" + canonical(name.removesuffix(".dist-info").rsplit("-", 1)[0])
            else:
                key = name
            if key in seen and seen[key] != layer:
                clashes.append(f"{name} is shipped by both {seen[key]!r} and {layer!r}")
            seen.setdefault(key, layer)
    if clashes:
        raise VerificationError(
            "two layers ship the same top-level package (the later one would shadow the "
            "other in /opt/python):\n  - "
            + "\n  - ".join(clashes)
            + "\n  fix: keep each package in one layer (drop it from the other's lock and list "
            "it under `omit` there)"
        )


def check_runtime_compat(
    layer_dists: dict[str, dict[str, str]], runtime_dir: Path, target: Target
) -> list[str]:
    """The layers come before /var/runtime on sys.path, so any package they share with the
    runtime's boto3 stack (python-dateutil, jmespath, six, urllib3...) is what boto3 imports:
    it must satisfy boto3/botocore/s3transfer's own requirements. Returns what was checked."""
    runtime = read_dists(runtime_dir)
    checked, problems = [], []
    for sdk in sorted(RUNTIME_SDK):
        if sdk not in runtime:
            continue
        for req in runtime_requirements(runtime[sdk], target):
            dep = canonical(req.name)
            for layer, packages in layer_dists.items():
                if dep in packages:
                    version = packages[dep]
                    ok = req.specifier.contains(Version(version), prereleases=True)
                    checked.append(f"{dep} {version} ({layer}) for {sdk}: {req.specifier}")
                    if not ok:
                        problems.append(
                            f"layer {layer!r} ships {dep} {version}, but the runtime's {sdk} "
                            f"requires {req}; pin a compatible {dep} in that layer's "
                            "requirements.in and re-lock"
                        )
    if problems:
        raise VerificationError("layers break the runtime's boto3:\n  - " + "\n  - ".join(problems))
    return checked


def lambda_sys_path(
    opt: Path, runtime_dir: Path, target: Target, task_root: Path = FUNCTION_DIR
) -> list[str]:
    """Lambda's module search path for the Python runtimes, before the standard library:
    the task root, the layers' two folders, then the runtime (/var/runtime: boto3, awslambdaric).
    """
    return [
        str(task_root),
        str(opt / "python"),
        str(opt / "python" / "lib" / f"python{target.dotted}" / "site-packages"),
        str(runtime_dir),
    ]


SMOKE = """
import importlib, importlib.metadata, importlib.util, json, sys
sys.path[:0] = PATHS
results = {"imported": [], "versions": {}}
for name in MODULES:
    importlib.import_module(name)
    results["imported"].append(name)
for dist, version in PACKAGES.items():
    found = importlib.metadata.version(dist)
    assert found == version, (dist, found, version)
    results["versions"][dist] = found
for name in ABSENT:
    assert importlib.util.find_spec(name) is None, name + " should not be importable"
for snippet in SNIPPETS:
    exec(compile(snippet, "layer.toml smoke", "exec"), {})
import boto3, botocore, dateutil
client = boto3.client("s3", region_name="us-east-1")
assert client.meta.service_model.service_name == "s3"
results["boto3"] = boto3.__version__
results["botocore_from"] = botocore.__file__
results["dateutil_from"] = dateutil.__file__
results["sys_path"] = sys.path
results["absent"] = ABSENT
import platform
results["machine"] = platform.machine()
results["python"] = platform.python_version()
print(json.dumps(results))
"""


def importable_modules(zip_path: Path) -> list[str]:
    return sorted(
        name
        for name in top_levels(zip_path)
        if not name.endswith((".dist-info", ".libs", ".data")) and name.isidentifier()
    )


def smoke_image() -> str | None:
    """LAYER_SMOKE_IMAGE: a container image of the target's architecture with the runtime's
    `pythonX.Y` (e.g. .ci/arm64-image's Debian trixie arm64 with python3.13), in which the
    smoke test runs where the host cannot (arm64 under qemu through binfmt)."""
    return os.environ.get("LAYER_SMOKE_IMAGE") or None


def in_container(image: str, argv: list[str], env: dict[str, str], mounts: list[Path]) -> list[str]:
    """`docker run` of argv in `image`, the host folders mounted at the same paths (so every
    path in the script stays valid), no network, the given environment only."""
    command = ["docker", "run", "--rm", "--network", "none", "-w", str(mounts[0])]
    for folder in mounts:
        command += ["-v", f"{folder}:{folder}"]
    for key, value in env.items():
        if key != "PATH":
            command += ["-e", f"{key}={value}"]
    return [*command, image, *argv]


def smoke_test(
    python: str,
    layers: list[tuple[Layer, Path, dict[str, str]]],
    runtime_dir: Path,
    target: Target,
    task_root: Path = FUNCTION_DIR,
    image: str | None = None,
) -> dict:
    """Extract the zips into a folder laid out like /opt (in position order, later layers
    overwriting earlier ones, as Lambda does), then start the runtime's Python in isolated mode
    (-I: no environment, no user site; -S: no site-packages of the build machine) with only
    Lambda's paths, import every top-level package, run each layer's smoke snippet and create a
    boto3 S3 client. Also checks that importing wrote no bytecode: shipped .pyc must be used
    as they are (Lambda's /opt is read-only). With `image`, `python` runs in that container
    (in_container)."""
    with tempfile.TemporaryDirectory(prefix="layer-smoke-") as tmp:
        opt = Path(tmp) / "opt"
        modules: list[str] = []
        packages: dict[str, str] = {}
        absent: set[str] = set()
        for layer, zip_path, pkgs in sorted(layers, key=lambda item: item[0].position):
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(opt)
            modules += importable_modules(zip_path)
            packages.update(pkgs)
            absent |= {o.name.replace("-", "_") for o in layer.omit}
        absent -= {m.lower() for m in modules}
        # What the runtime itself ships (urllib3 for botocore) is not "omitted" for Lambda.
        absent = {n for n in absent if not any(runtime_dir.glob(f"{n}*"))}
        before = {p for p in opt.rglob("*.pyc")}
        paths = lambda_sys_path(opt, runtime_dir, target, task_root)
        script = (
            f"PATHS = {paths!r}\nMODULES = {modules!r}\nPACKAGES = {packages!r}\n"
            f"ABSENT = {sorted(absent)!r}\n"
            f"SNIPPETS = {[textwrap.dedent(layer.smoke) for layer, _, _ in layers]!r}\n" + SMOKE
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "smoke",
            "AWS_SECRET_ACCESS_KEY": "smoke",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "LAMBDA_TASK_ROOT": str(task_root),
            "POWERTOOLS_METRICS_NAMESPACE": "Smoke",
        }
        argv = [python, "-I", "-S", "-c", script]
        if image:
            argv = in_container(image, argv, env, [Path(tmp), runtime_dir, task_root])
        done = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,  # emulated arm64 imports numpy and pandas slowly
            cwd=tmp,
        )
        if done.returncode != 0:
            raise VerificationError(
                f"import smoke test failed for {target.label} (layers "
                f"{', '.join(layer.name for layer, _, _ in layers)}):\n"
                + textwrap.indent(done.stderr.strip()[-3000:], "    ")
            )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        written = {p for p in opt.rglob("*.pyc")} - before
        if before and written:
            raise VerificationError(
                f"import smoke test: Python wrote {len(written)} new .pyc files (e.g. "
                f"{sorted(written)[0].relative_to(opt)}): the shipped bytecode is stale or for "
                "another Python"
            )
        result["bytecode_used"] = bool(before)
        return result
