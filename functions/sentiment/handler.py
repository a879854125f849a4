"""Lambda edge: decode the S3 event, score every record, log and count what happened.

Settings, the S3 client and the scoring engine are built once per container (cold start);
a missing or invalid setting fails the cold start with a message naming the variable.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from csv_sentiment import fanout, objects, s3io
from csv_sentiment import metrics as m
from csv_sentiment.errors import (
    ConfigurationError,
    MalformedEvent,
    SettingsError,
    TransientError,
    clip,
    clip_all,
)
from csv_sentiment.events import Known, ObjectRef, is_own_output, records
from csv_sentiment.job import Job, Scored
from csv_sentiment.reports import Result
from csv_sentiment.settings import Settings
from csv_sentiment.workers import make_scorer

_init_started = time.perf_counter()


def _fix_mmap_threshold() -> None:
    """Keep peak memory flat with file size. glibc raises its mmap threshold each time a large
    block is freed, so the 1-8 MiB read and part buffers end up on the heap, which fragments
    and grows with every part (measured: +50 MB over 450 MB of input). A fixed threshold keeps
    them in mmap, returned to the OS on free. No-op where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD: fixing it disables the adjustment
    except (OSError, AttributeError):
        pass


_fix_mmap_threshold()
try:
    SETTINGS = Settings.from_env()
except SettingsError as exc:
    # No validated settings to build the Logger from: log with the defaults, then fail.
    Logger(service=m.DEFAULT_SERVICE).error("invalid configuration", extra={"error": exc.as_dict()})
    raise
logger = Logger(service=SETTINGS.service_name, level=SETTINGS.log_level)
metrics = Metrics(namespace=SETTINGS.metrics_namespace, service=SETTINGS.service_name)

S3 = s3io.make_client()
# Worker processes (SCORING_WORKERS > 1) are forked here, before any thread exists.
SCORER = make_scorer(SETTINGS.scoring_engine, SETTINGS.scoring_workers)
INIT_SECONDS = round(time.perf_counter() - _init_started, 3)
logger.info(
    "initialised",
    extra={"engine": SCORER.name, "workers": SCORER.workers, "init_seconds": INIT_SECONDS},
)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: object, context) -> dict:
    global SCORER
    if not SCORER.healthy():  # a worker died (e.g. out of memory): start a fresh pool
        logger.warning("a scoring worker died; restarting the worker processes")
        SCORER.close()
        SCORER = make_scorer(SETTINGS.scoring_engine, SETTINGS.scoring_workers)
    common = {
        "settings": SETTINGS,
        "s3": S3,
        "scorer": SCORER,
        "request_id": getattr(context, "aws_request_id", "-"),
        "remaining_ms": context.get_remaining_time_in_millis,
    }
    fan = fanout.Fanout(**common, memory_mb=int(getattr(context, "memory_limit_in_mb", 1024)))
    job = Job(**common, fanout=fan)
    if objects.is_payload(event):  # before the fan-out's check, which refuses kinds it lacks
        return _objects(event, job, context)
    if fanout.is_payload(event) or fanout.unknown_kind(event):
        return _fanout_step(fan, event)
    results = [_handle(ref, job) for ref in records(event)]
    if not results:
        keys = sorted(map(str, event))[:20] if isinstance(event, dict) else []
        logger.warning("no S3 object records in the event", extra={"keys": clip_all(keys)})
    return {"results": results}


def _fanout_step(fan: fanout.Fanout, event: dict) -> dict:
    """A step of the fan-out state machine: raises on failure so the engine sees it."""
    unknown = fanout.unknown_kind(event)
    if unknown:
        logger.error("refused: unknown payload kind", extra={"kind": unknown[:100]})
        raise fanout.RangeFailed(
            f"payload kind {unknown[:100]!r} is not one this version handles: {fanout.KINDS}"
        )
    logger.append_keys(fanout_kind=event["kind"])
    try:
        result = fan.handle(event)
    except (TransientError, ConfigurationError) as exc:
        logger.exception("fan-out step failed; raising so the engine retries",
                         extra={"error": exc.as_dict()})  # fmt: skip
        raise
    except fanout.RangeFailed as exc:
        logger.error("fan-out step failed for good", extra={"error": str(exc)[:2000]})
        raise
    if event["kind"] == fanout.ASSEMBLE:
        status = result.get("status")
        name = m.FILES_SCORED if status == "succeeded" else None
        name = m.FILES_FAILED if status == "failed" else name
        if name:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        logger.info("fan-out finished", extra={"result": result})
    else:
        logger.info("fan-out step done", extra={"result": {k: result.get(k) for k in (
            "status", "index", "ranges", "rows")}})  # fmt: skip
    return result


def _objects(event: dict, job: Job, context) -> dict:
    """A backfill payload (csv_sentiment/objects.py): every object handled as one S3 record."""
    logger.append_keys(payload_kind=event["kind"])
    if event["kind"] == objects.TALLY_KIND:
        return objects.tally(event, S3, SETTINGS.output_bucket)

    def time_left() -> bool:  # room to start one more object and still stop cleanly
        return context.get_remaining_time_in_millis() > 2 * SETTINGS.time_margin_ms

    def score(ref: ObjectRef, known: Known | None) -> dict | Scored:
        return _handle(ref, job, known, hold=True)

    def committed(scored: Scored, outcome: objects.Outcome) -> dict:
        """A commit's outcome, logged and counted here: commits run in threads of their own,
        and the logger's keys are shared by the invocation."""
        logger.append_keys(bucket=scored.opened.src.bucket, key=scored.key)
        return _finish(outcome)

    return objects.score_group(event, score, job.commit, S3, SETTINGS.output_bucket, time_left,
                               SETTINGS.input_prefix, committed)  # fmt: skip


def _handle(ref: ObjectRef | MalformedEvent, job: Job, known: Known | None = None,
            hold: bool = False) -> dict | Scored:  # fmt: skip
    """One record of the event: refused, ignored or processed, and logged and counted.
    `hold`: a scored object is returned uncommitted (a backfill batch commits it)."""
    if isinstance(ref, MalformedEvent):
        logger.error("malformed event: not retried", extra={"error": ref.as_dict()})
        metrics.add_metric(name=m.EVENTS_MALFORMED, unit=MetricUnit.Count, value=1)
        return {"status": "failed", "error": ref.as_dict()}
    logger.append_keys(bucket=ref.bucket, key=ref.key)
    if ref.event_name and not ref.event_name.startswith("ObjectCreated:"):
        logger.warning(
            "ignored: only ObjectCreated events are scored; check the bucket notification",
            extra={"event_name": clip(ref.event_name)},
        )
        return {"status": "ignored", "event_name": clip(ref.event_name)}
    if is_own_output(ref, SETTINGS.output_bucket):
        logger.error(
            "refused: the event's source is this function's own output; check that the "
            "input bucket's notification does not point at the output bucket",
            extra={"event_name": clip(ref.event_name)},
        )
        metrics.add_metric(name=m.RECURSION_REFUSED, unit=MetricUnit.Count, value=1)
        return {"status": "refused", "source": {"bucket": ref.bucket, "key": ref.key}}
    if hold:
        return _finish(lambda: job.score(ref, known))
    return _finish(lambda: job.process(ref, known))


def _finish(run: Callable[[], Result | Scored]) -> Result | Scored:
    """Run a step of an object's processing; log and count its result, or its failure."""
    try:
        result = run()
    except (TransientError, ConfigurationError) as exc:
        logger.exception(
            "failed; raising so Lambda retries and the failure destination applies",
            extra={"error": exc.as_dict()},
        )
        metrics.add_metric(name=m.FILES_FAILED, unit=MetricUnit.Count, value=1)
        raise
    if not isinstance(result, Scored):  # logged and counted once committed
        _record(result)
    return result


def _record(result: Result) -> None:
    status = result["status"]
    if status == "handed-off":
        logger.info(
            "handed off to the fan-out state machine",
            extra={k: result[k] for k in ("execution_arn", "attempt", "started", "reason")},
        )
        metrics.add_metric(name=m.FILES_HANDED_OFF, unit=MetricUnit.Count, value=1)
        return
    if status == "skipped":
        logger.info("skipped duplicate delivery", extra={"reason": result["reason"]})
        metrics.add_metric(name=m.FILES_SKIPPED, unit=MetricUnit.Count, value=1)
        return
    if status == "superseded":
        logger.warning(
            "skipped: a newer version of the source exists", extra={"reason": result["reason"]}
        )
        metrics.add_metric(name=m.FILES_SUPERSEDED, unit=MetricUnit.Count, value=1)
        return
    if status == "failed":
        logger.error("file not scored", extra={"error": result["error"]})
        metrics.add_metric(name=m.FILES_FAILED, unit=MetricUnit.Count, value=1)
        return
    rows = result["rows"]
    logger.info(
        "scored",
        extra={
            "rows": rows,
            "labels": result["labels"],
            "output": result["outputs"]["scored"],
            "rows_per_second": result["rows_per_second"],
        },
    )
    metrics.add_metric(name=m.FILES_SCORED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=m.ROWS_SCORED, unit=MetricUnit.Count, value=rows["scored"])
    metrics.add_metric(name=m.ROWS_NONE, unit=MetricUnit.Count, value=rows["none"])
    metrics.add_metric(name=m.ROWS_REJECTED, unit=MetricUnit.Count, value=rows["rejected"])
    metrics.add_metric(name=m.BYTES_READ, unit=MetricUnit.Bytes, value=result["bytes_read"])
    metrics.add_metric(name=m.DURATION, unit=MetricUnit.Seconds, value=result["duration_seconds"])
