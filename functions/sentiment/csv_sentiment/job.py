"""Score one S3 object: the pipeline read → decode → parse → score → write, and its reports.

`process` returns a summary for the handler's logs and metrics. Permanent input errors end
in `errors/<rel>.json` and a normal return; transient and configuration errors abort the
upload and propagate.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from csv_sentiment import analytics, csvio, s3io
from csv_sentiment.core import Batch, Counts, RowScorer, output_header, resolve_text_column
from csv_sentiment.engine import MODEL, BatchScorer, PendingScores
from csv_sentiment.errors import (
    BACKSLASH_QUOTES_ADVICE,
    EmptyInput,
    InputError,
    LimitExceeded,
    MalformedRow,
    Superseded,
    TimeBudgetExceeded,
    clip,
)
from csv_sentiment.events import MAX_KEY_BYTES, Known, ObjectRef, OutputKeys, output_keys
from csv_sentiment.reports import (
    SCHEMA_VERSION,
    ErrorReport,
    Result,
    RunReport,
    SourceLike,
    source_of,
)
from csv_sentiment.settings import Settings
from csv_sentiment.summary import Summary, policy_of

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
GZIP_CONTENT_TYPE = "application/gzip"  # a .gz source's scored CSV
TEXT_COLUMN_METADATA = "text-column"  # x-amz-meta-text-column
_SAMPLE_ROWS = 200  # rows inspected to find the only non-numeric column


@dataclass
class Opened:
    """A source opened for scoring: how it is read, and its header and first rows parsed.
    Public because the fan-out (fanout.py) decides a big file's dialect with it."""

    src: s3io.SourceObject
    raw: _Counter
    compressed: bool
    encoding: csvio.Encoding
    delimiter: str
    records: Records
    header: list[str]
    first: tuple[list[list[str]], list[int]]
    text_index: int
    header_end: int


@dataclass
class Scored:
    """An object read and scored, its results held until `Job.commit`: the scored CSV and the
    dataset rows are in their uploads' buffers (or, past a part, in uncompleted multipart
    uploads), invisible until completed."""

    opened: Opened
    keys: OutputKeys
    known: Known
    previous: s3io.JsonRead  # the report the duplicate check read (or ABSENT)
    config: dict[str, object]
    started: float  # time.monotonic() when its run started
    seconds: float  # the run's time up to the end of scoring
    out: s3io.OutputObject
    dataset: analytics.DatasetWriter | None  # None: ANALYTICS=off
    counts: Counts
    summary: Summary

    @property
    def key(self) -> str:
        return self.opened.src.key

    @property
    def held_bytes(self) -> int:
        """What its uploads have taken in (an upper bound of what it holds in memory)."""
        return self.out.bytes_written + (self.dataset.bytes_written if self.dataset else 0)

    def abort(self) -> None:
        """Nothing of it becomes visible."""
        self.out.abort()
        if self.dataset:
            self.dataset.abort()


@dataclass
class Job:
    """What one invocation needs to score objects: built per invocation by the handler from
    the container's settings, S3 client and scorer (those are built once per container)."""

    settings: Settings
    s3: BaseClient
    scorer: BatchScorer
    request_id: str = "-"
    remaining_ms: Callable[[], int] = lambda: 900_000
    fanout: object | None = None  # fanout.Fanout: hands a file too big for one invocation on
    scored_at: datetime | None = None  # when the current file's run started (dataset rows)

    def process(self, ref: ObjectRef, known: Known | None = None) -> Result:
        """Score the object and commit its results (an S3 event's record)."""
        outcome = self.score(ref, known)
        return self.commit(outcome) if isinstance(outcome, Scored) else outcome

    def score(self, ref: ObjectRef, known: Known | None = None) -> Result | Scored:
        """Read and score the object. What ends here (skipped, superseded, handed off, an
        input error's report) is the result; a scored object is returned as `Scored`, its
        outputs held until `commit` (a backfill group commits several after one check)."""
        started = time.monotonic()
        known = known or Known()
        self.scored_at = datetime.now(UTC)
        settings = self.settings
        keys = output_keys(ref.key, settings.input_prefix)
        src = body = None
        try:
            if not keys.fits:  # before anything is read or written
                raise _key_too_long(ref.key, keys)
            src, body = self._current_source(ref, known)
            column_setting = self._column_setting(src)
            config = settings.scoring_config(column_setting)
            previous = (
                s3io.ABSENT
                if known.report_absent
                else s3io.read_json(self.s3, settings.output_bucket, keys.report)
            )
            if _same_run(previous.document, src, config):
                return {
                    "status": "skipped",
                    "reason": f"duplicate delivery: {keys.report} already records ETag "
                    f"{src.etag} with the same scoring configuration",
                    "source": source_of(src),
                    "outputs": {"scored": keys.scored, "report": keys.report},
                }
            if self.fanout and (why := self.fanout.too_big(src)):
                return self.fanout.hand_off(src, config, column_setting, why)
            opened, body = self.open_records(src, column_setting, body), None
            out, dataset, counts, summary = self._pipeline(opened, keys)
            return Scored(opened, keys, known, previous, config, started,
                          time.monotonic() - started, out, dataset, counts, summary)  # fmt: skip
        except Superseded as exc:
            return {"status": "superseded", "reason": exc.message, "source": source_of(src or ref)}
        except InputError as exc:
            if isinstance(exc, TimeBudgetExceeded) and self.fanout and self.fanout.enabled():
                why = f"ran out of time in one invocation: {exc.message}"
                try:
                    return self.fanout.hand_off(src, config, column_setting, why)
                except InputError as refused:  # above MAX_INPUT_MB: no execution is started
                    exc = refused
            return self._fail(exc, src or ref, keys, started)
        finally:
            if body is not None:  # opened by the first GET but not read: skipped, handed off
                body.close()

    def commit(self, scored: Scored, now: s3io.SourceObject | None = None) -> Result:
        """Make a scored object's results visible, if its source is still the version that was
        read: the scored CSV and the dataset rows, then the run report, whose presence means
        success. `now`: the source as a listing just found it (objects.current_versions);
        None: asked with a HEAD here."""
        committing = time.monotonic()
        src, keys = scored.opened.src, scored.keys
        try:
            self._check_still_current(src, now)
            scored.out.complete()
            if scored.dataset:
                scored.dataset.complete()
        except Superseded as exc:
            scored.abort()
            return {"status": "superseded", "reason": exc.message, "source": source_of(src)}
        except InputError as exc:  # the source is gone
            scored.abort()
            return self._fail(exc, src, keys, committing - scored.seconds)
        except BaseException:
            scored.abort()
            raise
        seconds = scored.seconds + time.monotonic() - committing  # not the wait for a batch
        report = self._success_report(scored, seconds)
        # Replaces exactly the report the duplicate check read, or, if another run committed
        # since, the one it wrote (analytics.commit_report).
        analytics.commit_report(self.s3, self.settings.output_bucket, keys.report, report,
                                scored.previous)  # fmt: skip
        # A stale failure goes; only if there is one, because on a versioned bucket deleting a
        # missing key still adds a delete marker, one more on every run.
        if not scored.known.error_absent:
            s3io.delete_if_exists(self.s3, self.settings.output_bucket, keys.error)
        return report

    def _fail(self, exc: InputError, source: SourceLike, keys: OutputKeys, started: float
              ) -> ErrorReport:  # fmt: skip
        document = self._error_report(exc, source, keys, started)
        s3io.put_json(self.s3, self.settings.output_bucket, keys.error, document)
        return document

    def _current_source(self, ref: ObjectRef, known: Known) -> tuple[s3io.SourceObject, Any]:
        """The source as it is now, and its body if reading it has begun. S3 does not order
        events and retries or `make redrive` replay old ones, so an event for a version that is
        no longer the key's current one (versioned bucket: the version id; unversioned: the
        ETag) must not replace the results of the newer upload, which its own event scores.

        A backfill object with no report has nothing to decide before it is read, so one GET
        tells what a HEAD would (version, ETag, size, metadata) and starts reading: a request
        less per object. Everything else is looked at with a HEAD first."""
        if known.report_absent and not ref.version_id:
            current, body = s3io.open_source(self.s3, ref.bucket, ref.key)
        else:
            current, body = s3io.head_source(self.s3, ref.bucket, ref.key, None), None
        try:
            _check_is_current(ref, current)
        except Superseded:
            if body is not None:
                body.close()
            raise
        return current, body

    def _check_still_current(self, src: s3io.SourceObject, now: s3io.SourceObject | None
                             ) -> None:  # fmt: skip
        """Again right before the results are committed: a newer version may have been
        uploaded (and even scored) while this one was being scored."""
        now = now or s3io.head_source(self.s3, src.bucket, src.key, None)
        if (_version(now.version_id), now.etag) != (_version(src.version_id), src.etag):
            raise Superseded(
                f"a newer upload (version {clip(str(now.version_id), 80)}, ETag {now.etag}) "
                "replaced the source while it was being scored; its own event scores it"
            )

    def _column_setting(self, src: s3io.SourceObject) -> str:
        """The object's text-column metadata, else TEXT_COLUMN."""
        value = src.metadata.get(TEXT_COLUMN_METADATA)
        if value is None:
            return self.settings.text_column
        return s3io.decode_metadata(TEXT_COLUMN_METADATA, value).strip()

    # Step 1. Open the source as a stream of records: decompress, detect the encoding and the
    # delimiter from the first 64 KiB, and parse the header and a sample of rows, because the
    # text column is chosen from them before any row is scored. Public: the fan-out's plan step
    # decides a big file's encoding, delimiter, header and text column with exactly this code.
    def open_records(self, src: s3io.SourceObject, column_setting: str, body: Any = None
                     ) -> Opened:  # fmt: skip
        """`body`: the source's stream if open_source opened it already."""
        settings = self.settings
        raw = _Counter(s3io.read_ahead(s3io.iter_object(self.s3, src, body=body)))
        gz = src.key.lower().endswith(".gz") or src.content_encoding == "gzip"
        data = (
            csvio.gunzip(raw, settings.max_input_bytes)
            if gz
            else csvio.limit_bytes(raw, settings.max_input_bytes)
        )
        head, data = _peek(data, csvio.SAMPLE_BYTES)
        encoding = csvio.detect_encoding(
            b"".join(head)[: csvio.SAMPLE_BYTES], settings.encoding_fallback
        )
        texts = csvio.decode(data, encoding)
        sample, texts = _peek(texts, csvio.SAMPLE_BYTES)
        delimiter = csvio.detect_delimiter(csvio.sample_lines(sample))
        budget = csvio.RecordBudget(settings.record_limit_bytes, delimiter)
        lines = csvio.iter_lines(texts, budget)
        csv.field_size_limit(settings.max_cell_chars)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        records = Records(reader, settings, budget)
        header, header_end = records.header()
        first = records.take(_SAMPLE_ROWS)
        text_index = resolve_text_column(header, first[0], column_setting)
        return Opened(src, raw, gz, encoding, delimiter, records, header, first, text_index,
                      header_end)  # fmt: skip

    # Step 2. The pipeline: prepare batches, have them scored, write their rows in order into
    # a multipart upload that is completed only by `commit`, after the last row and the check
    # that the source is still current. With worker processes the next batches are parsed and
    # sent while earlier ones are scored; on any failure the upload is aborted, so a
    # half-written scored file never exists.
    def _pipeline(
        self, opened: Opened, keys: OutputKeys
    ) -> tuple[s3io.OutputObject, analytics.DatasetWriter | None, Counts, Summary]:
        settings = self.settings
        rows = RowScorer(
            width=len(opened.header),
            text_index=opened.text_index,
            max_text_chars=settings.max_text_chars,
            neutralise_formulas=settings.neutralise_formulas,
            header_end_line=opened.header_end,
        )
        # The report's extreme rows follow the dataset's text-privacy setting (ANALYTICS_TEXT).
        summary = Summary(opened.header_end, policy_of(settings.analytics_text))
        out = s3io.OutputObject(
            self.s3, settings.output_bucket, keys.scored, settings.part_size_bytes,
            GZIP_CONTENT_TYPE if keys.compressed else CSV_CONTENT_TYPE, gzip=keys.compressed,
        )  # fmt: skip
        dataset = self._dataset(opened)
        depth = 2 * self.scorer.workers if self.scorer.workers else 1  # batches in flight
        pending: deque[tuple[Batch, PendingScores, list[int]]] = deque()
        try:
            header = output_header(opened.header, settings.neutralise_formulas)
            out.write(csvio.format_rows([header]).encode("utf-8"))

            def write_oldest() -> None:
                batch, handle, ends = pending.popleft()
                scores = handle.result()
                out_rows = rows.finish(batch, scores)
                out.write(csvio.format_rows(out_rows).encode("utf-8"))
                summary.add(batch.kinds, batch.texts, scores, ends)  # the insights fields
                if dataset:
                    dataset.add(batch.rows, out_rows, ends)

            batches = itertools.chain([opened.first], opened.records.batches())
            for chunk, ends in batches:
                if not chunk:
                    continue
                self._check_time(rows.counts.total, opened.raw.count, opened.src.size)
                batch = rows.prepare(chunk, ends)
                pending.append((batch, self.scorer.submit(batch.texts), ends))
                if len(pending) >= depth:
                    write_oldest()
            while pending:
                write_oldest()
            if dataset:
                dataset.finish()
        except BaseException:
            _drain(pending)  # a worker's late results must not reach the next file
            out.abort()
            if dataset:
                dataset.abort()
            raise
        return out, dataset, rows.counts, summary

    def _dataset(self, opened: Opened) -> analytics.DatasetWriter | None:
        """The analytics dataset's writer for this run (docs/analytics.md), unless it is off."""
        if not self.settings.analytics:
            return None
        return analytics.DatasetWriter(
            self.s3, self.settings.output_bucket, opened.src, text_index=opened.text_index,
            text_limit=self.settings.analytics_text, model=MODEL,
            scored_at=self.scored_at or datetime.now(UTC), header_end_line=opened.header_end,
        )  # fmt: skip

    # Step 3. The run report: what was read, how, and what came out; written last, so its
    # presence means success.
    def _success_report(self, scored: Scored, seconds: float) -> RunReport:
        opened, counts, keys = scored.opened, scored.counts, scored.keys
        return {
            "schema_version": SCHEMA_VERSION,
            "status": "succeeded",
            "source": source_of(opened.src),
            "outputs": {
                "scored": keys.scored,
                "report": keys.report,
                "analytics": [scored.dataset.key] if scored.dataset else [],
            },
            "rows": {
                "total": counts.total,
                "scored": counts.scored,
                "none": counts.labels["none"],
                "rejected": counts.labels["rejected"],
            },
            "labels": counts.labels,
            "mean_compound": counts.mean_compound,
            "text_column": opened.header[opened.text_index],
            "columns": len(opened.header),
            "encoding": opened.encoding.name,
            "encoding_fallback_used": opened.encoding.fallback,
            "delimiter": csvio.DELIMITER_NAMES[opened.delimiter],
            "compressed": opened.compressed,
            "bytes_read": opened.raw.count,
            "bytes_written": scored.out.bytes_written,
            "duration_seconds": round(seconds, 3),
            "rows_per_second": round(counts.total / seconds, 1) if seconds > 0 else None,
            "model": MODEL,
            "config": scored.config,
            "request_id": self.request_id,
            "compound_histogram": scored.summary.histogram(),  # for the insights pages
            "extremes": scored.summary.extremes(),
        }

    def _check_time(self, rows_done: int, bytes_done: int, size: int) -> None:
        left = self.remaining_ms()
        if left < self.settings.time_margin_ms:
            raise TimeBudgetExceeded(
                f"stopped after {rows_done} rows ({bytes_done} of {size} bytes read) with "
                f"{left / 1000:.1f} s of the invocation left; no scored output was written",
                expected="a file that one invocation can score: split it into smaller files, "
                "or raise the function's memory (more CPU) or timeout (at most 900 s)",
                rows_done=rows_done,
                bytes_read=bytes_done,
            )

    def _error_report(
        self, exc: InputError, source: SourceLike, keys: OutputKeys, started: float
    ) -> ErrorReport:
        return {
            "schema_version": SCHEMA_VERSION,
            "status": "failed",
            "error": exc.as_dict(),
            "source": source_of(source),
            "outputs": {"error": keys.error},
            "duration_seconds": round(time.monotonic() - started, 3),
            "model": MODEL,
            "request_id": self.request_id,
        }


def _check_is_current(ref: ObjectRef, current: s3io.SourceObject) -> None:
    """Superseded if the event named another version (or, unversioned, ETag) than the key's
    current one."""
    if ref.version_id and current.version_id != ref.version_id:
        raise Superseded(
            f"version {clip(ref.version_id, 80)} is not the current version "
            f"({clip(str(current.version_id), 80)}) of the key: a newer upload replaced it"
        )
    if not ref.version_id and ref.etag and not current.version_id and current.etag != ref.etag:
        raise Superseded(
            f"the object now has ETag {current.etag}, not the event's {clip(ref.etag, 80)}: "
            "a newer upload replaced it"
        )


def _version(version_id: str | None) -> str | None:
    """A version id as compared: "null" (an object stored while versioning was off or
    suspended, as a listing names it) is no version id, as HEAD and GET report it."""
    return None if version_id in (None, "null") else version_id


def _key_too_long(key: str, keys: OutputKeys) -> LimitExceeded:
    return LimitExceeded(
        f"the source key is {len(key.encode())} bytes: its report (reports/{clip(keys.rel, 60)}"
        f".json) would be longer than S3's {MAX_KEY_BYTES}-byte key limit, so nothing is "
        "scored and this error report is at a hashed name",
        expected=f"a source key of at most about {MAX_KEY_BYTES - 20} bytes (UTF-8)",
        key_bytes=len(key.encode()),
    )


def _drain(pending: deque) -> None:
    for _, handle, _ in pending:
        with contextlib.suppress(Exception):
            handle.result()
    pending.clear()


def _same_run(previous: dict | None, src: s3io.SourceObject, config: dict) -> bool:
    if not previous or previous.get("status") != "succeeded":
        return False
    source = previous.get("source", {})
    same_object = source.get("etag") == src.etag and source.get("version_id") == src.version_id
    return same_object and previous.get("config") == config


class _Counter:
    """Counts the bytes that pass through (bytes read from S3, for the report and metrics)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.count += len(chunk)
            yield chunk


def _peek(items: Iterator, size: int) -> tuple[list, Iterator]:
    """The first items, up to `size` in total length (or all, if fewer), and an iterator
    that still yields them."""
    taken = []
    have = 0
    iterator = iter(items)
    for item in iterator:
        taken.append(item)
        have += len(item)
        if have >= size:
            break
    return taken, itertools.chain(taken, iterator)


class Records:
    """Parsed records in batches, with the line each ends on; csv errors become input errors.
    Public: the fan-out reads each byte range of a big file with it (`first_line`: the lines
    before the range, so errors name the file's own lines; the reader's `line_num` must
    count from the start of the file too).

    Parsing is strict: a quote never closed before the end of the file, or a quoted cell
    followed by anything but the delimiter or a line end, is an error naming the line, because
    the lenient reading of those (the rest of the file as one cell; a backslash-escaped quote
    cutting a text and shifting its tail into the next column) silently changes the data."""

    def __init__(self, reader, settings: Settings, budget: csvio.RecordBudget, first_line: int = 0):
        self._reader = reader
        self._settings = settings
        self._budget = budget  # fed by the lines the reader reads; marked after each record
        self._last_end = first_line  # the line the last complete record ended on

    def _fail(self, exc: csv.Error, ends: list[int]) -> InputError:
        line = self._reader.line_num
        start = (ends[-1] if ends else self._last_end) + 1
        opened = f" (or a quote opened on line {start} is never closed)" if start < line else ""
        message = str(exc)
        if "field larger than field limit" in message:
            return LimitExceeded(
                f"a cell on line {line} is larger than {self._settings.max_cell_chars} "
                f"characters (MAX_CELL_CHARS){opened}",
                expected="smaller cells, or a higher MAX_CELL_CHARS",
                line=line,
            )
        if "unexpected end of data" in message:
            return MalformedRow(
                f"the quoted cell opened on line {start} is never closed: the file ends "
                f"inside it (line {line})",
                expected="a closing quote for every opening one; a quote inside a quoted cell "
                f'is written twice (""); {BACKSLASH_QUOTES_ADVICE}',
                line=start,
            )
        if "expected after" in message:
            return MalformedRow(
                f"line {line}: a quoted cell is followed by other characters before the next "
                "delimiter or line end",
                expected='a quote inside a quoted cell written twice (""), and the delimiter or '
                f"a line end right after a cell's closing quote; {BACKSLASH_QUOTES_ADVICE}",
                line=line,
            )
        return MalformedRow(f"line {line} is not valid CSV: {exc}", expected="RFC 4180 CSV",
                            line=line)  # fmt: skip

    def header(self) -> tuple[list[str], int]:
        """The header row and the line it ends on."""
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            raise self._fail(exc, []) from None
        if not header:
            raise EmptyInput("the file has no header row", expected="a CSV file with a header row")
        if len(header) > self._settings.max_columns:
            raise LimitExceeded(
                f"the header has {len(header)} columns, more than {self._settings.max_columns}"
                " (MAX_COLUMNS)",
                expected="fewer columns, or a higher MAX_COLUMNS",
            )
        self._last_end = self._reader.line_num
        self._budget.mark = self._budget.fed
        return header, self._last_end

    def take(self, n: int) -> tuple[list[list[str]], list[int]]:
        """Up to `n` records, fewer if their parsed form reaches CHUNK_MB (a batch ends after
        the record that crosses it), with the line each ends on."""
        reader, budget = self._reader, self._budget
        limit = budget.fed + self._settings.chunk_bytes
        rows: list[list[str]] = []
        ends: list[int] = []
        try:
            for row in reader:
                rows.append(row)
                ends.append(reader.line_num)
                budget.mark = fed = budget.fed  # the next line starts a new record
                if len(rows) >= n or fed > limit:
                    break
        except csv.Error as exc:
            raise self._fail(exc, ends) from None
        except LimitExceeded as exc:  # the record budget: say where the record began
            raise self._too_big(exc, ends) from None
        if ends:
            self._last_end = ends[-1]
        return rows, ends

    def _too_big(self, exc: LimitExceeded, ends: list[int]) -> LimitExceeded:
        start = (ends[-1] if ends else self._last_end) + 1
        if start >= exc.details.get("line", 0):
            return exc
        return LimitExceeded(
            f"{exc.message} (or a quote opened on line {start} is never closed)",
            expected=exc.expected,
            **exc.details,
        )

    def batches(self) -> Iterator[tuple[list[list[str]], list[int]]]:
        while (batch := self.take(self._settings.chunk_rows))[0]:
            yield batch
