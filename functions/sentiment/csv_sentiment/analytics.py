"""The analytics dataset: every scored row in one fixed, typed shape, for Athena and QuickSight.

Beside `scored/<rel>` (whose columns differ from file to file), each run writes its rows as gzip
JSON Lines (a format Athena reads natively and that can be written while streaming) to

    analytics/scores/upload_date=<the source's upload date, UTC>/<name>.jsonl.gz

`name` is derived from the source object (bucket, key, version, ETag), so a retried or
re-configured run of the same upload overwrites its own object and never adds a second one.
Exactly one current copy per source: the run report records the keys a run wrote
(`outputs.analytics`), and once the new report is committed the keys the replaced report
recorded are deleted, even in another day's partition. A failed run aborts its upload and
leaves the previous rows; a superseded version is refused before it commits (see job.py).

`COLUMNS` is the one description of a row: the Glue table in app.yaml is checked against it by
a test, and the local Athena stand-in reads the files with the Glue table's types.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from csv_sentiment import s3io

PREFIX = "analytics/scores/"
PARTITION = "upload_date"
CONTENT_TYPE = "application/gzip"  # no Content-Encoding: Athena decompresses by the .gz suffix
# S3's smallest part: the writer holds at most this plus the parts in flight (bounded RSS).
PART_SIZE = 5 * 1024 * 1024
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # java.sql.Timestamp's form (Hive JSON SerDe)

# (name, Glue/Athena type, meaning) in the order Athena shows them; upload_date is the partition.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("source_bucket", "string", "bucket of the scored upload"),
    ("source_key", "string", "key of the scored upload"),
    ("source_version", "string", "its version id (null in an unversioned bucket)"),
    ("source_etag", "string", "its ETag"),
    ("line", "bigint", "line of the file the record starts on (the header is line 1)"),
    ("text", "string", "the text (ANALYTICS_TEXT: all of it, the first N characters, or null)"),
    ("neg", "double", "VADER's neg score (null when not scored)"),
    ("neu", "double", "VADER's neu score (null when not scored)"),
    ("pos", "double", "VADER's pos score (null when not scored)"),
    ("compound", "double", "VADER's compound score (null when not scored)"),
    ("sentiment", "string", "positive, negative, neutral, none (blank text) or rejected"),
    ("scored_at", "timestamp", "when the run started (UTC)"),
    ("model", "string", "the model, e.g. vaderSentiment 3.3.2"),
)
PARTITION_TYPE = "string"  # yyyy-MM-dd; partition projection (type date) generates the values

_UNSCORED = frozenset(("none", "rejected"))
# VADER's scores are rounded to 3 places (neg, neu, pos) and 4 (compound): a few thousand
# values, whose repr() a batch looks up instead of formatting again (see DatasetWriter.add).
_FLOAT_TEXTS = 65536
_quote = json.encoder.encode_basestring_ascii  # C-accelerated; ASCII output is always valid


def upload_date(src: s3io.SourceObject, fallback: datetime) -> str:
    when = src.last_modified or fallback
    return when.astimezone(UTC).date().isoformat()


def dataset_key(src: s3io.SourceObject, when: datetime, part: int | None = None) -> str:
    """Where one source's rows go (`part`: the range of a fanned-out file)."""
    identity = "\0".join((src.bucket, src.key, src.version_id or "", src.etag))
    name = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    suffix = "" if part is None else f"-{part:05d}"
    return f"{PREFIX}{PARTITION}={upload_date(src, when)}/{name}{suffix}.jsonl.gz"


def recorded_keys(report: dict | None) -> list[str]:
    """The dataset keys a run report records (only ours: keys under PREFIX)."""
    keys = ((report or {}).get("outputs") or {}).get("analytics") or []
    return [k for k in keys if isinstance(k, str) and k.startswith(PREFIX)]


def commit_report(s3, bucket: str, key: str, report: dict,
                  replacing: s3io.JsonRead | None = None) -> None:  # fmt: skip
    """Write a run report that records the dataset keys its run wrote (`outputs.analytics`);
    then the rows the report it replaces recorded go (one copy per source). If the report
    cannot be written, neither can the new rows stay. Used by every writer of run reports.

    `replacing`: the report as the caller read it at the start (its duplicate check), or
    `s3io.ABSENT` when it knows there was none. The report is then written only if it is
    still that one (a conditional PUT), which saves reading it again; if another run
    committed in between, the write is refused and we read what it wrote and replace that,
    as without `replacing`, so the rows deleted are always those of the report replaced."""
    written = report["outputs"]["analytics"]
    replaced = _commit(s3, bucket, key, report, replacing)
    for stale in (k for k in recorded_keys(replaced) if k not in written):
        s3io.delete_if_exists(s3, bucket, stale)


def _commit(s3, bucket: str, key: str, report: dict, replacing: s3io.JsonRead | None
            ) -> dict | None:  # fmt: skip
    """Write the report; returns the one it replaced."""
    if replacing is not None:
        try:
            _put_or_undo(s3, bucket, key, report, replacing.document, replacing)
            return replacing.document
        except s3io.WriteConflict:
            pass  # another run committed since the caller read: replace what it wrote
    current = s3io.read_json(s3, bucket, key)  # now, not at the start: runs overlap
    if replacing is not None and current.body == s3io.json_body(report):
        # Our conditional PUT landed but its response was lost, and botocore's retry of it
        # found our own report: what it replaced is what the caller read.
        return replacing.document
    _put_or_undo(s3, bucket, key, report, current.document, None)
    return current.document


def _put_or_undo(s3, bucket: str, key: str, report: dict, current: dict | None,
                 replacing: s3io.JsonRead | None) -> None:  # fmt: skip
    """Write the report; if that fails (but for a conflict, which the caller resolves), the
    new rows go, except those the report still in place records (the same source's key)."""
    try:
        s3io.put_json(s3, bucket, key, report, replacing=replacing)
    except s3io.WriteConflict:
        raise
    except BaseException:
        kept = recorded_keys(current)
        with contextlib.suppress(Exception):
            for stray in (k for k in report["outputs"]["analytics"] if k not in kept):
                s3io.delete_if_exists(s3, bucket, stray)
        raise


def publish(s3, bucket: str, staged: Sequence[str], src: s3io.SourceObject, when: datetime
            ) -> list[str]:  # fmt: skip
    """A fanned-out file's rows: each range's staged object copied, server-side, to its key in
    the dataset (range i: part i), once the whole file is scored; the staging keys are
    removed with the run's other temporary objects."""
    keys = []
    for index, staged_key in enumerate(staged):
        key = dataset_key(src, when, part=index)
        try:
            s3.copy_object(Bucket=bucket, Key=key, ContentType=CONTENT_TYPE,
                           MetadataDirective="REPLACE",
                           CopySource={"Bucket": bucket, "Key": staged_key})  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise s3io.translate(exc, "CopyObject", f"s3://{bucket}/{key}") from exc
        keys.append(key)
    return keys


class DatasetWriter:
    """Streams one run's rows into one gzip JSON Lines object, batch by batch.

    Visible only when complete (the multipart upload of `s3io.OutputObject`); `abort()` leaves
    nothing behind. The per-file fields are encoded once; per row only the line, text, scores
    and label are formatted (the hot loop); zlib level 1 compresses in a thread of its own.
    """

    def __init__(
        self,
        s3,
        bucket: str,
        src: s3io.SourceObject,
        *,
        text_index: int,
        text_limit: int | None,
        model: str,
        scored_at: datetime,
        header_end_line: int,
        key: str | None = None,
    ):
        # `key`: a staging key (a fan-out range), published by `publish` when the file is done.
        self.key = key or dataset_key(src, scored_at)
        self._out = s3io.OutputObject(s3, bucket, self.key, PART_SIZE, CONTENT_TYPE)
        self._gzip = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip member
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="analytics-gzip")
        self._pending: Future | None = None
        constant = {
            "source_bucket": src.bucket,
            "source_key": src.key,
            "source_version": src.version_id,
            "source_etag": src.etag,
            "scored_at": scored_at.astimezone(UTC).strftime(TIMESTAMP_FORMAT),
            "model": model,
        }
        self._tail = "," + json.dumps(constant, ensure_ascii=True)[1:-1] + "}\n"
        self._text_index = text_index
        self._limit = text_limit
        self._last_line = header_end_line
        self._floats: dict[float, str] = {}

    def add(self, originals: Sequence[list], out_rows: Sequence[list], ends: Sequence[int]) -> None:
        """One batch: `originals[i][text_index]` is row i's text as read (before formula
        neutralisation), `out_rows[i]` ends with neg, neu, pos, compound, sentiment, and row i
        ends on line `ends[i]`."""
        if len(ends) != len(out_rows) or len(originals) != len(out_rows):
            raise ValueError(f"{len(out_rows)} rows, {len(originals)} originals, {len(ends)} ends")
        if not out_rows:
            return
        texts = self._texts(originals)
        try:
            lines = self._lines(out_rows, ends, texts, self._floats)
        except KeyError:  # a score not seen before: remember the batch's, then format it
            lines = self._lines(out_rows, ends, texts, self._remember(out_rows))
        self._last_line = ends[-1]
        self._compress("".join(lines).encode("ascii"))

    def _texts(self, originals: Sequence[list]) -> Iterable[str]:
        ti, limit = self._text_index, self._limit
        if limit is None:
            return [_quote(r[ti]) for r in originals]
        if limit:
            return [_quote(r[ti][:limit]) for r in originals]
        return itertools.repeat("null")

    def _lines(self, out_rows: Sequence[list], ends: Sequence[int], texts: Iterable[str],
               floats: dict) -> list[str]:  # fmt: skip
        """The hot loop (~0.5 µs a row): a float's text is looked up in a plain dict (a
        quarter of a repr; a dict subclass would lose the interpreter's fast path); indexing
        beats unpacking a slice, zip beats enumerate. VADER's neg, neu and pos are absolute
        values, never -0.0; compound can be, and 0.0 == -0.0 would share an entry: its zero is
        formatted each time."""
        tail = self._tail
        start = self._last_line + 1
        lines: list[str] = []
        append = lines.append
        for row, end, text in zip(out_rows, ends, texts, strict=False):  # texts may repeat
            name = row[-1]
            if name in _UNSCORED:
                append(
                    f'{{"line":{start},"text":{text},"neg":null,"neu":null,"pos":null,'
                    f'"compound":null,"sentiment":"{name}"{tail}'
                )
            else:
                compound = row[-2]
                append(
                    f'{{"line":{start},"text":{text},"neg":{floats[row[-5]]},'
                    f'"neu":{floats[row[-4]]},"pos":{floats[row[-3]]},'
                    f'"compound":{floats[compound] if compound else repr(compound)},'
                    f'"sentiment":"{name}"{tail}'
                )
            start = end + 1
        return lines

    def _remember(self, out_rows: Sequence[list]) -> dict[float, str]:
        """The float texts with the batch's scores added. Past the bound (never reached by
        VADER's rounded scores; NaN would) they start over, so memory stays bounded."""
        if len(self._floats) >= _FLOAT_TEXTS:
            self._floats = {}
        floats = self._floats
        for row in out_rows:
            if row[-1] not in _UNSCORED:
                for value in (row[-5], row[-4], row[-3], row[-2]):
                    if value not in floats:
                        floats[value] = repr(value)
        return floats

    def _compress(self, data: bytes) -> None:
        """zlib releases the GIL: the previous batch is compressed in a thread while this one
        was formatted (at most one batch in flight, so memory stays bounded)."""
        if self._pending is not None:
            self._write(self._pending.result())
        self._pending = self._pool.submit(self._gzip.compress, data)

    def _write(self, packed: bytes) -> None:
        if packed:
            self._out.write(packed)

    @property
    def bytes_written(self) -> int:
        return self._out.bytes_written

    def finish(self) -> None:
        """Every row compressed into the object's buffer, nothing committed yet (a backfill
        batch holds its objects' results until their sources are confirmed current)."""
        if self._gzip is None:
            return
        if self._pending is not None:
            self._write(self._pending.result())
            self._pending = None
        self._pool.shutdown()
        self._write(self._gzip.flush())
        self._gzip = None

    def complete(self) -> None:
        self.finish()
        self._out.complete()

    def abort(self) -> None:
        self._pool.shutdown(cancel_futures=True)  # waits for a running compression
        self._pending = None
        self._out.abort()
