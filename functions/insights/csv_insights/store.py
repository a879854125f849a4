"""The only module that talks to S3; every function takes the client as a parameter.

Conditional writes (If-Match on the ETag read, If-None-Match: * for a first write) keep the
index's state consistent when two invocations update it at once: the loser re-reads and
applies its change again, so no update is lost and nothing is locked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

_MISSING = ("NoSuchKey", "404", "NotFound")
_CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
HTML = "text/html; charset=utf-8"


class Conflict(Exception):
    """Another writer changed the object since it was read."""


@dataclass(frozen=True)
class Read:
    body: bytes | None  # None: the object does not exist
    etag: str | None
    last_modified: object = None
    metadata: dict | None = None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _found(call, bucket: str, key: str) -> dict | None:
    """The response, or None when the object does not exist."""
    try:
        return call(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return None
        raise


def get(s3, bucket: str, key: str) -> Read:
    obj = _found(s3.get_object, bucket, key)
    if obj is None:
        return Read(None, None)
    return Read(obj["Body"].read(), obj["ETag"], obj.get("LastModified"), obj.get("Metadata"))


def head(s3, bucket: str, key: str) -> Read:
    obj = _found(s3.head_object, bucket, key)
    if obj is None:
        return Read(None, None)
    return Read(b"", obj["ETag"], obj.get("LastModified"), obj.get("Metadata") or {})


def put(s3, bucket: str, key: str, body: bytes, content_type: str, *,
        expect: Read | None = None, metadata: dict[str, str] | None = None) -> str:  # fmt: skip
    """Write `body`; with `expect`, only if the object is still what was read (or still absent).
    Returns the new ETag; raises Conflict when another writer came first."""
    args: dict = {"Bucket": bucket, "Key": key, "Body": body, "ContentType": content_type,
                  "CacheControl": "no-cache", "Metadata": metadata or {}}  # fmt: skip
    if expect is not None:
        if expect.etag is None:
            args["IfNoneMatch"] = "*"
        else:
            args["IfMatch"] = expect.etag
    try:
        return s3.put_object(**args)["ETag"]
    except ClientError as exc:
        if expect is not None and _code(exc) in _CONFLICT + _MISSING:
            raise Conflict(key) from exc
        raise


def put_json(s3, bucket: str, key: str, doc: object, *, expect: Read | None = None) -> str:
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return put(s3, bucket, key, body, "application/json", expect=expect)
