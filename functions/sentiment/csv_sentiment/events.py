"""S3 event records → the objects to score. Keys are URL-decoded here, once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from csv_sentiment.errors import MalformedEvent

OUTPUT_PREFIXES = ("scored/", "reports/", "errors/")


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    event_name: str


def records(event: object) -> Iterator[ObjectRef | MalformedEvent]:
    """Every S3 record of the event, in order (an S3 test event or a foreign record yields
    nothing). What is not an S3 event as AWS sends it (None, a list, `Records` not a list, a
    record, bucket or object that is null, a size that is not a number, no key) yields a
    MalformedEvent in its place, so the other records are still processed."""
    if not isinstance(event, dict):
        yield _malformed(f"the event is {_kind(event)}, not a JSON object")
        return
    raw = event.get("Records")
    if raw is None:
        return
    if not isinstance(raw, list):
        yield _malformed(f"the event's Records is {_kind(raw)}, not a list")
        return
    for index, record in enumerate(raw):
        try:
            ref = _record(record)
        except MalformedEvent as exc:
            exc.details["record"] = index
            yield exc
            continue
        if ref is not None:
            yield ref


def _record(record: object) -> ObjectRef | None:
    if not isinstance(record, dict):
        raise _malformed(f"the record is {_kind(record)}, not a JSON object")
    if record.get("eventSource") != "aws:s3":
        return None  # another service's record: not ours to score
    s3, name = record.get("s3"), record.get("eventName", "")
    if not isinstance(s3, dict):
        raise _malformed(f"the record's s3 is {_kind(s3)}, not a JSON object")
    bucket, obj = s3.get("bucket"), s3.get("object")
    if not isinstance(bucket, dict) or not isinstance(bucket.get("name"), str):
        raise _malformed(f"the record's s3.bucket is {_kind(bucket)}, not an object with a name")
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise _malformed(f"the record's s3.object is {_kind(obj)}, not an object with a key")
    size = obj.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int | float | str | None):
        raise _malformed(f"the record's s3.object.size is {_kind(size)}, not a number")
    try:
        size = int(size or 0)
    except (TypeError, ValueError):
        raise _malformed(f"the record's s3.object.size {size!r:.40} is not a number") from None
    return ObjectRef(
        bucket=bucket["name"],
        key=unquote_plus(obj["key"]),
        version_id=str(obj.get("versionId") or "") or None,
        etag=str(obj.get("eTag") or "").strip('"'),
        size=size,
        event_name=name if isinstance(name, str) else "",
    )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "an empty list" if not value else "a list"
    return f"a {type(value).__name__}" if not isinstance(value, dict) else "an object"


def _malformed(message: str) -> MalformedEvent:
    return MalformedEvent(
        message,
        expected="an S3 event notification: {'Records': [{'eventSource': 'aws:s3', 's3': "
        "{'bucket': {'name': …}, 'object': {'key': …, 'size': …}}}]}",
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
