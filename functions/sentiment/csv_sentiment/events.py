"""S3 event records → the objects to score. Keys are URL-decoded here, once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

# Everything the stack writes to the output bucket: the analytics dataset and Athena's results too.
OUTPUT_PREFIXES = ("scored/", "reports/", "errors/", "analytics/", "athena-results/")


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    event_name: str


def records(event: dict) -> Iterator[ObjectRef]:
    """Every S3 record of the event (an S3 test event or a foreign record yields nothing)."""
    for record in event.get("Records") or ():
        s3 = record.get("s3")
        if record.get("eventSource") != "aws:s3" or not isinstance(s3, dict):
            continue
        obj = s3.get("object", {})
        yield ObjectRef(
            bucket=s3.get("bucket", {}).get("name", ""),
            key=unquote_plus(obj.get("key", "")),
            version_id=obj.get("versionId") or None,
            etag=str(obj.get("eTag", "")).strip('"'),
            size=int(obj.get("size", 0) or 0),
            event_name=record.get("eventName", ""),
        )


def relative_key(key: str, input_prefix: str) -> str:
    return key[len(input_prefix) :] if input_prefix and key.startswith(input_prefix) else key


def output_keys(rel: str) -> dict[str, str]:
    """Where one source's results go: the scored CSV drops a `.gz`; reports keep `rel`."""
    scored = rel[: -len(".gz")] if rel.lower().endswith(".gz") else rel
    return {
        "scored": f"scored/{scored}",
        "report": f"reports/{rel}.json",
        "error": f"errors/{rel}.json",
    }


def is_own_output(ref: ObjectRef, output_bucket: str) -> bool:
    return ref.bucket == output_bucket and ref.key.startswith(OUTPUT_PREFIXES)
