"""Small hand-written fakes: a build dir with fake layer zips and a manifest, as `make layers`
writes them (DEVELOPERS.md), so the deployer tests never run the real layer builder."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

from tests.paths import ROOT

# name -> position; deliberately not in load order here, the deployer must sort.
LAYERS = {"vader": 20, "pandas": 30, "powertools": 10}


def layer_zip(name: str, requirement: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(f"python/{name}_fake/__init__.py", (1980, 1, 1, 0, 0, 0))
        zf.writestr(info, f"REQUIREMENT = {requirement!r}\n")
    return buf.getvalue()


def write_layers(
    build: Path,
    requirements: dict[str, str] | None = None,
    runtime: str = "python3.12",
    arch: str = "x86_64",
) -> dict:
    """Write build/layers/*.zip and manifest.json; `requirements` changes a layer's content."""
    requirements = {name: f"{name}==1.0" for name in LAYERS} | (requirements or {})
    out = build / "layers"
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, position in LAYERS.items():
        data = layer_zip(name, requirements[name])
        zip_name = f"{name}-{runtime}-{arch}.zip"
        (out / zip_name).write_bytes(data)
        entries.append(
            {
                "name": name,
                "position": position,
                "runtime": runtime,
                "arch": arch,
                "zip": zip_name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "zipped_bytes": len(data),
                "unzipped_bytes": len(data) * 2,
                "packages": dict([requirements[name].split("==")]),
                "input_hash": "fake",
                "builder": {"kind": "pip", "image": "", "image_id": "", "python": "3.12.1"},
            }
        )
    # Like the real builder: entries for other runtimes/architectures are kept.
    path = out / "manifest.json"
    kept = json.loads(path.read_text())["layers"] if path.exists() else []
    kept = [e for e in kept if (e["runtime"], e["arch"]) != (runtime, arch)]
    manifest = {"schema_version": 1, "layers": kept + entries}
    path.write_text(json.dumps(manifest, indent=1))
    return manifest


def copy_function(dest: Path) -> Path:
    """A copy of functions/ that a test may edit (code-only changes); returns the scoring
    function's folder (the deployer packages every folder beside it)."""
    for name in ("sentiment", "insights"):
        shutil.copytree(
            ROOT / "functions" / name,
            dest / "functions" / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return dest / "functions" / "sentiment"
