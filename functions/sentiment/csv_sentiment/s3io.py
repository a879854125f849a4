"""The only module that talks to S3. Every function takes the client as a parameter.

AWS errors are translated here, at the I/O boundary, into the function's error types:
throttling/5xx/network → TransientError (raised, Lambda retries); access denied or a missing
bucket → ConfigurationError (raised, alarms); a missing source → SourceGone (reported).
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import json
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from csv_sentiment.errors import (
    ConfigurationError,
    InvalidMetadata,
    SentimentError,
    SourceGone,
    Superseded,
    TransientError,
)
from csv_sentiment.memory import READ_CHUNK, UPLOADS_IN_FLIGHT

_READ_AHEAD = 8  # chunks buffered by the reader thread: bounded memory
_RESUMES = 3  # a broken stream is resumed with a ranged GET this many times
_LIST_SLACK = 64  # keys a bounded listing asks for beyond the ones it looks for (existing_keys)
_TRANSIENT_CODES = {
    "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
    "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
    "RequestTimeTooSkewed", "OperationAborted",
}  # fmt: skip
_CONFIG_CODES = {
    "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "NoSuchBucket", "ExpiredToken", "InvalidToken", "AccountProblem", "InvalidObjectState",
    "KMS.DisabledException", "KMS.NotFoundException", "AuthorizationHeaderMalformed",
    "PermanentRedirect",
}  # fmt: skip


def client_config() -> Config:
    """Standard retry mode retries throttling, 5xx and resets with backoff before we see them."""
    return Config(
        retries={"mode": "standard", "max_attempts": 6},
        connect_timeout=5,
        read_timeout=60,
        tcp_keepalive=True,
    )


def make_client():
    import boto3  # the runtime ships it; imported here so the core stays boto3-free

    client = boto3.client("s3", config=client_config())
    # After botocore's own `before-call.s3` handler, which adds the Expect header.
    client.meta.events.register_last("before-call.s3", _small_bodies_at_once)
    return client


EXPECT_CONTINUE_BYTES = 2**20  # a PutObject body up to this size goes with its headers


def _small_bodies_at_once(model: Any, params: dict, **_: Any) -> None:
    """botocore sends every PutObject's headers first and its body only once S3 has answered
    `100 Continue` (Expect: 100-continue), a round trip meant to spare sending a big body that
    S3 would refuse. A report, a small file's scored CSV or its dataset rows are a few KB: that
    round trip is all it would spare, so they go out with their headers (bigger bodies and
    multipart parts keep the handshake)."""
    from botocore.utils import determine_content_length

    if model.name != "PutObject":
        return
    body = params.get("body")
    size = determine_content_length(body) if body is not None else None
    if size is not None and size <= EXPECT_CONTINUE_BYTES:
        params["headers"].pop("Expect", None)


def translate(exc: Exception, action: str, uri: str) -> SentimentError:
    """Turn a botocore exception into one of ours, with what to fix."""
    if isinstance(exc, NoCredentialsError):
        return ConfigurationError(
            f"{action} {uri}: no AWS credentials", expected="the function's execution role"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        text = f"{action} {uri} failed: {code} {error.get('Message', '')}".strip()
        # PreconditionFailed: reads of an unversioned source are pinned with If-Match to the
        # ETag inspected first, so it fails only when the object was replaced meanwhile.
        if code == "PreconditionFailed":
            return Superseded(
                f"{text}: the object was replaced while it was read; the newer upload's own "
                "event scores it"
            )
        if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
            return SourceGone(
                f"{text}: the object (or this version) no longer exists",
                expected="the uploaded object to stay in place until scored",
            )
        if code in _CONFIG_CODES or status in (301, 403):
            return ConfigurationError(
                text,
                expected="the buckets to exist and the function's role to allow this action "
                "(check OUTPUT_BUCKET, the bucket policies and the KMS key policy)",
            )
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientError(text, expected="S3 to recover; Lambda retries the event")
        return ConfigurationError(text, expected="a request S3 accepts")
    if isinstance(exc, BotoCoreError):
        return TransientError(
            f"{action} {uri} failed: {exc}", expected="the network to S3 to recover"
        )
    raise exc


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    content_encoding: str
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None  # when this version was uploaded

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def head_source(s3, bucket: str, key: str, version_id: str | None) -> SourceObject:
    extra = {"VersionId": version_id} if version_id else {}
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **extra)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "HeadObject", f"s3://{bucket}/{key}") from exc
    return _source(bucket, key, head, version_id)


def open_source(s3, bucket: str, key: str) -> tuple[SourceObject, Any]:
    """The key's current version and its body, from one GET: what HEAD and then GET would
    tell, when nothing needs deciding before the bytes are read (a backfill object that has no
    report yet). The caller reads the body (iter_object's `body`) or closes it."""
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "GetObject", f"s3://{bucket}/{key}") from exc
    try:
        return _source(bucket, key, got, None), got["Body"]
    except InvalidMetadata:
        got["Body"].close()
        raise


def _source(bucket: str, key: str, head: dict, version_id: str | None) -> SourceObject:
    """A SourceObject from the headers of a HEAD or a whole-object GET."""
    return SourceObject(
        bucket=bucket,
        key=key,
        version_id=head.get("VersionId") or version_id,
        etag=head.get("ETag", "").strip('"'),
        size=int(head.get("ContentLength", 0)),
        content_encoding=(head.get("ContentEncoding") or "").lower(),
        metadata={
            k.lower(): decode_metadata(k, v) for k, v in (head.get("Metadata") or {}).items()
        },
        last_modified=head.get("LastModified"),
    )


def decode_metadata(name: str, value: str) -> str:
    """S3 returns non-ASCII user metadata RFC 2047-encoded (`=?UTF-8?B?…?=`): decode it."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, ValueError, email.errors.HeaderParseError) as exc:
        raise InvalidMetadata(
            f"the object's metadata {name!r:.80} is not valid RFC 2047: {exc}"[:300],
            expected="metadata in plain ASCII, or UTF-8 (S3 encodes it as RFC 2047)",
        ) from None


def _open(s3, src: SourceObject, start: int, end: int | None = None):
    # Pin what we read to what we inspected: the version if versioned, else the ETag.
    pin = {"VersionId": src.version_id} if src.version_id else {"IfMatch": f'"{src.etag}"'}
    last = "" if end is None else str(end - 1)
    rng = {"Range": f"bytes={start}-{last}"} if start or end is not None else {}
    try:
        return s3.get_object(Bucket=src.bucket, Key=src.key, **pin, **rng)["Body"]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "GetObject", src.uri) from exc


def iter_object(
    s3,
    src: SourceObject,
    chunk_size: int = READ_CHUNK,
    start: int = 0,
    end: int | None = None,
    body: Any = None,
) -> Iterator[bytes]:
    """The object's bytes [start, end) in chunks (all of it by default; a fan-out range is a
    part of it); a stream broken mid-way resumes where it stopped. `body`: the whole object's
    stream, already opened by open_source (a resumed read is pinned to its version)."""
    stop = src.size if end is None else end
    if end is not None and start >= end:
        return
    position, resumes = start, 0
    if body is None:
        body = _open(s3, src, start, end)
    while True:
        try:
            chunk = body.read(chunk_size)
        except BotoCoreError as exc:
            body.close()
            resumes += 1
            if resumes > _RESUMES or position >= stop:
                raise translate(exc, "GetObject (reading)", src.uri) from exc
            body = _open(s3, src, position, end)
            continue
        if not chunk:
            body.close()
            return
        position += len(chunk)
        yield chunk


def read_ahead(chunks: Iterator[bytes], depth: int = _READ_AHEAD) -> Iterator[bytes]:
    """Fetch the next chunks in a thread while the caller scores (sockets release the GIL)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def pump() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        q.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=pump, name="s3-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class OutputObject:
    """The scored CSV, visible only when complete.

    Parts are uploaded by background threads (bounded: at most UPLOADS_IN_FLIGHT) while scoring
    goes on; `complete()` finishes the multipart upload, and any failure before that aborts
    it, so a half-written object never exists. A file smaller than one part is a single
    PutObject at the end, which is just as atomic and costs one request instead of three.
    """

    def __init__(
        self, s3, bucket: str, key: str, part_size: int, content_type: str, gzip: bool = False
    ):
        self.s3, self.bucket, self.key = s3, bucket, key
        # gzip: compressed as it is written (level 1: the fastest, ~2.4x on CSV), so the parts
        # are counted in compressed bytes and every part but the last reaches S3's 5 MiB.
        self._deflate = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if gzip else None
        self.part_size, self.content_type = part_size, content_type
        self.uri = f"s3://{bucket}/{key}"
        self._buffer: list[bytes | memoryview] = []
        self._buffered = 0
        self._upload_id: str | None = None
        self._parts: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        """Buffer `data`; every full part goes up. A write larger than a part is cut into
        parts (views, not copies), so no part, and no join of one, exceeds `part_size`."""
        if self._deflate:
            data = self._deflate.compress(data)
        self.bytes_written += len(data)
        view = memoryview(data)
        while len(view) >= self.part_size - self._buffered:
            room = self.part_size - self._buffered
            self._buffer.append(view[:room])
            view = view[room:]
            self._flush_part()
        if view:
            self._buffer.append(view)
            self._buffered += len(view)

    def _call(self, action: str, fn, **kwargs):
        try:
            return fn(Bucket=self.bucket, Key=self.key, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, action, self.uri) from exc

    def _flush_part(self) -> None:
        data = b"".join(self._buffer)
        self._buffer, self._buffered = [], 0
        if self._upload_id is None:
            created = self._call(
                "CreateMultipartUpload",
                self.s3.create_multipart_upload,
                ContentType=self.content_type,
            )
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(UPLOADS_IN_FLIGHT, thread_name_prefix="s3-part")
        # Back-pressure: memory holds at most UPLOADS_IN_FLIGHT parts plus the one being filled.
        if len(self._parts) >= UPLOADS_IN_FLIGHT:
            self._parts[-UPLOADS_IN_FLIGHT].result()
        number = len(self._parts) + 1
        self._parts.append(self._pool.submit(self._upload_part, number, data))

    def _upload_part(self, number: int, data: bytes) -> dict:
        response = self._call(
            f"UploadPart {number}",
            self.s3.upload_part,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def complete(self) -> None:
        if self._deflate:
            tail = self._deflate.flush()
            self._buffer.append(tail)
            self.bytes_written += len(tail)
        if self._upload_id is None:
            self._call(
                "PutObject",
                self.s3.put_object,
                Body=b"".join(self._buffer),
                ContentType=self.content_type,
            )
            return
        if self._buffer:
            self._flush_part()
        parts = [f.result() for f in self._parts]
        self._call(
            "CompleteMultipartUpload",
            self.s3.complete_multipart_upload,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
        )
        self._shutdown()

    def abort(self) -> None:
        """Best effort: wait for parts in flight, then abort, so no orphan parts are billed."""
        self._buffer = []
        if self._upload_id is None:
            return
        for f in self._parts:
            f.exception()
        # Best effort: the bucket's lifecycle rule cleans up incomplete uploads anyway.
        with contextlib.suppress(ClientError, BotoCoreError):
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )
        self._shutdown()

    def _shutdown(self) -> None:
        if self._pool:
            self._pool.shutdown(wait=True)
            self._pool = None


@dataclass(frozen=True)
class JsonRead:
    """A JSON document as read, with what a conditional write needs to replace exactly it."""

    document: dict | None  # None: absent, or not valid JSON (no proof of anything)
    etag: str | None  # as S3 returns it (quoted); None: there was no object at the key
    body: bytes = b""


ABSENT = JsonRead(None, None)  # what reading a key that has no object returns


class WriteConflict(Exception):
    """A conditional write found the object changed (or created, or deleted) since it was read."""


# PreconditionFailed: If-Match / If-None-Match did not hold; ConditionalRequestConflict: another
# conditional write to the key was in progress; NoSuchKey: If-Match on an object deleted since.
_CONFLICT_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey"}


def read_json(s3, bucket: str, key: str) -> JsonRead:
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
        body = obj["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return ABSENT
        raise translate(exc, "GetObject", f"s3://{bucket}/{key}") from exc
    except BotoCoreError as exc:
        raise translate(exc, "GetObject", f"s3://{bucket}/{key}") from exc
    try:
        document = json.loads(body)
    except ValueError:
        document = None  # an unreadable report is no proof of a previous success
    return JsonRead(document, obj.get("ETag") or None, body)


def get_json(s3, bucket: str, key: str) -> dict | None:
    return read_json(s3, bucket, key).document


def json_body(document: dict) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode()


def put_json(s3, bucket: str, key: str, document: dict, *, replacing: JsonRead | None = None
             ) -> None:  # fmt: skip
    """Write `document`. With `replacing`, only if the key still holds what was read (If-Match
    its ETag) or, if nothing was there, still nothing (If-None-Match: *); otherwise
    WriteConflict, and nothing is written."""
    condition = {}
    if replacing is not None:
        condition = {"IfMatch": replacing.etag} if replacing.etag else {"IfNoneMatch": "*"}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=json_body(document),
                      ContentType="application/json", **condition)  # fmt: skip
    except ClientError as exc:
        if condition and exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES:
            raise WriteConflict(f"s3://{bucket}/{key}") from exc
        raise translate(exc, "PutObject", f"s3://{bucket}/{key}") from exc
    except BotoCoreError as exc:
        raise translate(exc, "PutObject", f"s3://{bucket}/{key}") from exc


def existing_keys(s3, bucket: str, wanted: set[str], max_requests: int
                  ) -> tuple[set[str], set[str]]:  # fmt: skip
    """Which of `wanted` exist and which are known absent, from ListObjectsV2 bounded to their
    span instead of one HEAD each. Each request starts just below the smallest key not yet
    decided (StartAfter; Prefix: their longest common prefix) and decides every wanted key up
    to the last one it lists (S3 lists every key in that range, in order), so keys far apart
    cost one request each and nothing beyond the largest is listed. A key left undecided
    after `max_requests` (keys crowded between them) is in neither set: the caller checks it
    as it would without the listing."""
    todo = sorted(wanted)
    prefix = os.path.commonprefix(todo)  # noqa: RUF071 -- S3 prefixes are characters, not paths
    found: set[str] = set()
    absent: set[str] = set()
    i, after = 0, ""
    for _ in range(max_requests):
        if i == len(todo):
            break
        # Jump to just below the next undecided key (a proper prefix sorts before it, and S3's
        # UTF-8 byte order is Python's code point order), or go on from the last page's end.
        after = max(after, todo[i][:-1])
        try:
            page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, StartAfter=after,
                                      MaxKeys=min(1000, len(todo) - i + _LIST_SLACK))  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "ListObjectsV2", f"s3://{bucket}/{prefix}") from exc
        listed = [item["Key"] for item in page.get("Contents", ())]
        last = listed[-1] if page.get("IsTruncated") and listed else None  # None: to the end
        listed_set = set(listed)
        while i < len(todo) and (last is None or todo[i] <= last):
            (found if todo[i] in listed_set else absent).add(todo[i])
            i += 1
        after = last or after
    return found, absent


def current_versions(s3, bucket: str, wanted: set[str], max_requests: int
                     ) -> dict[str, SourceObject]:  # fmt: skip
    """The current version (id, ETag, size) of each of `wanted`, from ListObjectVersions
    bounded to their span instead of one HEAD each, walked as `existing_keys` walks (S3 lists a
    key's versions newest first, so a key is decided once the listing has passed it). A key
    whose current version is a delete marker, that does not exist, or that is still undecided
    after `max_requests` is not in the answer: the caller asks with a HEAD, as without the
    listing. An unversioned bucket lists every object with version id "null": None here, as
    HEAD and GET report it."""
    todo = sorted(wanted)
    prefix = os.path.commonprefix(todo)  # noqa: RUF071 -- S3 prefixes are characters, not paths
    found: dict[str, SourceObject] = {}
    i, marker, version_marker = 0, "", None
    for _ in range(max_requests):
        if i == len(todo):
            break
        if todo[i][:-1] > marker:  # jump to just below the next undecided key
            marker, version_marker = todo[i][:-1], None
        extra = {"VersionIdMarker": version_marker} if version_marker else {}
        try:
            page = s3.list_object_versions(Bucket=bucket, Prefix=prefix, KeyMarker=marker,
                                           MaxKeys=min(1000, len(todo) - i + _LIST_SLACK),
                                           **extra)  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "ListObjectVersions", f"s3://{bucket}/{prefix}") from exc
        for v in page.get("Versions", ()):
            if v.get("IsLatest") and v["Key"] in wanted:
                vid = v.get("VersionId")
                found[v["Key"]] = SourceObject(
                    bucket=bucket, key=v["Key"], version_id=None if vid in (None, "null") else vid,
                    etag=v.get("ETag", "").strip('"'), size=int(v.get("Size", 0)),
                    content_encoding="", last_modified=v.get("LastModified"),
                )  # fmt: skip
        if not page.get("IsTruncated"):
            break  # listed to the end of the prefix: every key is decided
        marker, version_marker = page["NextKeyMarker"], page.get("NextVersionIdMarker")
        while i < len(todo) and todo[i] <= marker:
            i += 1
    return found


def delete_if_exists(s3, bucket: str, key: str) -> bool:
    """Delete `key` if it exists (on a versioned bucket, deleting a missing key still adds a
    delete marker); whether it existed."""
    uri = f"s3://{bucket}/{key}"
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return False
        raise translate(exc, "HeadObject", uri) from exc
    except BotoCoreError as exc:
        raise translate(exc, "HeadObject", uri) from exc
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "DeleteObject", uri) from exc
    return True
