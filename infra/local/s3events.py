"""S3 → Lambda event delivery: watch buckets on the endpoint, build the record S3 would send.

moto does not apply a NotificationConfiguration that names a Lambda function, so new objects
are found another way (every client's uploads count: boto3, the AWS CLI, another tool):
- from the journal our moto launcher keeps of what its S3 did that S3 would notify about
  (infra/moto_server.py, JOURNAL_PATH): in order, with the event's own name, at the cost of
  one small request per poll whatever the buckets hold;
- or, from an endpoint that keeps no journal, by listing object versions under the
  notifications' prefixes and reporting those not seen before.
The record follows S3's documented event message structure (eventVersion 2.1).
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from infra.moto_server import JOURNAL_PAGE, JOURNAL_PATH

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


def covering(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The fewest prefixes under which every key of `prefixes` lies ("" covers all), so that no
    key is listed twice."""
    out: list[str] = []
    for p in sorted(set(prefixes)):
        if not any(p.startswith(kept) for kept in out):
            out.append(p)
    return tuple(out)


class Journal:
    """The S3 event journal of our moto launcher (infra/moto_server.py), over HTTP."""

    def __init__(self, endpoint_url: str, timeout: float = 10):
        self._url = endpoint_url.rstrip("/") + JOURNAL_PATH
        self._timeout = timeout

    def read(self, after: int | str) -> dict | None:
        """{"events", "next", "lost"} after event number `after` (or "end"); None if the
        endpoint keeps no journal (another S3: it refuses the path as a bucket name)."""
        try:
            with urllib.request.urlopen(f"{self._url}?after={after}", timeout=self._timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500:
                return None
            raise


class BucketWatcher:
    """Finds objects created (and delete markers) since a prefix was first watched, under the
    prefixes that notifications name only: from the endpoint's journal if it keeps one, else
    by listing those prefixes (a backfill's thousands of objects elsewhere in the bucket are
    not listed four times a second)."""

    def __init__(self, s3: Any, journal: Journal | None = None):
        self._s3 = s3
        self._seen: dict[str, set[tuple]] = {}
        self._prefixes: dict[str, tuple[str, ...]] = {}
        self._journal = journal
        self._cursor: int | None = None  # the journal's next event number, once it answered
        self._since: dict[str, dict[str, int]] = {}  # bucket → prefix → its first new event
        self.lost = 0  # journal events dropped before they were read (the watcher fell behind)

    def _journal_mode(self) -> bool:
        """Whether the journal is used: asked once, on first use."""
        if self._journal is not None and self._cursor is None:
            page = self._journal.read("end")
            if page is None:
                self._journal = None
            else:
                self._cursor = page["next"]
        return self._journal is not None

    def watch(self, bucket: str, prefixes: Iterable[str] = ("",)) -> None:
        """Watch `bucket` under `prefixes` from now on: what they hold now is not new (S3 sends
        no events for objects that existed before a notification was configured)."""
        wanted = covering(prefixes)
        have = self._prefixes.get(bucket, ())
        added = [p for p in wanted if not any(p.startswith(h) for h in have)]
        if self._journal_mode():
            now = self._journal.read("end")["next"]
            since = {p: n for p, n in self._since.get(bucket, {}).items() if p in wanted}
            self._since[bucket] = {**since, **dict.fromkeys(added, now)}
            self._prefixes[bucket] = wanted
            return
        try:
            now = {ident for p in added for ident, _, _ in self._versions(bucket, p)}
        except Exception:
            return  # not created yet; tried again on the next redeploy
        self._seen.setdefault(bucket, set()).update(now)
        self._prefixes[bucket] = wanted

    def unwatch_except(self, buckets: set[str]) -> None:
        for b in set(self._prefixes) - buckets:
            self._seen.pop(b, None)
            self._since.pop(b, None)
            del self._prefixes[b]

    def poll(self) -> list[ObjectEvent]:
        if self._journal_mode():
            return self._read_journal()
        found = []
        for bucket, seen in self._seen.items():
            try:
                versions = [v for p in self._prefixes[bucket] for v in self._versions(bucket, p)]
            except Exception:
                continue
            for ident, ev, _ in sorted(versions, key=lambda v: v[2]):
                if ident not in seen:
                    seen.add(ident)
                    found.append(ev)
        return found

    def _read_journal(self) -> list[ObjectEvent]:
        found = []
        while True:
            page = self._journal.read(self._cursor)
            if page["next"] < self._cursor:  # the endpoint restarted: all it holds is new
                self._since = {b: dict.fromkeys(s, 0) for b, s in self._since.items()}
            self._cursor, self.lost = page["next"], self.lost + page["lost"]
            for e in page["events"]:
                since = self._since.get(e["bucket"], {})
                if any(e["key"].startswith(p) and e["seq"] >= n for p, n in since.items()):
                    found.append(ObjectEvent(e["bucket"], e["key"], e["event_name"], e["size"],
                                             e["etag"], e["version_id"]))  # fmt: skip
            if len(page["events"]) < JOURNAL_PAGE:  # a full page: more may be waiting
                return found

    def _versions(self, bucket: str, prefix: str):
        pages = self._s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, Prefix=prefix
        )
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
