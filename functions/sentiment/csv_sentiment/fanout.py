"""One file bigger than one invocation: handed to the fan-out state machine
(infra/statemachines/fanout.asl.json), whose every step is this function with a versioned
payload: plan → count (per raw range, parallel) → cut → score (per range, parallel) → assemble.

The engine (Step Functions) decides retries and concurrency; this module decides the cut
(csv_sentiment/ranges.py), scores each range with the same parser, scorer and writer as one
invocation, and assembles `scored/<rel>` with one multipart upload, so the result is byte for
byte what one invocation would have written. Every range records success or failure under
the run's temporary prefix; the final step decides from those records, not from the Map's
verdict (AWS fails a Map whose children fail; moto's interpreter does not).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from csv_sentiment import analytics, csvio, ranges, s3io
from csv_sentiment.core import RowScorer, output_header
from csv_sentiment.engine import MODEL
from csv_sentiment.errors import (
    InputError,
    LimitExceeded,
    MalformedRow,
    NotCsv,
    TimeBudgetExceeded,
)
from csv_sentiment.events import output_keys
from csv_sentiment.reports import SCHEMA_VERSION, source_of
from csv_sentiment.settings import Settings
from csv_sentiment.summary import Summary, policy_of

if TYPE_CHECKING:
    from csv_sentiment.job import Records

KIND_PREFIX = "sentiment."
PLAN, COUNT, CUT, RANGE, ASSEMBLE = (
    "sentiment.plan/v1", "sentiment.count/v1", "sentiment.cut/v1", "sentiment.range/v1",
    "sentiment.assemble/v1",
)  # fmt: skip
KINDS = (PLAN, COUNT, CUT, RANGE, ASSEMBLE)
TMP_PREFIX = "tmp/fanout/"  # under the output bucket; a lifecycle rule is the backstop
MIN_PART = 5 * 1024 * 1024  # S3's smallest part, except the last
_COPY_THREADS = 16  # UploadPartCopy calls in flight while assembling
_MAX_ATTEMPTS = 50
_MAX_MERGED = 4  # a range may join at most this many raw ranges (records longer than a range)
# Measured (README, Performance): one vCPU scores ~9.6 MB/s of corpus-like CSV with the fast
# engine; Lambda gives one vCPU per 1,769 MB. `auto` hands off what would need more than half
# of the time left, so a slower file still finishes.
MB_PER_VCPU_SECOND = 9.6
VCPU_MB = 1769
AUTO_SAFETY = 0.5
_MIB = 1024 * 1024
_CLIENTS: dict[str, object] = {}


class RangeFailed(Exception):
    """A step of the fan-out failed for good (the engine sees the error type, not retried)."""


def is_payload(event: object) -> bool:
    return isinstance(event, dict) and event.get("kind") in KINDS


def unknown_kind(event: object) -> str | None:
    """A payload that claims to be ours but has a kind this version does not know."""
    kind = event.get("kind") if isinstance(event, dict) else None
    if isinstance(kind, str) and kind.startswith(KIND_PREFIX) and kind not in KINDS:
        return kind
    return None


def auto_threshold_mb(memory_mb: int, seconds: float, workers: int = 1) -> float:
    """The file size one invocation can safely score in `seconds` at `memory_mb`."""
    vcpus = min(memory_mb / VCPU_MB, max(1, workers))
    return MB_PER_VCPU_SECOND * vcpus * max(0.0, seconds) * AUTO_SAFETY


def execution_name(src, config: dict, attempt: int) -> str:
    """Same object (bucket, key, version, ETag) and scoring configuration → same name, so a
    duplicate event cannot start a second execution; the attempt number allows a retry."""
    identity = json.dumps(
        [src.bucket, src.key, src.version_id, src.etag, config], sort_keys=True, default=str
    )
    return f"{hashlib.sha256(identity.encode()).hexdigest()[:40]}-{attempt}"


@dataclass
class Fanout:
    settings: Settings
    s3: object
    scorer: object
    request_id: str = "-"
    remaining_ms: Callable[[], int] = lambda: 900_000
    sfn: object | None = None  # Step Functions client; made on first use
    memory_mb: int = 1024

    # -- the S3 path: hand a big file to the state machine ---------------------------------
    def enabled(self) -> bool:
        return bool(self.settings.fanout_state_machine_arn)

    def too_big(self, src) -> str | None:
        """Why this file goes to the state machine, or None if one invocation scores it."""
        if not self.enabled():
            return None
        limit = self.settings.fanout_threshold_mb
        if limit is None:
            seconds = (self.remaining_ms() - self.settings.time_margin_ms) / 1000
            limit = auto_threshold_mb(self.memory_mb, seconds, self.settings.scoring_workers)
            how = f"FANOUT_THRESHOLD_MB=auto: {limit:.0f} MB at {self.memory_mb} MB"
        else:
            how = f"FANOUT_THRESHOLD_MB={limit}"
        if src.size > limit * _MIB:
            return f"{src.size} bytes is above the fan-out threshold ({how})"
        return None

    def hand_off(self, src, config: dict, column_setting: str, reason: str) -> dict:
        """Start (at most once per attempt) the execution for this object and configuration;
        a file above MAX_INPUT_MB is refused here, from its size, without an execution (the
        plan step refuses it again if the limit was lowered after the hand-off)."""
        if src.size > self.settings.max_input_bytes:
            raise _file_too_big(src.size, self.settings.max_input_bytes)
        sfn = self._sfn()
        arn = self.settings.fanout_state_machine_arn
        prefix = arn.replace(":stateMachine:", ":execution:", 1)
        payload = {
            "source": source_of(src),
            "config": config,
            "column_setting": column_setting,
            "max_concurrency": self.settings.fanout_max_concurrency,
            "range_bytes": self.settings.range_bytes,
            "reason": reason,
        }
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            name = execution_name(src, config, attempt)
            status = _execution_status(sfn, f"{prefix}:{name}")
            if status in ("RUNNING", "SUCCEEDED", "PENDING_REDRIVE"):
                return _handed(src, f"{prefix}:{name}", attempt, reason, started=False)
            if status is not None:
                continue  # that attempt failed, timed out or was aborted: the next one
            try:
                started = sfn.start_execution(
                    stateMachineArn=arn, name=name,
                    input=json.dumps({**payload, "attempt": attempt}),
                )  # fmt: skip
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                    return _handed(src, f"{prefix}:{name}", attempt, reason, started=False)
                raise s3io.translate(exc, "StartExecution", arn) from exc
            except BotoCoreError as exc:
                raise s3io.translate(exc, "StartExecution", arn) from exc
            return _handed(src, started["executionArn"], attempt, reason, started=True)
        raise RangeFailed(f"{_MAX_ATTEMPTS} attempts of this file already failed")

    def _sfn(self):
        if self.sfn is None:
            if "stepfunctions" not in _CLIENTS:  # once per container, on the first hand-off
                import boto3

                _CLIENTS["stepfunctions"] = boto3.client("stepfunctions",
                                                         config=s3io.client_config())  # fmt: skip
            self.sfn = _CLIENTS["stepfunctions"]
        return self.sfn

    # -- the state machine's steps ---------------------------------------------------------
    def handle(self, event: dict) -> dict:
        kind = event["kind"]
        state = event.get("input") or {}
        try:
            if kind == PLAN:
                return self._plan(state, event.get("execution", ""))
            if kind == COUNT:
                return self._count(state)
            if kind == CUT:
                return self._cut(state)
            if kind == RANGE:
                return self._range(state)
            return self._assemble(state)
        except InputError as exc:
            if kind in (COUNT, RANGE):
                raise  # recorded by the step itself
            raise RangeFailed(exc.message) from exc

    def _plan(self, job: dict, execution: str) -> dict:
        settings = self.settings
        source = job["source"]
        src = s3io.head_source(self.s3, source["bucket"], source["key"], source["version_id"])
        run = execution.rsplit(":", 1)[-1] or execution_name(src, job["config"], job["attempt"])
        state = {
            "run": run,
            "bucket": settings.output_bucket,
            "prefix": f"{TMP_PREFIX}{run}/",
            "max_concurrency": int(job.get("max_concurrency") or 100),
            "execution": execution,
        }
        try:
            plan = self._dialect(src, job)
        except InputError as exc:
            self._fail_file(src, state, exc, ranges_done=0)
            return {**state, "status": "failed"}
        plan.update(
            started=time.time(),
            execution=execution,
            reason=job.get("reason", ""),
            uploaded=src.last_modified.isoformat() if src.last_modified else None,
        )
        raw = ranges.raw_ranges(src.size, int(job.get("range_bytes") or settings.range_bytes))
        s3io.put_json(self.s3, state["bucket"], state["prefix"] + "plan.json", plan)
        items = [{"index": r.index, "start": r.start, "end": r.end} for r in raw]
        s3io.put_json(self.s3, state["bucket"], state["prefix"] + "count-items.json", items)
        return {**state, "status": "planned", "count_items": state["prefix"] + "count-items.json"}

    def _dialect(self, src, job: dict) -> dict:
        """Encoding, delimiter, header and text column, decided once from the start of the file
        with exactly the code one invocation uses."""
        from csv_sentiment.job import Job

        if src.key.lower().endswith(".gz") or src.content_encoding == "gzip":
            raise NotCsv(
                f"the file is gzip-compressed and too big for one invocation ({src.size} bytes)",
                expected="an uncompressed CSV (byte ranges need offsets into the file), or "
                "smaller .gz files that one invocation can score each",
            )
        if src.size > self.settings.max_input_bytes:  # the whole file's limit, not a range's
            raise _file_too_big(src.size, self.settings.max_input_bytes)
        job_ = Job(self.settings, self.s3, self.scorer, self.request_id, self.remaining_ms)
        opened = job_.open_records(src, job["column_setting"])  # reads only the file's start
        encoding, delimiter = opened.encoding, opened.delimiter
        header, header_end, text_index = opened.header, opened.header_end, opened.text_index
        del opened  # its read-ahead thread stops when the stream is released
        if encoding.codec in ("utf-16", "utf-32"):
            raise NotCsv(
                f"the file is {encoding.name} and too big for one invocation",
                expected="UTF-8 (byte ranges cannot be cut in UTF-16/32 safely), or "
                "smaller files that one invocation can score each",
            )
        return {
            "source": source_of(src),
            "config": job["config"],
            "encoding": {"codec": encoding.codec, "name": encoding.name,
                         "fallback": encoding.fallback},
            "delimiter": delimiter,
            "header": header,
            "header_end_line": header_end,
            "text_index": text_index,
            "attempt": job["attempt"],
        }  # fmt: skip

    def _count(self, state: dict) -> dict:
        item = state["item"]
        raw = ranges.RawRange(item["index"], item["start"], item["end"])
        plan = self._plan_doc(state)
        counts = ranges.count(raw, _iter_range(self.s3, plan, raw.start, raw.end))
        key = f"{state['prefix']}counts/{raw.index:05d}.json"
        s3io.put_json(self.s3, state["bucket"], key, counts.as_dict())
        return {"index": raw.index}

    def _cut(self, state: dict) -> dict:
        plan = self._plan_doc(state)
        docs = self._records(state, "counts/")
        counts = [ranges.Counts.from_dict(d) for d in docs.values()]
        cut = ranges.cut(counts, plan["source"]["size"])
        raw_size = max((c.end - c.start for c in counts), default=0)
        long = next((r for r in cut if r.end - r.start > _MAX_MERGED * raw_size), None)
        if long is not None:  # one range would do the work of many, and likely time out
            self._fail_file(_plan_source(plan), state, _no_boundary(long), len(counts))
            return {**state, "status": "failed"}
        items = [r.as_dict() for r in cut]
        key = state["prefix"] + "range-items.json"
        s3io.put_json(self.s3, state["bucket"], key, items)
        return {**state, "status": "cut", "ranges": len(items), "range_items": key}

    def _plan_doc(self, state: dict) -> dict:
        plan = s3io.get_json(self.s3, state["bucket"], state["prefix"] + "plan.json")
        if plan is None:
            raise RangeFailed(f"s3://{state['bucket']}/{state['prefix']}plan.json is missing")
        return plan

    def _records(self, state: dict, sub: str) -> dict[int, dict]:
        """The JSON records under the run's prefix + `sub`, by range index."""
        keys = _list(self.s3, state["bucket"], state["prefix"] + sub)
        with ThreadPoolExecutor(_COPY_THREADS) as pool:
            docs = list(pool.map(lambda k: s3io.get_json(self.s3, state["bucket"], k), keys))
        index = [int(k.rsplit("/", 1)[-1].split(".")[0]) for k in keys]
        return {i: d for i, d in zip(index, docs, strict=True) if d}

    # -- one range ---------------------------------------------------------------------------
    def _range(self, state: dict) -> dict:
        item = ranges.Range(**state["item"])
        plan = self._plan_doc(state)
        started = time.monotonic()
        base = f"{state['prefix']}"
        try:
            result = self._score_range(plan, item, f"{base}out/{item.index:05d}.csv")
        except InputError as exc:
            record = {"index": item.index, "status": "failed", "error": exc.as_dict()}
            s3io.put_json(self.s3, state["bucket"], f"{base}failed/{item.index:05d}.json", record)
            raise RangeFailed(f"range {item.index}: {exc.message}") from exc
        result.update(index=item.index, status="succeeded", start=item.start, end=item.end,
                      seconds=round(time.monotonic() - started, 3))  # fmt: skip
        s3io.put_json(self.s3, state["bucket"], f"{base}done/{item.index:05d}.json", result)
        return {"index": item.index, "rows": result["rows"]}

    def _score_range(self, plan: dict, item: ranges.Range, out_key: str) -> dict:
        from csv_sentiment.job import CSV_CONTENT_TYPE

        settings = self.settings
        counter = _Count(_iter_range(self.s3, plan, item.start, item.end))
        records, rows = open_range(counter, plan, item, settings)  # MAX_INPUT_MB: at plan time
        header = plan["header"]
        # The line before the range's first row, as open_range gives its RowScorer.
        first = plan["header_end_line"] if item.index == 0 else item.first_line
        summary = Summary(first, policy_of(settings.analytics_text))  # merged by _report
        out = s3io.OutputObject(
            self.s3, settings.output_bucket, out_key, settings.part_size_bytes, CSV_CONTENT_TYPE
        )
        dataset = _range_dataset(self.s3, settings, plan, first, _staged(out_key))
        try:
            if item.index == 0:
                head = output_header(header, settings.neutralise_formulas)
                out.write(csvio.format_rows([head]).encode("utf-8"))
            for chunk, ends in _batches(records, item):
                self._check_time(item)
                batch = rows.prepare(chunk, ends)
                scores = self.scorer.submit(batch.texts).result()
                scored = rows.finish(batch, scores)
                out.write(csvio.format_rows(scored).encode("utf-8"))
                summary.add(batch.kinds, batch.texts, scores, ends)
                if dataset:
                    dataset.add(batch.rows, scored, ends)
            out.complete()
            if dataset:
                dataset.complete()
        except BaseException:
            out.abort()
            if dataset:
                dataset.abort()
            raise
        counts = rows.counts
        return {
            "rows": {"total": counts.total, "scored": counts.scored,
                     "none": counts.labels["none"], "rejected": counts.labels["rejected"]},
            "labels": counts.labels,
            "compound_sum": counts.compound_sum,
            "bytes_read": counter.count,
            "bytes_written": out.bytes_written,
            "summary": summary.partial(),
        }  # fmt: skip

    def _check_time(self, item: ranges.Range) -> None:
        if self.remaining_ms() < self.settings.time_margin_ms:
            raise TimeBudgetExceeded(
                f"range {item.index} ({item.end - item.start} bytes from byte {item.start}) "
                "ran out of time",
                expected="a smaller RANGE_MB, or more memory (CPU) for the function",
            )

    # -- the final step ----------------------------------------------------------------------
    def _assemble(self, state: dict) -> dict:
        plan = self._plan_doc(state)
        src = _plan_source(plan)
        items = s3io.get_json(self.s3, state["bucket"], state["prefix"] + "range-items.json")
        failed = self._records(state, "failed/")
        done = self._records(state, "done/")
        if failed:
            first = failed[min(failed)]
            exc = InputError(first["error"].get("message", "a range failed"))
            exc.code = first["error"].get("code", exc.code)
            exc.expected = first["error"].get("expected")
            exc.details = {k: v for k, v in first["error"].items()
                           if k not in ("code", "message", "expected")}  # fmt: skip
            self._fail_file(src, state, exc, ranges_done=len(done))
            return {**state, "status": "failed", "failed_range": min(failed)}
        missing = [] if items is None else [i["index"] for i in items if i["index"] not in done]
        if items is None or missing:
            self._cleanup(state)
            return {
                **state, "status": "failed", "missing_ranges": missing[:20],
                "error": state.get("error") or {},
                "reason": "not every range finished (see the function log)",
            }  # fmt: skip
        newer = _superseded(self.s3, src)
        if newer:
            self._cleanup(state)
            return {**state, "status": "superseded", "reason": newer}
        keys = output_keys(src.key, self.settings.input_prefix)
        parts = [f"{state['prefix']}out/{i['index']:05d}.csv" for i in items]
        assemble_started = time.monotonic()
        written = _assemble(self.s3, state["bucket"], parts, keys.scored)
        report = _report(plan, items, done, keys, written, self.request_id, self.settings)
        report["fanout"]["assemble_seconds"] = round(time.monotonic() - assemble_started, 3)
        staged = [_staged(p) for p in parts] if self.settings.analytics else []
        report["outputs"]["analytics"] = analytics.publish(
            self.s3, state["bucket"], staged, _plan_source(plan), _started(plan)
        )
        analytics.commit_report(self.s3, state["bucket"], keys.report, report)
        s3io.delete_if_exists(self.s3, state["bucket"], keys.error)
        self._cleanup(state)
        return {**state, "status": "succeeded", "rows": report["rows"]["total"]}

    def _fail_file(self, src, state: dict, exc: InputError, ranges_done: int) -> None:
        keys = output_keys(src.key, self.settings.input_prefix)
        document = {
            "schema_version": 1,
            "status": "failed",
            "error": exc.as_dict(),
            "source": source_of(src),
            "outputs": {"error": keys.error},
            "model": MODEL,
            "request_id": self.request_id,
            "fanout": {"execution": state.get("execution"), "ranges_done": ranges_done},
        }
        s3io.put_json(self.s3, self.settings.output_bucket, keys.error, document)
        self._cleanup(state)

    def _cleanup(self, state: dict) -> None:
        keys = _list(self.s3, state["bucket"], state["prefix"])
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            try:
                self.s3.delete_objects(Bucket=state["bucket"], Delete={"Objects": batch})
            except (ClientError, BotoCoreError) as exc:
                raise s3io.translate(exc, "DeleteObjects", f"s3://{state['bucket']}") from exc


# -- helpers ------------------------------------------------------------------------------------
def _staged(out_key: str) -> str:
    """Where a range stages its analytics rows: beside its scored part, under the run's prefix."""
    return out_key.replace("/out/", "/analytics/").removesuffix(".csv") + ".jsonl.gz"


def _plan_source(plan: dict) -> s3io.SourceObject:
    uploaded = plan.get("uploaded")
    when = datetime.fromisoformat(uploaded) if uploaded else None
    return s3io.SourceObject(**plan["source"], content_encoding="", last_modified=when)


def _started(plan: dict) -> datetime:
    return datetime.fromtimestamp(plan["started"], UTC)


def _range_dataset(s3, settings: Settings, plan: dict, header_end: int, key: str):
    """A range's analytics writer (docs/analytics.md), staged until the file is assembled."""
    if not settings.analytics:
        return None
    return analytics.DatasetWriter(
        s3, settings.output_bucket, _plan_source(plan), text_index=plan["text_index"],
        text_limit=settings.analytics_text, model=MODEL, scored_at=_started(plan),
        header_end_line=header_end, key=key,
    )  # fmt: skip


def _handed(src, arn: str, attempt: int, reason: str, started: bool) -> dict:
    return {
        "status": "handed-off",
        "execution_arn": arn,
        "attempt": attempt,
        "started": started,  # False: that attempt was already running or done (a duplicate)
        "reason": reason,
        "source": source_of(src),
    }


def _execution_status(sfn, arn: str) -> str | None:
    try:
        return sfn.describe_execution(executionArn=arn)["status"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return None
        raise s3io.translate(exc, "DescribeExecution", arn) from exc
    except BotoCoreError as exc:
        raise s3io.translate(exc, "DescribeExecution", arn) from exc


def _iter_range(s3, plan: dict, start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of the pinned source version, read as one invocation reads its
    file: resumed where a broken stream stopped, and fetched ahead in a thread while the
    caller counts or scores (without it a range scored ~20% slower than one invocation)."""
    return s3io.read_ahead(s3io.iter_object(s3, _plan_source(plan), start=start, end=end))


class _Count:
    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self.count = chunks, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.count += len(chunk)
            yield chunk


def open_range(
    chunks: Iterable[bytes], plan: dict, item: ranges.Range, settings: Settings
) -> tuple[Records, RowScorer]:
    """One range's bytes as records (the header skipped in range 0), read with the decoder,
    record budget and strict parser of one invocation (job.Records), and the RowScorer that
    checks and prepares them. Every error names the file's own lines and byte offsets:
    `item.first_line` (the LFs before the range, from the count's prefix sums) and
    `item.start` offset the decoder, the line splitter, the reader, the records and the rows."""
    from csv_sentiment.job import Records

    enc = plan["encoding"]
    # A BOM is stripped once, at the start of the file; U+FEFF later on is data.
    codec = "utf-8" if enc["codec"] == "utf-8-sig" and item.start > 0 else enc["codec"]
    encoding = csvio.Encoding(codec, enc["name"], enc["fallback"])
    budget = csvio.RecordBudget(settings.record_limit_bytes, plan["delimiter"])
    texts = csvio.decode(chunks, encoding, first_byte=item.start, first_line=item.first_line)
    lines = csvio.iter_lines(texts, budget, first_line=item.first_line)
    csv.field_size_limit(settings.max_cell_chars)
    reader = csv.reader(lines, delimiter=plan["delimiter"], strict=True)
    records = Records(_LineOffset(reader, item.first_line), settings, budget, item.first_line)
    rows_start = item.first_line
    if item.index == 0:
        records.header()
        rows_start = plan["header_end_line"]
    rows = RowScorer(
        width=len(plan["header"]), text_index=plan["text_index"],
        max_text_chars=settings.max_text_chars,
        neutralise_formulas=settings.neutralise_formulas, header_end_line=rows_start,
    )  # fmt: skip
    return records, rows


def _batches(records, item: ranges.Range) -> Iterator[tuple[list, list]]:
    """The range's records in batches. Parsing is strict, as in one invocation: a range that
    ends inside a quoted field fails with "never closed"; for any range but the last that
    means the cut was wrong (a quote the count took for an opening one), said as such."""
    try:
        yield from records.batches()
    except MalformedRow as exc:
        if item.last or "never closed" not in exc.message:
            raise
        raise _not_a_boundary(item, int(exc.details.get("line") or item.first_line)) from None


class _LineOffset:
    """A csv reader whose `line_num` counts from the start of the file, not of the range."""

    def __init__(self, reader, offset: int):
        self._reader, self._offset = reader, offset

    def __iter__(self):
        return self

    def __next__(self) -> list[str]:
        return next(self._reader)

    @property
    def line_num(self) -> int:
        return self._reader.line_num + self._offset


def _not_a_boundary(item: ranges.Range, line: int) -> MalformedRow:
    return MalformedRow(
        f"a quoted field opened on line {line} is still open where the byte range "
        f"ending at byte {item.end} ends: the file has a quote character that is not RFC 4180 "
        '(e.g. 32" TV in an unquoted cell), so it cannot be cut into ranges',
        expected="RFC 4180 CSV: quote a cell that contains a quote and double the quote "
        '("32"" TV"), or a file small enough for one invocation',
        line=line,
    )


def _file_too_big(size: int, max_bytes: int) -> LimitExceeded:
    """One invocation's MAX_INPUT_MB error, said at plan time from the object's size."""
    one = csvio.input_too_big(max_bytes, compressed=False)
    return LimitExceeded(
        f"{one.message}: it is {size} bytes. The limit applies to the whole file, as in one "
        "invocation, so the fan-out refused it from the object's size before reading it",
        expected=one.expected,
        size=size,
    )


def _no_boundary(item: ranges.Range) -> LimitExceeded:
    return LimitExceeded(
        f"no record boundary between byte {item.start} and byte {item.end} (from line "
        f"{item.first_line + 1}): the file cannot be cut into ranges there",
        expected="records that end with LF or CRLF outside quoted cells, RFC 4180 quoting "
        '(a quote inside a cell written twice: "32"" TV"), or a larger RANGE_MB',
        line=item.first_line + 1,
    )


def _list(s3, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
    except (ClientError, BotoCoreError) as exc:
        raise s3io.translate(exc, "ListObjectsV2", f"s3://{bucket}/{prefix}") from exc
    return sorted(keys)


def _superseded(s3, src) -> str | None:
    """Why the result must not be written: the key now holds a newer object."""
    try:
        head = s3.head_object(Bucket=src.bucket, Key=src.key)
    except (ClientError, BotoCoreError) as exc:
        gone = s3io.translate(exc, "HeadObject", f"s3://{src.bucket}/{src.key}")
        if isinstance(gone, InputError):
            return f"s3://{src.bucket}/{src.key} was deleted while it was being scored"
        raise gone from exc
    version, etag = head.get("VersionId"), head.get("ETag", "").strip('"')
    if (src.version_id and version != src.version_id) or etag != src.etag:
        return f"superseded by a newer version of s3://{src.bucket}/{src.key} ({etag})"
    return None


def _assemble(s3, bucket: str, parts: list[str], key: str) -> int:
    """Concatenate `parts` into `key` with one multipart upload: server-side copies for parts of
    at least MIN_PART, small neighbours joined in memory (at most 2 x MIN_PART), completed once;
    aborted on any failure, so no upload is left open."""
    sizes = [_size(s3, bucket, p) for p in parts]
    uri = f"s3://{bucket}/{key}"
    try:
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv; "
                                            "charset=utf-8")["UploadId"]  # fmt: skip
    except (ClientError, BotoCoreError) as exc:
        raise s3io.translate(exc, "CreateMultipartUpload", uri) from exc
    try:
        plan = _part_plan(parts, sizes)
        with ThreadPoolExecutor(_COPY_THREADS) as pool:
            etags = list(pool.map(lambda n_p: _part(s3, bucket, key, upload, *n_p),
                                  enumerate(plan, start=1)))  # fmt: skip
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                       for n, e in enumerate(etags, start=1)]},
        )  # fmt: skip
    except BaseException as exc:
        # Best effort: the bucket's AbortIncompleteMultipartUpload rule is the backstop.
        with contextlib.suppress(ClientError, BotoCoreError):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        if isinstance(exc, (ClientError, BotoCoreError)):
            raise s3io.translate(exc, "assembling", uri) from exc
        raise
    return sum(sizes)


def _size(s3, bucket: str, key: str) -> int:
    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except (ClientError, BotoCoreError) as exc:
        raise s3io.translate(exc, "HeadObject", f"s3://{bucket}/{key}") from exc


def _part_plan(parts: list[str], sizes: list[int]) -> list[list[tuple[str, int, int]]]:
    """Each S3 part as a list of (key, first byte, end) slices of the range outputs: a single
    slice is copied server-side; several are read and joined. Every part but the last is at
    least MIN_PART."""
    plan: list[list[tuple[str, int, int]]] = []
    pending: list[tuple[str, int, int]] = []
    have = 0
    for key, size in zip(parts, sizes, strict=True):
        pos = 0
        if pending:  # top the small part up from this output
            take = min(MIN_PART - have, size)
            pending.append((key, 0, take))
            have += take
            pos = take
            if have >= MIN_PART:
                plan.append(pending)
                pending, have = [], 0
        if pos < size:
            if size - pos >= MIN_PART:
                plan.append([(key, pos, size)])
            else:
                pending, have = [(key, pos, size)], size - pos
    if pending:
        plan.append(pending)
    return plan or [[]]


def _part(s3, bucket: str, key: str, upload: str, number: int, slices) -> str:
    common = {"Bucket": bucket, "Key": key, "UploadId": upload, "PartNumber": number}
    if len(slices) == 1 and slices[0][2] - slices[0][1] >= MIN_PART:
        src, first, end = slices[0]
        done = s3.upload_part_copy(
            **common, CopySource={"Bucket": bucket, "Key": src},
            CopySourceRange=f"bytes={first}-{end - 1}",
        )  # fmt: skip
        return done["CopyPartResult"]["ETag"]
    body = b"".join(
        s3.get_object(Bucket=bucket, Key=src, Range=f"bytes={first}-{end - 1}")["Body"].read()
        for src, first, end in slices
        if end > first
    )
    return s3.upload_part(**common, Body=body)["ETag"]


def _report(
    plan: dict, items: list, done: dict, keys, written: int, rid: str, settings: Settings
) -> dict:
    """The run report of one invocation (same schema), plus how the file was split."""
    from csv_sentiment.core import LABELS

    labels = dict.fromkeys(LABELS, 0)
    rows = {"total": 0, "scored": 0, "none": 0, "rejected": 0}
    compound = 0.0
    read = 0
    for i in sorted(done):
        d = done[i]
        for k in rows:
            rows[k] += d["rows"][k]
        for k, v in d["labels"].items():
            labels[k] = labels.get(k, 0) + v
        compound += d["compound_sum"]
        read += d["bytes_read"]
    elapsed = max(0.001, time.time() - plan["started"])
    summary = Summary.merged(
        [done[i]["summary"] for i in sorted(done)], policy_of(settings.analytics_text)
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "succeeded",
        "source": plan["source"],
        "outputs": {"scored": keys.scored, "report": keys.report},
        "rows": rows,
        "labels": labels,
        "mean_compound": round(compound / rows["scored"], 6) if rows["scored"] else None,
        "text_column": plan["header"][plan["text_index"]],
        "columns": len(plan["header"]),
        "encoding": plan["encoding"]["name"],
        "encoding_fallback_used": plan["encoding"]["fallback"],
        "delimiter": csvio.DELIMITER_NAMES[plan["delimiter"]],
        "compressed": False,
        "bytes_read": read,
        "bytes_written": written,
        "duration_seconds": round(elapsed, 3),
        "rows_per_second": round(rows["total"] / elapsed, 1),
        "model": MODEL,
        "config": plan["config"],
        "request_id": rid,
        "compound_histogram": summary.histogram(),
        "extremes": summary.extremes(),
        "fanout": {
            "execution": plan.get("execution"),
            "attempt": plan.get("attempt"),
            "reason": plan.get("reason"),
            "ranges": len(items),
            "range_seconds": [done[i["index"]]["seconds"] for i in items],
            "range_bytes": [i["end"] - i["start"] for i in items],
        },
    }
