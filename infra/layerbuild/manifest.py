"""build/layers/manifest.json: what was built, read by the deployer and the local service.

One entry per (name, runtime, arch); entries for other targets are kept when one target is
rebuilt. Written atomically (a reader never sees half a file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

SCHEMA_VERSION = 1
NAME = "manifest.json"


def load(layers_dir: Path) -> list[dict]:
    path = layers_dir / NAME
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if data.get("schema_version") != SCHEMA_VERSION:
        return []
    return list(data.get("layers", []))


def find(entries: list[dict], name: str, runtime: str, arch: str) -> dict | None:
    for entry in entries:
        if (entry.get("name"), entry.get("runtime"), entry.get("arch")) == (name, runtime, arch):
            return entry
    return None


def upsert(entries: list[dict], entry: dict) -> list[dict]:
    key = (entry["name"], entry["runtime"], entry["arch"])
    kept = [e for e in entries if (e.get("name"), e.get("runtime"), e.get("arch")) != key]
    return sorted([*kept, entry], key=lambda e: (e["runtime"], e["arch"], e["position"], e["name"]))


def save(layers_dir: Path, entries: list[dict]) -> Path:
    path = layers_dir / NAME
    tmp = path.with_name(f".{NAME}.{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps({"schema_version": SCHEMA_VERSION, "layers": entries}, indent=2) + "\n"
    )
    os.replace(tmp, path)
    return path
