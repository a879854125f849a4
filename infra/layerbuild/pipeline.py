"""`build`: for each layer resolve -> install -> slim -> compile -> zip -> verify (one progress
line per step), skipping layers whose input hash is unchanged; then, across the target's
layers, the conflict check, the size table and gate, the runtime check and the smoke test.
The manifest is written only when all of that passed, so a failed build is retried."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra.layerbuild import archive, bytecode, manifest, sizes, verify
from infra.layerbuild.builders import Builder, select_builder
from infra.layerbuild.config import (
    BUILD_DIR,
    LAYERS_DIR,
    ROOT,
    Layer,
    Target,
    load_layers,
    make_target,
)
from infra.layerbuild.environment import ca_bundle
from infra.layerbuild.errors import LayerBuildError
from infra.layerbuild.interpreter import find_host_interpreter
from infra.layerbuild.runtime import ensure_runtime
from infra.layerbuild.slim import slim
from infra.layerbuild.tags import platform_tags

Out = Callable[[str], None]


@dataclass
class BuildReport:
    target: Target
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    entries: list[dict] = field(default_factory=list)  # the target's manifest entries
    smoke: dict | None = None


def zip_name(layer: str, target: Target) -> str:
    return f"{layer}-{target.label}.zip"


def input_hash(layer: Layer, target: Target, builder: Builder) -> str:
    """Everything the zip's bytes depend on: the layer's files, the target, the builder (image
    or interpreter) and the builder's own code."""
    code = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        code.update(path.name.encode() + b"\0" + path.read_bytes())
    payload = {
        "layer": layer.inputs_sha256,
        "target": target.label,
        "tags": platform_tags(target),
        "builder": builder.identity(),
        "code": code.hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def build(
    names: list[str] | None,
    runtime: str,
    arch: str,
    *,
    build_dir: Path = BUILD_DIR,
    layers_dir: Path = LAYERS_DIR,
    function_root: Path = ROOT,
    builder: Builder | None = None,
    force: bool = False,
    size_limit: int = sizes.LAMBDA_UNZIPPED_LIMIT,
    out: Out = print,
) -> BuildReport:
    target = make_target(runtime, arch)
    layers = load_layers(names, layers_dir)
    declared = load_layers(None, layers_dir)
    out_dir = build_dir / "layers"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = BuildReport(target)
    bundle = ca_bundle()  # a misconfigured CA bundle fails now, not halfway through a build
    with _exclusive(out_dir, out):
        builder = builder or select_builder(target, warn=out)
        entries = manifest.load(out_dir)
        # New zips are staged next to the old ones and moved into place only when every check
        # passed, so a failed build leaves the previous zips and manifest consistent.
        staged: dict[str, Path] = {}
        try:
            for layer in layers:
                digest = input_hash(layer, target, builder)
                zip_path = out_dir / zip_name(layer.name, target)
                previous = manifest.find(entries, layer.name, target.runtime, target.arch)
                if (
                    not force
                    and previous
                    and previous.get("input_hash") == digest
                    and zip_path.is_file()
                    and archive.sha256_file(zip_path) == previous.get("sha256")
                ):
                    out(
                        f"[{layer.name} {target.label}] up to date: input {digest[:12]}, "
                        f"sha256 {previous['sha256'][:12]} (no rebuild)"
                    )
                    report.skipped.append(layer.name)
                    continue
                staged[layer.name] = out_dir / f".{zip_path.name}.new"
                entry = build_layer(layer, target, builder, digest, staged[layer.name], out, bundle)
                entries = manifest.upsert(entries, entry)
            report.entries = _check_target(
                entries, declared, staged, target, builder, build_dir, function_root,
                size_limit, report, out,
            )  # fmt: skip
            for name, stage in staged.items():
                os.replace(stage, out_dir / zip_name(name, target))
            if staged:
                manifest.save(out_dir, entries)
        finally:
            for stage in staged.values():
                stage.unlink(missing_ok=True)
        report.built = list(staged)
    return report


def _check_target(
    entries: list[dict],
    declared: list[Layer],
    staged: dict[str, Path],
    target: Target,
    builder: Builder,
    build_dir: Path,
    function_root: Path,
    size_limit: int,
    report: BuildReport,
    out: Out,
) -> list[dict]:
    """Conflicts, size table and gate, runtime check and smoke test over all the target's
    layers (fresh ones from their staged zips). Returns the target's manifest entries."""
    out_dir = build_dir / "layers"

    def path_of(entry: dict) -> Path:
        return staged.get(entry["name"], out_dir / entry["zip"])

    current = [
        e
        for e in entries
        if (e["runtime"], e["arch"]) == (target.runtime, target.arch)
        and e["name"] in {d.name for d in declared}
        and path_of(e).is_file()
    ]
    verify.check_conflicts({e["name"]: path_of(e) for e in current})
    missing = sorted({d.name for d in declared} - {e["name"] for e in current})
    users = {d.name: d.functions for d in declared}
    # Lambda's limit applies to each function with the layers it attaches (layer.toml).
    for function in sizes.function_names(function_root):
        rows = [
            sizes.Row(e["name"], e["zipped_bytes"], e["unzipped_bytes"])
            for e in current
            if "*" in users[e["name"]] or function in users[e["name"]]
        ]
        rows.append(sizes.function_row(function_root, function))
        out(
            f"sizes for {function} on {target.label}"
            + (f" (not built yet: {', '.join(missing)})" if missing else "")
            + ":\n"
            + sizes.table(rows, size_limit)
        )
        sizes.gate(rows, size_limit)
    for entry in current:
        if entry["unzipped_bytes"] > sizes.TARGET_LAYER_BYTES:
            out(
                f"note: layer {entry['name']} is {entry['unzipped_bytes']:,} bytes unzipped, "
                f"over our {sizes.TARGET_LAYER_BYTES:,}-byte budget per layer"
            )
    if staged:
        by_name = {layer.name: layer for layer in declared}
        report.smoke = verify_target(
            [(by_name[e["name"]], path_of(e), e["packages"]) for e in current],
            target,
            builder,
            build_dir,
            function_root,
            out,
        )
    return current


def build_layer(
    layer: Layer,
    target: Target,
    builder: Builder,
    digest: str,
    zip_path: Path,
    out: Out,
    bundle: tuple[Path, str] | None = None,
) -> dict:
    tag = f"[{layer.name} {target.label}]"
    step = _Steps(tag, out)
    with tempfile.TemporaryDirectory(prefix=f"layer-{layer.name}-") as tmp:
        root = Path(tmp)
        site = root / "python"
        site.mkdir()
        with step("resolve") as note:
            note(
                f"{len(layer.pins)} pinned: "
                + ", ".join(f"{p.name}=={p.version}" for p in layer.pins)
                + f"; builder {builder.kind}"
                + (f"; CA bundle {bundle[0]} (from {bundle[1]})" if bundle else "")
            )
        with step("install") as note:
            builder.install(layer.lock, root)
            note(_tree_size(site))
        with step("slim") as note:
            removed = slim(site)
            note(f"removed {removed.files:,} files / {removed.bytes:,} bytes -> {_tree_size(site)}")
        with step("compile") as note:
            if builder.compile(root):
                note(
                    f"{bytecode.count_bytecode(site):,} .pyc (unchecked-hash) -> {_tree_size(site)}"
                )
            else:
                note(f"skipped: no Python {target.dotted} here, cold starts will be slower")
        with step("zip") as note:
            zipped, unzipped = archive.write_zip(root, zip_path)
            sha = archive.sha256_file(zip_path)
            note(
                f"{zip_name(layer.name, target)} {zipped:,} bytes zipped, {unzipped:,} "
                f"unzipped, sha256 {sha[:12]}"
            )
        with step("verify") as note:
            packages = verify.check_layer_tree(layer, site, target)
            elves = len([p for p in site.rglob("*.so*") if p.is_file()])
            note(
                f"{len(packages)} packages at pinned versions, {elves} shared objects all "
                f"{target.machine}, wheel tags fit {target.runtime}"
            )
        return {
            "name": layer.name,
            "position": layer.position,
            "functions": list(layer.functions),
            "runtime": target.runtime,
            "arch": target.arch,
            "zip": zip_name(layer.name, target),
            "sha256": sha,
            "zipped_bytes": zipped,
            "unzipped_bytes": unzipped,
            "packages": packages,
            "input_hash": digest,
            "builder": builder.describe(),
        }


def verify_target(
    layers: list[tuple[Layer, Path, dict]],
    target: Target,
    builder: Builder,
    build_dir: Path,
    function_root: Path,
    out: Out,
) -> dict | None:
    started = time.monotonic()
    runtime_dir = ensure_runtime(target.runtime, target.arch, build_dir=build_dir)
    checked = verify.check_runtime_compat(
        {layer.name: pkgs for layer, _, pkgs in layers}, runtime_dir, target
    )
    out(
        f"[{target.label}] runtime  layers' copies of boto3's dependencies satisfy it: "
        + ("; ".join(checked) or "none shared")
        + f" ({time.monotonic() - started:.1f}s)"
    )
    image = verify.smoke_image() if target.arch != "x86_64" else None
    if image:
        return _smoke_in_container(layers, runtime_dir, target, function_root, image, out)
    interpreter = getattr(builder, "interpreter", None) or find_host_interpreter(target)
    if target.arch != "x86_64" or interpreter is None:
        why = (
            "arm64 cannot run here"
            if target.arch != "x86_64"
            else (f"no local Python {target.dotted}")
        )
        out(
            f"[{target.label}] smoke    skipped ({why}): checked instead that every shared "
            f"object is a {target.machine} ELF and every wheel tag fits {target.runtime}"
        )
        return None
    started = time.monotonic()
    result = verify.smoke_test(
        interpreter.path, layers, runtime_dir, target, function_root / "functions" / "sentiment"
    )
    out(
        f"[{target.label}] smoke    Python {interpreter.version} -I with Lambda's sys.path: "
        f"imported {', '.join(result['imported'])}; omitted and not importable: "
        f"{', '.join(result['absent']) or 'none'}; layer checks passed; boto3 "
        f"{result['boto3']} S3 client ok; bytecode "
        f"{'used as shipped' if result['bytecode_used'] else 'not shipped'} "
        f"({time.monotonic() - started:.1f}s)"
    )
    return result


def _smoke_in_container(
    layers: list[tuple[Layer, Path, dict]],
    runtime_dir: Path,
    target: Target,
    function_root: Path,
    image: str,
    out: Out,
) -> dict:
    started = time.monotonic()
    result = verify.smoke_test(
        f"python{target.dotted}",
        layers,
        runtime_dir,
        target,
        function_root / "functions" / "sentiment",
        image=image,
    )
    out(
        f"[{target.label}] smoke    Python {result['python']} on {result['machine']} in {image}: "
        f"imported {', '.join(result['imported'])}; layer checks passed; boto3 "
        f"{result['boto3']} S3 client ok; bytecode "
        f"{'used as shipped' if result['bytecode_used'] else 'not shipped'} "
        f"({time.monotonic() - started:.1f}s)"
    )
    return result


class _Steps:
    def __init__(self, tag: str, out: Out):
        self.tag, self.out = tag, out

    @contextmanager
    def __call__(self, name: str) -> Iterator[Callable[[str], None]]:
        notes: list[str] = []
        started = time.monotonic()
        try:
            yield notes.append
        except LayerBuildError as exc:
            self.out(f"{self.tag} {name:<8} FAILED ({time.monotonic() - started:.1f}s)")
            raise type(exc)(f"{self.tag} {name}: {exc}") from None
        self.out(f"{self.tag} {name:<8} {' '.join(notes)} ({time.monotonic() - started:.1f}s)")


def _tree_size(site: Path) -> str:
    files = [p for p in site.rglob("*") if p.is_file()]
    return f"{len(files):,} files, {sum(p.stat().st_size for p in files):,} bytes"


@contextmanager
def _exclusive(out_dir: Path, out: Out) -> Iterator[None]:
    """One build per output folder at a time (manifest and zips are shared)."""
    with (out_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            out(f"waiting for another layer build using {out_dir} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
