"""Lambda edge of the insights function: each new run report becomes a page and an index line.

Named insights_handler (not handler) so that it never shadows the scoring function's module
in tests or tools that load both. A report that cannot be drawn (missing, malformed, an old
schema) is logged and counted, never retried: it will not get better. Anything else (S3
errors, a failed render, a broken index state) raises, so Lambda retries the event and then
sends it to the failure queue.
"""

from __future__ import annotations

import os
import time
from urllib.parse import unquote_plus

# matplotlib writes its font cache under MPLCONFIGDIR; only /tmp is writable on Lambda.
os.environ.setdefault("MPLCONFIGDIR", "/tmp/matplotlib")

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from csv_insights import metrics as m
from csv_insights.publish import publish
from csv_insights.report import ReportProblem

_NAMESPACE = "SentimentPipeline"  # csv_sentiment.metrics.DEFAULT_NAMESPACE (a test checks)
logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or m.DEFAULT_SERVICE,
    level=os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO",
)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or _NAMESPACE,
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or m.DEFAULT_SERVICE,
)
OUTPUT_BUCKET = os.environ.get("OUTPUT_BUCKET", "")
if not OUTPUT_BUCKET:
    logger.error("invalid configuration: OUTPUT_BUCKET is not set; expected the output bucket")
    raise RuntimeError("OUTPUT_BUCKET is not set; expected the output bucket's name")


def _client():
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 6}))


S3 = _client()


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    results = []
    for record in event.get("Records") or ():
        s3 = record.get("s3") if record.get("eventSource") == "aws:s3" else None
        if not isinstance(s3, dict):
            continue
        bucket = str(s3.get("bucket", {}).get("name", ""))
        key = unquote_plus(str(s3.get("object", {}).get("key", "")))
        logger.append_keys(bucket=bucket, key=key[:300])
        results.append(_one(bucket, key, str(record.get("eventName", ""))))
    if not results:
        logger.warning("no S3 object records in the event", extra={"keys": sorted(event)[:20]})
    return {"results": results}


def _one(bucket: str, key: str, event_name: str) -> dict:
    if not event_name.startswith("ObjectCreated:"):
        logger.warning("ignored: only new reports are drawn", extra={"event_name": event_name})
        return {"status": "ignored", "event_name": event_name}
    if bucket != OUTPUT_BUCKET:
        logger.error("refused: the report is not in OUTPUT_BUCKET; check the notification",
                     extra={"expected_bucket": OUTPUT_BUCKET})  # fmt: skip
        metrics.add_metric(name=m.REPORTS_REJECTED, unit=MetricUnit.Count, value=1)
        return {"status": "refused"}
    started = time.perf_counter()
    try:
        done = publish(S3, bucket, key)
    except ReportProblem as exc:
        logger.error("report not drawn; the index is unchanged", extra={"error": exc.as_dict()})
        metrics.add_metric(name=m.REPORTS_REJECTED, unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "error": exc.as_dict()}
    except Exception:
        logger.exception("failed; raising so Lambda retries and the failure destination applies")
        raise
    seconds = round(time.perf_counter() - started, 3)
    logger.info("page written", extra={**done, "seconds": seconds})
    metrics.add_metric(name=m.PAGES_WRITTEN, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=m.INDEX_CONFLICTS, unit=MetricUnit.Count, value=done["conflicts"])
    metrics.add_metric(name=m.RENDER_DURATION, unit=MetricUnit.Seconds, value=seconds)
    return {"status": "written", **done}
