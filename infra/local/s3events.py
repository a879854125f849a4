"""S3 → Lambda event delivery: watch buckets on the endpoint, build the record S3 would send.

moto does not apply NotificationConfiguration, so new objects are found by listing object
versions (every client's uploads count: boto3, the AWS CLI, the console of another tool).
The record follows S3's documented event message structure (eventVersion 2.1).
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

_SEQUENCE = itertools.count(int(time.time() * 1000) << 16)


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str
    event_name: str  # e.g. ObjectCreated:Put (no "s3:" prefix, as in the record)
    size: int = 0
    etag: str = ""
    version_id: str | None = None


def record(ev: ObjectEvent, region: str, configuration_id: str = "local-notification") -> dict:
    """One S3 event record. The key is URL-encoded as S3 does (spaces as '+', '/' kept)."""
    obj: dict[str, Any] = {"key": quote_plus(ev.key, safe="/")}
    if ev.event_name.startswith("ObjectCreated"):
        obj.update(size=ev.size, eTag=ev.etag)
    if ev.version_id:
        obj["versionId"] = ev.version_id
    obj["sequencer"] = f"{next(_SEQUENCE):018X}"
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventName": ev.event_name,
        "userIdentity": {"principalId": "AWS:LOCAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": uuid.uuid4().hex,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": ev.bucket,
                "ownerIdentity": {"principalId": "LOCAL"},
                "arn": f"arn:aws:s3:::{ev.bucket}",
            },
            "object": obj,
        },
    }


def event(records: list[dict]) -> dict:
    return {"Records": records}


class BucketWatcher:
    """Finds objects created (and delete markers) since the bucket was first seen."""

    def __init__(self, s3: Any):
        self._s3 = s3
        self._seen: dict[str, set[tuple]] = {}

    def watch(self, bucket: str) -> None:
        """Start watching: what the bucket holds now is not new."""
        if bucket not in self._seen:
            try:
                self._seen[bucket] = {ident for ident, _, _ in self._versions(bucket)}
            except Exception:
                return  # not created yet; tried again on the next poll

    def unwatch_except(self, buckets: set[str]) -> None:
        for b in set(self._seen) - buckets:
            del self._seen[b]

    def poll(self) -> list[ObjectEvent]:
        found = []
        for bucket, seen in self._seen.items():
            try:
                versions = list(self._versions(bucket))
            except Exception:
                continue
            for ident, ev, _ in sorted(versions, key=lambda v: v[2]):
                if ident not in seen:
                    seen.add(ident)
                    found.append(ev)
        return found

    def _versions(self, bucket: str):
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            for v in page.get("Versions", []):
                etag = v["ETag"].strip('"')
                vid = None if v.get("VersionId") in (None, "null") else v["VersionId"]
                ident = (v["Key"], vid or "", etag, str(v["LastModified"]))
                name = (
                    "ObjectCreated:CompleteMultipartUpload" if "-" in etag else "ObjectCreated:Put"
                )
                yield (
                    ident,
                    ObjectEvent(bucket, v["Key"], name, v["Size"], etag, vid),
                    v["LastModified"],
                )
            for m in page.get("DeleteMarkers", []):
                ident = (m["Key"], m["VersionId"], "delete-marker", str(m["LastModified"]))
                ev = ObjectEvent(
                    bucket, m["Key"], "ObjectRemoved:DeleteMarkerCreated", version_id=m["VersionId"]
                )
                yield ident, ev, m["LastModified"]
