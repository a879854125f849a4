"""Upload zips to the artifact bucket under content-hash keys, skipping what is already there,
and mark for expiry exactly the zips no current stack references.

The bucket's lifecycle rule expires only objects tagged `UNUSED_TAG`: a zip a stack still
names (its code or layer content key) is never tagged, so it never expires and a later
failed update can always roll back to it. After every successful deploy the deployer tags
what no stack of this STACK names any more, and untags a zip that is named again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions

from infra.deploy import stacks
from infra.deploy.config import Config

# The bootstrap template's lifecycle rule filters on this tag (a test keeps them equal).
UNUSED_TAG = {"Key": "artifact-state", "Value": "unused"}
PREFIXES = ("function/", "functions/", "layers/", "statemachines/")  # what the deployer uploads

Say = Callable[[str], None]


def ensure(s3: Any, bucket: str, key: str, path: Path, say: Say = print) -> str:
    """Upload `path` to s3://bucket/key unless it is there; returns uploaded|present|reused."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
        say(f"  uploaded s3://{bucket}/{key} ({path.stat().st_size} bytes)")
        return "uploaded"
    if _untag(s3, bucket, key):
        say(f"  s3://{bucket}/{key} is used again: no longer marked for expiry")
        return "reused"
    return "present"


def in_use(cfn: Any, cfg: Config) -> set[str]:
    """Every parameter value of the current stacks of this STACK: the keys they reference
    (CodeKey, ContentKey, and whatever a later template adds) are among them."""
    values: set[str] = set()
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            if stack["StackName"].startswith(f"{cfg.stack}-") and stack.get("StackStatus") not in (
                "DELETE_COMPLETE",
            ):
                for value in stacks.parameters_of(stack).values():
                    values.update(value.split(","))
    return values


def mark_unused(s3: Any, bucket: str, used: set[str], say: Say = print) -> list[str]:
    """Tag the zips no current stack references (the lifecycle rule expires them), untag
    referenced ones. Returns the keys newly marked."""
    marked = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.startswith(PREFIXES):
                continue
            if key in used:
                _untag(s3, bucket, key)
                continue
            tags = _tags(s3, bucket, key)
            if UNUSED_TAG not in tags:
                s3.put_object_tagging(
                    Bucket=bucket, Key=key, Tagging={"TagSet": [*tags, UNUSED_TAG]}
                )
                marked.append(key)
    if marked:
        say(f"  no stack uses {len(marked)} older zip(s) any more: marked to expire")
    return marked


def _tags(s3: Any, bucket: str, key: str) -> list[dict]:
    return s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])


def _untag(s3: Any, bucket: str, key: str) -> bool:
    tags = _tags(s3, bucket, key)
    if UNUSED_TAG not in tags:
        return False
    kept = [t for t in tags if t != UNUSED_TAG]
    if kept:
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": kept})
    else:
        s3.delete_object_tagging(Bucket=bucket, Key=key)
    return True
