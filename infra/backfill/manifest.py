"""The manifest: the groups as one JSON array in the output bucket, read by the Map's
ItemReader; its content names the run, so the same objects give the same execution name."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

RECORDS_PREFIX = "backfill/"  # csv_sentiment.objects.RECORDS_PREFIX (a test checks they agree)
NAME_PREFIX = "backfill-"
_NAME = re.compile(r"^backfill-([0-9a-f]{20})-(\d+)$")


@dataclass(frozen=True)
class Manifest:
    body: bytes
    run_id: str  # 20 hex digits of the body's sha256
    groups: int
    objects: int
    bytes: int

    @property
    def key(self) -> str:
        return build_key(self.run_id)


def build_key(run_id: str) -> str:
    """csv_sentiment.objects.run_keys()["manifest"] (a test checks they agree)."""
    return f"{RECORDS_PREFIX}{run_id}/manifest.json"


def build(bucket: str, groups: list[dict]) -> Manifest:
    # The bucket is part of the identity: the same keys in another stack are another run.
    body = json.dumps(groups, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(bucket.encode() + b"\n" + body).hexdigest()[:20]
    return Manifest(
        body=body,
        run_id=digest,
        groups=len(groups),
        objects=sum(len(g["objects"]) for g in groups),
        bytes=sum(o["size"] for g in groups for o in g["objects"]),
    )


def upload(s3: Any, bucket: str, manifest: Manifest) -> None:
    """Written once: an existing manifest with this name has this content (its hash)."""
    try:
        s3.head_object(Bucket=bucket, Key=manifest.key)
        return
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(
        Bucket=bucket, Key=manifest.key, Body=manifest.body, ContentType="application/json"
    )


def execution_name(run_id: str, attempt: int) -> str:
    return f"{NAME_PREFIX}{run_id}-{attempt}"


def parse_name(name: str) -> tuple[str, int] | None:
    match = _NAME.match(name)
    return (match.group(1), int(match.group(2))) if match else None


def group_records_prefix(run_id: str, attempt: int) -> str:
    """csv_sentiment.objects.run_keys()["groups"] (a test checks they agree)."""
    return f"{RECORDS_PREFIX}{run_id}/attempt-{attempt}/groups/"
