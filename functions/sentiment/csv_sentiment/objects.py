"""Backfill payloads: score a group of objects that already sit in the input bucket.

The backfill state machine (infra/statemachines/backfill.asl.json) reads a manifest of groups
and invokes this function once per group with a versioned payload, told apart from S3 events
by its `kind`. Every object goes through the same Job as an S3 event (`Job.score`, then
`Job.commit` a batch at a time: see Batch), so the duplicate check decides what is scored: a
second backfill scores nothing, a configuration change scores again. Each group leaves a
record of what happened to each of its objects; the final step (`sentiment.objects-tally/v1`)
counts from those records, not from the Map's verdict (the local interpreter reports failed
children as successes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from csv_sentiment import s3io
from csv_sentiment.events import Known, ObjectRef, output_keys
from csv_sentiment.job import Scored

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
# A batch of scored objects committed after one currency check (Batch): at most this many
# objects, or this many bytes of results held in memory.
BATCH_OBJECTS = 32
BATCH_BYTES = 16 * 2**20
COMMIT_THREADS = 4


class GroupUnfinished(Exception):
    """Raised when the invocation runs short of time inside a group. The state machine retries
    the group; the duplicate check skips the objects this attempt finished."""


class Entry(TypedDict, total=False):
    key: str
    status: str  # scored | skipped | failed | handed-off | <another Job.score/commit status>
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


Commit = Callable[[Scored, s3io.SourceObject | None], dict]
Outcome = Callable[[], dict]  # returns a commit's result or raises its exception


def score_group(
    payload: dict,
    score: Callable[[ObjectRef, Known | None], dict | Scored],
    commit: Commit,
    s3,
    output_bucket: str,
    time_left: Callable[[], bool],
    input_prefix: str,
    committed: Callable[[Scored, Outcome], dict] = lambda _, outcome: outcome(),
) -> dict:
    """Score each object of the group (`score`: Job.score) and record the outcome. Scored
    objects are committed (`commit`: Job.commit, called from several threads at once) a batch
    at a time, after one listing has confirmed that their sources are still the versions read
    (see Batch); `committed` sees each commit's outcome in this thread, in the group's order
    (the handler logs and counts it there)."""
    keys = run_keys(payload.get("run") or {})
    bucket, group = _group(payload)
    known = _known_outputs(s3, output_bucket, [o["key"] for o in group["objects"]], input_prefix)
    entries: list[Entry] = []
    batch = Batch(s3, bucket, output_bucket, commit, committed, entries)
    try:
        for obj in group["objects"]:
            if entries and not time_left():
                batch.commit()
                _put_record(s3, output_bucket, keys, group, entries, finished=False)
                raise GroupUnfinished(
                    f"group {group['index']}: {len(entries)} of {len(group['objects'])} objects"
                    " done before the invocation ran short of time; retry to finish the rest"
                )
            key = obj["key"]
            if not accepted(key):
                entries.append({"key": key, "status": "failed", "error": _not_accepted(key)})
                continue
            if key in batch:  # listed twice: checked again once the first has committed
                batch.commit()
            ref = ObjectRef(bucket, key, None, str(obj.get("etag", "")),
                            int(obj.get("size", 0)), EVENT_NAME)  # fmt: skip
            # pop: a key listed twice in a payload is checked again the second time, when the
            # first has written its results.
            outcome = score(ref, known.pop(key, None))
            if isinstance(outcome, Scored):
                batch.add(outcome)
            else:
                entries.append(_entry(key, outcome, output_bucket))
        batch.commit()
    finally:
        batch.abort()  # what an exception left uncommitted: nothing of it becomes visible
    _put_record(s3, output_bucket, keys, group, entries, finished=True)
    # Counts only: a Step Functions state's output is limited to 256 KB.
    return {"group": group["index"], "counts": _count(entries)}


class Batch:
    """Scored objects whose results wait for one check that their sources are still current.

    A run commits only if the version it read is still the key's current one (a newer upload
    scored meanwhile must not be overwritten); an S3 event asks with a HEAD per object. A
    batch asks once: one ListObjectVersions over the batch's span (s3io.current_versions)
    finds every current version, and only a key it cannot decide gets a HEAD. Then its objects
    are committed COMMIT_THREADS at a time (a small object's commit is three PUTs of S3
    latency). The batch is committed when it reaches BATCH_OBJECTS or BATCH_BYTES held, and at
    the group's end; its size bounds both the memory held and how much later than its check
    the last object is committed."""

    def __init__(self, s3, bucket: str, output_bucket: str, commit: Commit,
                 committed: Callable[[Scored, Outcome], dict], entries: list[Entry]
                 ) -> None:  # fmt: skip
        self._s3, self._bucket, self._output_bucket = s3, bucket, output_bucket
        self._commit, self._committed, self._entries = commit, committed, entries
        self._held: list[tuple[int, Scored]] = []  # (index of its entry, the scored object)

    def __contains__(self, key: str) -> bool:
        return any(scored.key == key for _, scored in self._held)

    def add(self, scored: Scored) -> None:
        self._entries.append({"key": scored.key, "status": "scoring"})  # replaced on commit
        self._held.append((len(self._entries) - 1, scored))
        if len(self._held) >= BATCH_OBJECTS or sum(s.held_bytes for _, s in self._held) >= (
            BATCH_BYTES
        ):
            self.commit()

    def commit(self) -> None:
        """Commit every held object; the first failure is raised once every outcome has
        been seen (Job.commit aborts what it cannot commit)."""
        if not self._held:
            return
        current = s3io.current_versions(self._s3, self._bucket, {s.key for _, s in self._held},
                                         _listings_for(len(self._held)))  # fmt: skip
        held, self._held = self._held, []
        with ThreadPoolExecutor(COMMIT_THREADS, thread_name_prefix="commit") as pool:
            running = [(index, scored, pool.submit(self._commit, scored, current.get(scored.key)))
                       for index, scored in held]  # fmt: skip
        failure: BaseException | None = None
        for index, scored, future in running:
            try:
                result = self._committed(scored, future.result)
            except BaseException as exc:  # raised below, once every outcome is seen
                failure = failure or exc
                continue
            self._entries[index] = _entry(scored.key, result, self._output_bucket)
        if failure is not None:
            raise failure

    def abort(self) -> None:
        for _, scored in self._held:
            scored.abort()
        self._held.clear()


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
    most = _listings_for(len(outputs))
    _, no_report = s3io.existing_keys(s3, output_bucket, {o.report for o in outputs.values()}, most)
    _, no_error = s3io.existing_keys(s3, output_bucket, {o.error for o in outputs.values()}, most)
    return {
        key: Known(report_absent=o.report in no_report, error_absent=o.error in no_error)
        for key, o in outputs.items()
    }


def _listings_for(keys: int) -> int:
    """The listing requests a bounded listing of `keys` may make: scattered keys cost a
    listing each, so past this many the rest are asked about one by one."""
    return 2 + keys // 20


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
