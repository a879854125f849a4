"""Watch a backfill execution: progress from the per-group records, then the summary."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.backfill import manifest as mf

Say = Callable[[str], None]
DONE_STATUSES = ("scored", "skipped", "failed")
QUIET_SECONDS = 30
FINAL_POLL_SECONDS = 0.1  # how often the end is looked for once every object is counted


@dataclass
class Progress:
    total: int
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # record keys already counted

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = f"~{left / rate:.0f} s left" if rate > 0 and left else "-"
        c = self.counts
        others = {k: v for k, v in c.items() if k not in DONE_STATUSES}
        extra = "".join(f", {k} {v:,}" for k, v in sorted(others.items()))
        return (
            f"  done {self.done:,}/{self.total:,}: scored {c.get('scored', 0):,}, skipped "
            f"{c.get('skipped', 0):,}, failed {c.get('failed', 0):,}{extra} | left {left:,} | "
            f"{rate:.1f} objects/s | {eta}"
        )


def read_records(s3: Any, bucket: str, prefix: str, progress: Progress) -> None:
    """Count the group records that appeared since the last call (finished ones only: an
    unfinished record is rewritten when its group is retried)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            if item["Key"] in progress.seen:
                continue
            record = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            if not record.get("finished"):
                continue
            progress.seen.add(item["Key"])
            for entry in record.get("objects", ()):
                status = str(entry.get("status", "?"))
                progress.counts[status] = progress.counts.get(status, 0) + 1


def watch(
    sfn: Any, s3: Any, output_bucket: str, arn: str, total: int, say: Say, poll: float = 2.0
) -> dict:
    """Print progress until the execution ends; return its description."""
    name = arn.rsplit(":", 1)[-1]
    run_id, attempt = mf.parse_name(name) or ("", 0)
    prefix = mf.group_records_prefix(run_id, attempt)
    progress = Progress(total)
    shown, shown_at = -1, 0.0
    while True:
        execution = sfn.describe_execution(executionArn=arn)
        finished = execution["status"] != "RUNNING"
        if finished or progress.done < progress.total:
            read_records(s3, output_bucket, prefix, progress)
        # A line when the count moves (or every QUIET_SECONDS, so a long group shows life).
        if progress.done != shown or time.monotonic() - shown_at >= QUIET_SECONDS:
            say(progress.line())
            shown, shown_at = progress.done, time.monotonic()
        if finished:
            return execution
        # Every object counted: only the final count step is left, well under a second.
        time.sleep(poll if progress.done < progress.total else min(poll, FINAL_POLL_SECONDS))


def summary(execution: dict, say: Say) -> int:
    """Print the final step's count; the exit status: 0 when nothing failed."""
    status = execution["status"]
    say(f"execution {execution['executionArn']}: {status}")
    if status != "SUCCEEDED":
        say(f"  error: {execution.get('error', '-')}: {str(execution.get('cause', ''))[:500]}")
        return 1
    result = json.loads(execution.get("output") or "{}")
    counts = result.get("counts", {})
    say(
        f"  {result.get('objects', 0):,} objects: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
    )
    if result.get("objects") and counts.get("skipped") == result["objects"]:
        say("  nothing to score: every object already has a current result for its version and "
            "the current scoring configuration")  # fmt: skip
    for entry in result.get("failed", []):
        report = entry.get("error_report") or "no error report"
        say(f"  failed: {entry['key']}: {entry.get('error', '')} ({report})")
    hidden = counts.get("failed", 0) - len(result.get("failed", []))
    if hidden > 0:
        say(f"  … and {hidden:,} more failed objects, all listed in {result.get('summary')}")
    for entry in result.get("handed_off", []):
        say(f"  handed off: {entry['key']}: fan-out execution {entry['execution_arn']}")
    if counts.get("failed"):
        say("  after fixing the cause, run the same command again: what was scored is skipped")
    say(f"  summary: {result.get('summary', '-')}")
    return 1 if counts.get("failed") else 0
