"""Upload zips to the artifact bucket under content-hash keys, skipping what is already there.

The bucket expires zips no deploy has used for a while; referencing a zip refreshes its age
(a copy onto itself), so the zips the deployed stacks name are never the ones that expire.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions

REFRESH_AFTER = dt.timedelta(days=30)


def ensure(s3: Any, bucket: str, key: str, path: Path, say: Callable[[str], None] = print) -> str:
    """Upload `path` to s3://bucket/key unless it is there; returns uploaded|present|refreshed."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
        say(f"  uploaded s3://{bucket}/{key} ({path.stat().st_size} bytes)")
        return "uploaded"
    age = dt.datetime.now(dt.UTC) - head["LastModified"]
    if age > REFRESH_AFTER:
        s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            MetadataDirective="REPLACE",
            ServerSideEncryption="AES256",
        )
        return "refreshed"
    return "present"
