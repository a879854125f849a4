"""`make destroy`: remove the app stack. Data is never deleted silently.

The buckets are retained by the template (DeletionPolicy: Retain). After the stack is gone,
an empty bucket is deleted (nothing to lose); a bucket holding objects is kept and named,
unless EMPTY_BUCKETS=yes asks for its data to be deleted too. Layer versions and the
artifact bucket stay: they cost storage only and make a later deploy or rollback fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
        say(f"{name}: deleting (buckets are retained by the template: {', '.join(buckets)})")
        seen = {e["EventId"] for e in stacks._events(aws.cfn, name)}
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
