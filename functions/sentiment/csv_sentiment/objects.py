"""Backfill payloads: score a group of objects that already sit in the input bucket.

The backfill state machine (infra/statemachines/backfill.asl.json) reads a manifest of groups
and invokes this function once per group with a versioned payload, told apart from S3 events
by its `kind`. Every object goes through the same `Job.process` as an S3 event, so the
duplicate check decides what is scored: a second backfill scores nothing, a configuration
change scores again. Each group leaves a record of what happened to each of its objects; the
final step (`sentiment.objects-tally/v1`) counts from those records, not from the Map's
verdict (the local interpreter reports failed children as successes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from csv_sentiment import s3io
from csv_sentiment.events import Known, ObjectRef, output_keys

GROUP_KIND = "sentiment.objects/v1"
TALLY_KIND = "sentiment.objects-tally/v1"
KINDS = (GROUP_KIND, TALLY_KIND)
# The object names the function scores (the S3 notification's suffix filters in app.yaml, and
# the backfill's listing filter, agree with this; a test checks both).
ACCEPTED_SUFFIXES = (".csv", ".csv.gz")
RECORDS_PREFIX = "backfill/"  # in the output bucket: manifests, per-group records, summaries
EVENT_NAME = ""  # a backfilled object has no S3 event (the handler treats it as a creation)
_RUN_ID = re.compile(r"^[0-9a-f]{20}$")
_MAX_LISTED = 100  # failed keys returned in the execution's output (all are in summary.json)
_MAX_TEXT = 300  # characters of an error message copied into a record


class GroupUnfinished(Exception):
    """Raised when the invocation runs short of time inside a group. The state machine retries
    the group; the duplicate check skips the objects this attempt finished."""


class Entry(TypedDict, total=False):
    key: str
    status: str  # scored | skipped | failed | handed-off | <another Job.process status>
    error: str
    error_report: str
    execution_arn: str


def is_payload(event: dict) -> bool:
    return isinstance(event, dict) and event.get("kind") in KINDS


def accepted(key: str) -> bool:
    return key.endswith(ACCEPTED_SUFFIXES)


def run_keys(run: dict) -> dict[str, str]:
    """Where a backfill run keeps its manifest, group records and summary (output bucket)."""
    run_id, attempt = run.get("id"), run.get("attempt")
    if not (isinstance(run_id, str) and _RUN_ID.match(run_id)):
        raise ValueError(f"run id {str(run_id)[:40]!r} is invalid; expected 20 hex digits")
    if not (isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1):
        raise ValueError(f"run attempt {str(attempt)[:20]!r} is invalid; expected an integer ≥ 1")
    base = f"{RECORDS_PREFIX}{run_id}/"
    return {
        "manifest": f"{base}manifest.json",
        "groups": f"{base}attempt-{attempt}/groups/",
        "summary": f"{base}attempt-{attempt}/summary.json",
    }


def group_record_key(keys: dict[str, str], index: int) -> str:
    return f"{keys['groups']}{index:06d}.json"


def score_group(
    payload: dict,
    process: Callable[[ObjectRef, Known | None], dict],
    s3,
    output_bucket: str,
    time_left: Callable[[], bool],
    input_prefix: str,
) -> dict:
    """Score each object of the group with `process` (Job.process) and record the outcome."""
    keys = run_keys(payload.get("run") or {})
    bucket, group = _group(payload)
    known = _known_outputs(s3, output_bucket, [o["key"] for o in group["objects"]], input_prefix)
    entries: list[Entry] = []
    for obj in group["objects"]:
        if entries and not time_left():
            _put_record(s3, output_bucket, keys, group, entries, finished=False)
            raise GroupUnfinished(
                f"group {group['index']}: {len(entries)} of {len(group['objects'])} objects "
                "done before the invocation ran short of time; retry to finish the rest"
            )
        key = obj["key"]
        if not accepted(key):
            entries.append({"key": key, "status": "failed", "error": _not_accepted(key)})
            continue
        ref = ObjectRef(bucket, key, None, str(obj.get("etag", "")), int(obj.get("size", 0)),
                        EVENT_NAME)  # fmt: skip
        # pop: a key listed twice in a payload is checked again the second time, when the
        # first has written its results.
        entries.append(_entry(key, process(ref, known.pop(key, None)), output_bucket))
    _put_record(s3, output_bucket, keys, group, entries, finished=True)
    # Counts only: a Step Functions state's output is limited to 256 KB.
    return {"group": group["index"], "counts": _count(entries)}


def _known_outputs(s3, output_bucket: str, keys: list[str], input_prefix: str
                   ) -> dict[str, Known]:  # fmt: skip
    """Which of the group's objects have no run report or no error report yet, from a few
    listings bounded to the group's span instead of a GET and a HEAD per object (a group
    follows the listing order, so its outputs are neighbours). A first-time object then skips
    its duplicate check and its stale-error cleanup; an object with a report is checked as an
    S3 event is. Safe because what the listing cannot see is caught later:
    - `make backfill` refuses to run while a backfill over an overlapping prefix runs
      (infra/backfill/run.py start_or_attach), so no other group writes these keys meanwhile;
    - the superseded checks (Job._current_source, Job._check_still_current) are unchanged;
    - a report written by an S3-event run after the listing makes our commit's conditional
      PUT (If-None-Match: *) fail, and analytics.commit_report then replaces that report and
      deletes the rows it recorded: no report or dataset row is lost or doubled; at worst the
      same version is scored twice. An error report such a run writes after the listing stays
      beside our success, as one written after the HEAD would without the listing."""
    outputs = {key: output_keys(key, input_prefix) for key in keys if accepted(key)}
    outputs = {key: o for key, o in outputs.items() if o.fits}  # the rest fail before asking
    # Scattered keys cost a listing each: past this many, the rest are checked one by one.
    most = 2 + len(outputs) // 20
    _, no_report = s3io.existing_keys(s3, output_bucket, {o.report for o in outputs.values()}, most)
    _, no_error = s3io.existing_keys(s3, output_bucket, {o.error for o in outputs.values()}, most)
    return {
        key: Known(report_absent=o.report in no_report, error_absent=o.error in no_error)
        for key, o in outputs.items()
    }


def _group(payload: dict) -> tuple[str, dict]:
    bucket, group = payload.get("bucket"), payload.get("group")
    objects = group.get("objects") if isinstance(group, dict) else None
    valid = (
        isinstance(bucket, str)
        and bucket
        and isinstance(objects, list)
        and isinstance(group.get("index"), int)
        and all(isinstance(o, dict) and isinstance(o.get("key"), str) for o in objects)
    )
    if not valid:
        raise ValueError(
            f"a {GROUP_KIND} payload needs 'bucket' (a name) and 'group' "
            "{'index': int, 'objects': [{'key': str, 'etag': str, 'size': int}, …]}"
        )
    return bucket, group


def _not_accepted(key: str) -> str:
    return f"not scored: the name does not end in {' or '.join(ACCEPTED_SUFFIXES)} ({key[-80:]!r})"


def _entry(key: str, result: dict, output_bucket: str) -> Entry:
    status = result.get("status", "")
    entry: Entry = {"key": key, "status": "scored" if status == "succeeded" else status}
    if status == "failed":
        error = result.get("error") or {}
        entry["error"] = str(error.get("message", ""))[:_MAX_TEXT]
        report = (result.get("outputs") or {}).get("error")
        if report:
            entry["error_report"] = f"s3://{output_bucket}/{report}"
    for field in ("execution_arn", "executionArn"):
        if result.get(field):
            entry["execution_arn"] = str(result[field])
    return entry


def _count(entries: list[Entry]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return counts


def _put_record(s3, bucket: str, keys: dict, group: dict, entries: list, finished: bool) -> None:
    record = {"group": group["index"], "finished": finished, "objects": entries}
    s3io.put_json(s3, bucket, group_record_key(keys, group["index"]), record)


def tally(payload: dict, s3, output_bucket: str) -> dict:
    """Count the run's outcome from the per-group records and the manifest: an object whose
    group left no record (its invocation failed after the retries) counts as failed."""
    keys = run_keys(payload.get("run") or {})
    manifest = s3io.get_json(s3, output_bucket, keys["manifest"])
    if not isinstance(manifest, list):
        raise ValueError(
            f"the manifest s3://{output_bucket}/{keys['manifest']} is missing or not a JSON list"
        )
    records = {r["group"]: r for r in _records(s3, output_bucket, keys["groups"])}
    counts: dict[str, int] = {}
    failed: list[Entry] = []
    handed_off: list[Entry] = []
    for group in manifest:
        done = {e["key"]: e for e in records.get(group["index"], {}).get("objects", [])}
        for obj in group["objects"]:
            entry = done.get(obj["key"]) or {
                "key": obj["key"],
                "status": "failed",
                "error": "no record: the group's invocation failed after its retries; "
                "see the execution's history",
            }
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
            if entry["status"] == "failed":
                failed.append(entry)
            elif entry.get("execution_arn"):
                handed_off.append(entry)
    summary = {
        "run": payload["run"],
        "objects": sum(counts.values()),
        "counts": counts,
        "failed": failed,
        "handed_off": handed_off,
    }
    s3io.put_json(s3, output_bucket, keys["summary"], summary)
    return {
        **summary,
        "failed": failed[:_MAX_LISTED],
        "handed_off": handed_off[:_MAX_LISTED],
        "summary": f"s3://{output_bucket}/{keys['summary']}",
    }


def _records(s3, bucket: str, prefix: str) -> Iterator[dict]:
    try:
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", ())
        ]
    except (ClientError, BotoCoreError) as exc:
        raise s3io.translate(exc, "ListObjectsV2", f"s3://{bucket}/{prefix}") from exc
    for key in keys:
        record = s3io.get_json(s3, bucket, key)
        if isinstance(record, dict) and isinstance(record.get("group"), int):
            yield record
