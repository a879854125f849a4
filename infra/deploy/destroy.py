"""`make destroy`: remove the app stack. Data is never deleted silently.

The buckets are retained by the template (DeletionPolicy: RetainExceptOnCreate). After the
stack is gone, an empty bucket is deleted (nothing to lose); a bucket holding objects is kept
and named, unless EMPTY_BUCKETS=yes asks for its data to be deleted too. The events waiting
in the failure queue (which goes with the stack) are first saved under build/failed-events/.
Layer versions and the artifact bucket stay: they cost storage only and make a later deploy
or rollback fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions

from infra.deploy import stacks
from infra.deploy.aws import Aws
from infra.deploy.config import Config
from infra.deploy.errors import DeployError

Say = Callable[[str], None]
_BUCKETS = ("InputBucket", "OutputBucket")


@dataclass
class DestroyReport:
    deleted_stack: bool = False
    deleted_buckets: list[str] = field(default_factory=list)
    kept_buckets: list[str] = field(default_factory=list)
    saved_events: Path | None = None


def destroy(cfg: Config, aws: Aws, say: Say = print) -> DestroyReport:
    report = DestroyReport()
    name = cfg.app_stack
    stack = stacks.describe(aws.cfn, name)
    if stack is None:
        # The buckets a previous destroy kept still carry the names the template builds.
        buckets = [b for b in kept_bucket_names(cfg, aws) if _exists(aws.s3, b)]
        if not buckets:
            say(f"{name}: no such stack, nothing to destroy")
            return report
        say(f"{name}: already gone; its buckets are still here: {', '.join(buckets)}")
    else:
        ids = stacks.physical_ids(aws.cfn, name)
        buckets = [ids[b] for b in _BUCKETS if b in ids]
        if ids.get("FailureQueue"):
            report.saved_events = save_failed_events(cfg, aws, ids["FailureQueue"], say)
        say(f"{name}: deleting (buckets are retained by the template: {', '.join(buckets)})")
        seen = stacks.marker(aws.cfn, name)
        aws.cfn.delete_stack(StackName=name)
        status = stacks._stream(aws.cfn, stack["StackId"], seen, 0, say, cfg.poll_seconds)
        if status != "DELETE_COMPLETE":
            reason = stacks._first_failure(aws.cfn, stack["StackId"], seen) or status
            raise DeployError(
                f"deleting {name} failed: {reason}", "fix the cause and run `make destroy` again"
            )
        report.deleted_stack = True

    for bucket in buckets:
        if not _exists(aws.s3, bucket):
            continue
        count = _count_versions(aws.s3, bucket)
        if count and not cfg.empty_buckets:
            report.kept_buckets.append(bucket)
            continue
        if count:
            _empty(aws.s3, bucket)
            say(f"  emptied s3://{bucket} ({count} object versions deleted, EMPTY_BUCKETS=yes)")
        aws.s3.delete_bucket(Bucket=bucket)
        report.deleted_buckets.append(bucket)
        say(f"  deleted bucket {bucket}")
    if report.kept_buckets:
        say("kept, because they hold data (nothing is deleted unless you ask):")
        for bucket in report.kept_buckets:
            say(f"  s3://{bucket}")
        say(
            f"A later `make deploy` with STACK={cfg.stack} creates buckets with these same "
            "names, so it fails while they exist. Copy what you need "
            "(`aws s3 sync s3://<bucket> <dir>`), then run `make destroy EMPTY_BUCKETS=yes`, "
            "or deploy under another STACK."
        )
    say(
        f"kept for a later deploy or rollback (storage only): the layer stacks "
        f"{cfg.layer_stack('*')} with their versions and {cfg.bootstrap_stack} with its "
        "artifact bucket; docs/deploy.md says how to remove them too."
    )
    return report


def save_failed_events(cfg: Config, aws: Aws, queue: str, say: Say = print) -> Path | None:
    """Write every message waiting in the failure queue to build/failed-events/ (one JSON line
    each), before the stack deletes the queue. Refuses while messages are in flight."""
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    in_flight = int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
    if in_flight:
        raise DeployError(
            f"{in_flight} failed event(s) in the failure queue are being processed right now "
            "(a `make redrive` running?); destroying would lose them",
            "wait until it has finished (or their visibility timeout has passed), then run "
            "`make destroy` again",
        )
    messages: dict[str, dict] = {}
    while True:
        batch = aws.sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=600,  # longer than the rest of the drain and the delete
            AttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        for m in batch:
            messages.setdefault(
                m["MessageId"],
                {"MessageId": m["MessageId"], "Body": m["Body"], "Attributes": m.get("Attributes")},
            )
    if not messages:
        return None
    out = cfg.build_dir / "failed-events"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{cfg.app_stack}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.jsonl"
    with path.open("x") as f:
        for message in messages.values():
            f.write(json.dumps(message) + "\n")
    say(
        f"  saved the {len(messages)} event(s) waiting in the failure queue to {path} (one "
        "Lambda destination record per line; its requestPayload is the S3 event to send again "
        "after a new deploy, see docs/deploy.md)"
    )
    return path


def kept_bucket_names(cfg: Config, aws: Aws) -> list[str]:
    """The names app.yaml gives the input and output buckets."""
    return [f"{cfg.app_stack}-{kind}-{aws.account}-{aws.region}" for kind in ("in", "out")]


def _exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except botocore.exceptions.ClientError:
        return False


def _count_versions(s3: Any, bucket: str) -> int:
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    return count


def _empty(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        items = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(items), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": items[start : start + 1000]})
