"""Score one S3 object: the pipeline read → decode → parse → score → write, and its reports.

`process` returns a summary for the handler's logs and metrics. Permanent input errors end
in `errors/<rel>.json` and a normal return; transient and configuration errors abort the
upload and propagate.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from csv_sentiment import csvio, s3io
from csv_sentiment.core import RowScorer, output_header, resolve_text_column
from csv_sentiment.engine import MODEL
from csv_sentiment.errors import (
    EmptyInput,
    InputError,
    LimitExceeded,
    MalformedRow,
    TimeBudgetExceeded,
)
from csv_sentiment.events import ObjectRef, output_keys, relative_key
from csv_sentiment.settings import Settings
from csv_sentiment.summary import Summary

# The report's shape: schemas/run-report.schema.json (2 added the insights fields).
SCHEMA_VERSION = 2
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
TEXT_COLUMN_METADATA = "text-column"  # x-amz-meta-text-column
_SAMPLE_ROWS = 200  # rows inspected to find the only non-numeric column


@dataclass
class Job:
    """What one invocation needs to score objects: built once per container."""

    settings: Settings
    s3: object
    scorer: object  # workers.InProcess or workers.ProcessPool: submit(texts).result()
    request_id: str = "-"
    remaining_ms: Callable[[], int] = lambda: 900_000

    def process(self, ref: ObjectRef) -> dict:
        started = time.monotonic()
        settings = self.settings
        rel = relative_key(ref.key, settings.input_prefix)
        keys = output_keys(rel)
        src = None
        try:
            src = s3io.head_source(self.s3, ref.bucket, ref.key, ref.version_id)
            column_setting = src.metadata.get(TEXT_COLUMN_METADATA, settings.text_column)
            config = settings.scoring_config(column_setting.strip())
            previous = s3io.get_json(self.s3, settings.output_bucket, keys["report"])
            if _same_run(previous, src, config):
                return {
                    "status": "skipped",
                    "reason": f"duplicate delivery: {keys['report']} already records ETag "
                    f"{src.etag} with the same scoring configuration",
                    "source": _source(src),
                    "outputs": keys,
                }
            report = self._score(src, config, column_setting.strip(), keys, started)
        except InputError as exc:
            document = self._error_report(exc, ref, src, keys, started)
            s3io.put_json(self.s3, settings.output_bucket, keys["error"], document)
            return document
        s3io.put_json(self.s3, settings.output_bucket, keys["report"], report)
        s3io.delete(self.s3, settings.output_bucket, keys["error"])  # a stale failure
        return report

    def _score(self, src, config: dict, column_setting: str, keys: dict, started: float) -> dict:
        settings = self.settings
        raw = _Counter(s3io.read_ahead(s3io.iter_object(self.s3, src)))
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
        lines = csvio.iter_lines(data, encoding, 2 * settings.max_cell_chars)
        sample, lines = _peek(lines, csvio.SAMPLE_BYTES)
        delimiter = csvio.detect_delimiter(sample)
        csv.field_size_limit(settings.max_cell_chars)
        records = _Records(csv.reader(lines, delimiter=delimiter), settings)

        header, header_end = records.header()
        first = records.take(_SAMPLE_ROWS)
        text_index = resolve_text_column(header, first[0], column_setting)
        rows = RowScorer(
            width=len(header),
            text_index=text_index,
            max_text_chars=settings.max_text_chars,
            neutralise_formulas=settings.neutralise_formulas,
            header_end_line=header_end,
        )
        summary = Summary(header_end)
        out = s3io.OutputObject(
            self.s3, settings.output_bucket, keys["scored"], settings.part_size_bytes,
            CSV_CONTENT_TYPE,
        )  # fmt: skip
        # Batches in flight: with worker processes, the next batches are parsed and sent while
        # the earlier ones are scored; in process, each batch is scored as it is submitted.
        depth = 2 * self.scorer.workers if self.scorer.workers else 1
        pending: deque = deque()
        try:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(output_header(header))

            def write_oldest() -> None:
                batch, handle, ends = pending.popleft()
                scores = handle.result()
                writer.writerows(rows.finish(batch, scores))
                summary.add(batch.kinds, batch.texts, scores, ends)
                out.write(buffer.getvalue().encode("utf-8"))
                buffer.seek(0)
                buffer.truncate()

            for chunk, ends in itertools.chain([first], records.batches(settings.chunk_rows)):
                if not chunk:
                    continue
                self._check_time(rows.counts.total, raw.count, src.size)
                batch = rows.prepare(chunk, ends)
                pending.append((batch, self.scorer.submit(batch.texts), ends))
                if len(pending) >= depth:
                    write_oldest()
            while pending:
                write_oldest()
            out.write(buffer.getvalue().encode("utf-8"))
            out.complete()
        except BaseException:
            _drain(pending)  # a worker's late results must not reach the next file
            out.abort()
            raise
        elapsed = time.monotonic() - started
        counts = rows.counts
        return {
            "schema_version": SCHEMA_VERSION,
            "status": "succeeded",
            "source": _source(src),
            "outputs": {"scored": keys["scored"], "report": keys["report"]},
            "rows": {
                "total": counts.total,
                "scored": counts.scored,
                "none": counts.labels["none"],
                "rejected": counts.labels["rejected"],
            },
            "labels": counts.labels,
            "mean_compound": counts.mean_compound,
            "text_column": header[text_index],
            "columns": len(header),
            "encoding": encoding.name,
            "encoding_fallback_used": encoding.fallback,
            "delimiter": csvio.DELIMITER_NAMES[delimiter],
            "compressed": gz,
            "bytes_read": raw.count,
            "bytes_written": out.bytes_written,
            "duration_seconds": round(elapsed, 3),
            "rows_per_second": round(counts.total / elapsed, 1) if elapsed > 0 else None,
            "model": MODEL,
            "config": config,
            "request_id": self.request_id,
            **summary.report(),
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

    def _error_report(self, exc: InputError, ref: ObjectRef, src, keys, started) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "status": "failed",
            "error": exc.as_dict(),
            "source": _source(src)
            if src
            else {
                "bucket": ref.bucket,
                "key": ref.key,
                "version_id": ref.version_id,
                "etag": ref.etag,
                "size": ref.size,
            },
            "outputs": {"error": keys["error"]},
            "duration_seconds": round(time.monotonic() - started, 3),
            "model": MODEL,
            "request_id": self.request_id,
        }


def _drain(pending: deque) -> None:
    for _, handle, _ in pending:
        with contextlib.suppress(Exception):
            handle.result()
    pending.clear()


def _source(src) -> dict:
    return {
        "bucket": src.bucket,
        "key": src.key,
        "version_id": src.version_id,
        "etag": src.etag,
        "size": src.size,
    }


def _same_run(previous: dict | None, src, config: dict) -> bool:
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


class _Records:
    """Parsed records in batches, with the line each ends on; csv errors become input errors."""

    def __init__(self, reader, settings: Settings):
        self._reader = reader
        self._settings = settings

    def _fail(self, exc: csv.Error) -> InputError:
        line = self._reader.line_num
        if "field larger than field limit" in str(exc):
            return LimitExceeded(
                f"a cell on line {line} is larger than {self._settings.max_cell_chars} "
                "characters (MAX_CELL_CHARS)",
                expected="smaller cells, or a higher MAX_CELL_CHARS",
                line=line,
            )
        return MalformedRow(f"line {line} is not valid CSV: {exc}", expected="RFC 4180 CSV",
                            line=line)  # fmt: skip

    def header(self) -> tuple[list[str], int]:
        """The header row and the line it ends on."""
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            raise self._fail(exc) from None
        if not header:
            raise EmptyInput("the file has no header row", expected="a CSV file with a header row")
        if len(header) > self._settings.max_columns:
            raise LimitExceeded(
                f"the header has {len(header)} columns, more than {self._settings.max_columns}"
                " (MAX_COLUMNS)",
                expected="fewer columns, or a higher MAX_COLUMNS",
            )
        return header, self._reader.line_num

    def take(self, n: int) -> tuple[list[list[str]], list[int]]:
        reader = self._reader
        rows: list[list[str]] = []
        ends: list[int] = []
        try:
            for row in itertools.islice(reader, n):
                rows.append(row)
                ends.append(reader.line_num)
        except csv.Error as exc:
            raise self._fail(exc) from None
        return rows, ends

    def batches(self, size: int) -> Iterator[tuple[list[list[str]], list[int]]]:
        while (batch := self.take(size))[0]:
            yield batch
