"""S3 event records → the objects to score (keys URL-decoded here, once), and the one mapping
from a source key to its output keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from csv_sentiment.errors import MalformedEvent

# Everything the stack writes to the output bucket (tmp/: the fan-out's ranges; backfill/: make
# backfill's manifests and records; the analytics dataset; Athena's query results).
OUTPUT_PREFIXES = (
    "scored/", "reports/", "errors/", "tmp/", "backfill/", "analytics/", "athena-results/",
)  # fmt: skip
MAX_KEY_BYTES = 1024  # S3's limit on the UTF-8 length of a key


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    event_name: str


@dataclass(frozen=True)
class Known:
    """What the caller already knows of one source's results, so `Job.score` need not ask
    S3 again (a backfill group lists its objects' reports and error reports at once; see
    objects.py). An S3 event knows nothing: every check is made."""

    report_absent: bool = False  # no run report: no duplicate to find, nothing to replace
    error_absent: bool = False  # no error report: nothing stale to delete after a success


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
    key = unquote_plus(obj["key"])
    if len(key.encode()) > MAX_KEY_BYTES or len(bucket["name"]) > 63:
        # No such object can exist; bounded here so logs and reports never quote a giant key.
        raise _malformed(
            f"the record's key ({len(key.encode())} bytes) or bucket name "
            f"({len(bucket['name'])} characters) is longer than S3 allows (1,024 bytes; 63)"
        )
    size = obj.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int | float | str | None):
        raise _malformed(f"the record's s3.object.size is {_kind(size)}, not a number")
    try:
        size = int(size or 0)
    except (TypeError, ValueError):
        raise _malformed(f"the record's s3.object.size {size!r:.40} is not a number") from None
    return ObjectRef(
        bucket=bucket["name"],
        key=key,
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


# Reserved first folders of a relative key; nothing else starts with them, which keeps the
# mapping one-to-one (see output_keys).
OUTSIDE = "_outside/"  # sources outside INPUT_PREFIX (named by their whole key)
ESCAPED = "_input/"  # sources inside it whose relative key starts with a reserved folder
TOO_LONG = "_too-long/"  # error reports of sources whose outputs would not fit in a key
_RESERVED = (OUTSIDE, ESCAPED, TOO_LONG)


@dataclass(frozen=True)
class OutputKeys:
    """Where one source's results go. When `fits` is False the source's outputs would exceed
    S3's key limit: only `error` (a hashed name) may be written."""

    rel: str
    scored: str
    report: str
    error: str
    fits: bool = True

    @property
    def compressed(self) -> bool:
        """A `.gz` source's scored CSV is gzip too, under the same name (see output_keys)."""
        return self.rel.lower().endswith(".gz")


def output_keys(source_key: str, input_prefix: str) -> OutputKeys:
    """The one mapping from a source key to its output keys; one-to-one, so two sources never
    share a scored file or a report:

    - `INPUT_PREFIX + rel` -> `scored/<rel>`, `reports/<rel>.json`, `errors/<rel>.json`;
      a `.gz` source keeps its name and its scored CSV is gzip (so `a.csv` and `a.csv.gz`
      differ);
    - a key outside INPUT_PREFIX stays scoreable (a backfill of an archive prefix) and is
      named by its whole key under `_outside/` (so `x.csv` and `input/x.csv` differ);
    - a `rel` that itself starts with a reserved folder (`_outside/`, `_input/`,
      `_too-long/`) is put under `_input/`, so no two keys can meet there;
    - outputs longer than S3's 1,024 bytes cannot exist: only an error report is written, at
      `errors/_too-long/<sha256 of the source key>.json`.
    """
    if input_prefix and not source_key.startswith(input_prefix):
        rel = OUTSIDE + source_key
    else:
        rel = source_key[len(input_prefix) :]
        if rel.startswith(_RESERVED):
            rel = ESCAPED + rel
    keys = OutputKeys(rel, f"scored/{rel}", f"reports/{rel}.json", f"errors/{rel}.json")
    if len(keys.report.encode()) <= MAX_KEY_BYTES:  # the longest of the three
        return keys
    digest = hashlib.sha256(source_key.encode()).hexdigest()
    return OutputKeys(rel, "", "", f"errors/{TOO_LONG}{digest}.json", fits=False)


def is_own_output(ref: ObjectRef, output_bucket: str) -> bool:
    return ref.bucket == output_bucket and ref.key.startswith(OUTPUT_PREFIXES)
