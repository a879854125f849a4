"""The size table and Lambda's limit: each function + its own layers, unzipped, at most
250 MiB."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.layerbuild.config import ROOT
from infra.layerbuild.errors import VerificationError

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes, function code + all layers
TARGET_LAYER_BYTES = 100_000_000  # our own budget per layer (with bytecode)


@dataclass(frozen=True)
class Row:
    name: str
    zipped: int | None
    unzipped: int
    note: str = ""


def function_names(root: Path = ROOT) -> list[str]:
    """The function folders (functions/<name>/ with a *handler.py)."""
    folder = root / "functions"
    if not folder.is_dir():
        return ["sentiment"]
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*handler.py")))


def function_row(root: Path = ROOT, name: str = "sentiment") -> Row:
    """build/functions/<name>.zip when it was packaged, else the folder it will be made from."""
    package = root / "build" / "functions" / f"{name}.zip"
    if package.is_file():
        with zipfile.ZipFile(package) as archive:
            unzipped = sum(i.file_size for i in archive.infolist())
        return Row(f"fn {name}", package.stat().st_size, unzipped, f"build/functions/{name}.zip")
    folder = root / "functions" / name
    unzipped = sum(
        p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    return Row(f"fn {name}", None, unzipped, f"functions/{name}/ (not packaged yet)")


def table(rows: list[Row], limit: int = LAMBDA_UNZIPPED_LIMIT) -> str:
    total = sum(r.unzipped for r in rows)
    lines = [f"{'':2}{'layer':<14}{'zipped':>14}{'unzipped':>16}  note"]
    for row in rows:
        zipped = f"{row.zipped:,}" if row.zipped is not None else "-"
        lines.append(f"{'':2}{row.name:<14}{zipped:>14}{row.unzipped:>16,}  {row.note}")
    lines.append(
        f"{'':2}{'total':<14}{'':>14}{total:>16,}  {total / limit:.0%} of Lambda's "
        f"{limit:,}-byte limit"
    )
    return "\n".join(lines)


def gate(rows: list[Row], limit: int = LAMBDA_UNZIPPED_LIMIT) -> None:
    total = sum(r.unzipped for r in rows)
    if total > limit:
        biggest = sorted(rows, key=lambda r: r.unzipped, reverse=True)[:3]
        raise VerificationError(
            f"function + layers unzipped is {total:,} bytes, over Lambda's limit of {limit:,} "
            f"by {total - limit:,}; biggest: "
            + ", ".join(f"{r.name} {r.unzipped:,}" for r in biggest)
            + ". Fix: slim or drop dependencies (see docs/layers.md)"
        )
