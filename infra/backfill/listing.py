"""List the objects under a prefix of the input bucket, past any number of listing pages."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.deploy.config import ROOT
from infra.deploy.errors import DeployError

OBJECTS_MODULE = ROOT / "functions" / "sentiment" / "csv_sentiment" / "objects.py"
MAX_PREFIX_BYTES = 1024  # S3's longest key


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str
    size: int


@dataclass
class Listing:
    objects: list[Listed]
    ignored: int  # objects under the prefix whose names the function does not score
    pages: int


def accepted_suffixes(path: Path = OBJECTS_MODULE) -> tuple[str, ...]:
    """The function's own ACCEPTED_SUFFIXES."""
    return tuple(function_constant("ACCEPTED_SUFFIXES", path))


def function_constant(name: str, path: Path = OBJECTS_MODULE) -> Any:
    """A constant of the function's objects.py, read with `ast` (not imported: the CLI must
    not import the function's package and its dependencies to learn one constant)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise DeployError(f"{path} no longer declares {name}")


def check_prefix(prefix: str) -> str:
    if not prefix:
        raise DeployError(
            "PREFIX is empty; expected the key prefix to backfill, e.g. PREFIX=archive/2025/",
            "make backfill PREFIX=archive/2025/ (PREFIX=/ backfills the whole input bucket)",
        )
    if prefix == "/":
        return ""
    if prefix.startswith("/") or len(prefix.encode()) > MAX_PREFIX_BYTES:
        raise DeployError(
            f"PREFIX={prefix[:80]!r} is invalid; expected a key prefix without a leading '/', "
            f"at most {MAX_PREFIX_BYTES} bytes",
            "e.g. PREFIX=archive/2025/",
        )
    return prefix


def list_objects(s3: Any, bucket: str, prefix: str, suffixes: tuple[str, ...]) -> Listing:
    listing = Listing(objects=[], ignored=0, pages=0)
    for page in _pages(s3, bucket, prefix):
        listing.pages += 1
        for item in page.get("Contents", ()):
            key = item["Key"]
            if key.endswith(suffixes):
                listing.objects.append(
                    Listed(key, str(item.get("ETag", "")).strip('"'), int(item.get("Size", 0)))
                )
            else:
                listing.ignored += 1
    return listing


def _pages(s3: Any, bucket: str, prefix: str) -> Iterator[dict]:
    # ListObjectsV2 returns at most 1,000 keys a page; the paginator follows the tokens.
    return s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
