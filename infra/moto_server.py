"""`python -m infra.moto_server -H 127.0.0.1 -p PORT`: moto server with its Step Functions
interpreter on, and the interpreter's AWS clients honouring AWS_ENDPOINT_URL_<SERVICE>.

moto executes state machines only when `execute_state_machine` is set (off by default). In
server mode the interpreter builds its clients (Lambda tasks, S3 item readers, aws-sdk tasks)
pinned to its own port, where Lambda would need Docker images; here a client for a service
whose AWS_ENDPOINT_URL_<SERVICE> is set goes there instead, so `lambda:invoke` tasks reach the
local Lambda service and the real function (infra/local/invokeapi.py). Everything else is
moto's own `moto_server` (the cmdline keeps the name, which `make local-down` checks).

The costs of moto's server that only a local run pays, removed here (`make bench` measured
them: most of moto's CPU during a backfill, and the local S3 event poller lists versions four
times a second):
- ListObjectVersions deep-copies every version of every key of the bucket, whatever the
  prefix, and a FakeKey's deep copy copies its content: each listing of a bucket holding a
  300 MB upload copied 300 MB. The copies exist only to set `is_latest` on them; a shallow
  copy that shares the content (and never closes it) does the same, and keys outside the
  listing's prefix (which moto drops later anyway) are not copied or sorted at all.
- Every request looks its service up in a fresh directory listing of moto's package
  (`list_of_moto_modules`, a stat per entry); the listing does not change while it runs.
- A GET with a Range read the whole object and then sliced it: each range of a fanned-out
  100 MB file read 100 MB. A plain `bytes=first-last` (or `first-`) range inside the object now
  reads just those bytes; any other form (suffix, multiple, out of bounds) goes moto's way.
- werkzeug's development server answers every request with `Connection: close` (its handler
  cannot tell whether the application read the whole request body, and leftover bytes would
  be taken for the next request), so every S3 request paid a TCP connection and a new server
  thread: most requests of a backfill object. The body is now read whole before moto sees it,
  and then the connection stays open for the client's next request (HTTP/1.1 keep-alive, as
  S3 itself does); a response that fails after its headers went out still closes it.
- The Step Functions interpreter parsed every JSONPath it evaluated with a freshly built
  parser (~10 ms of CPU per Map item): each path is now parsed once.
- werkzeug's line per request in moto.log went through `logging`, re-decoding the path and
  formatting the time each time: now one write, the time formatted once a second.

It also keeps a journal of the object creations and removals S3 would notify about, served
at JOURNAL_PATH, so the local Lambda service learns of new objects without listing buckets
(moto applies no notification configuration that names a Lambda function).

One answer differs from S3's and is corrected: ListObjectVersions with a KeyMarker alone lists
the keys after it on S3, while moto also drops the first version after it (so a listing that
jumps to just below a key it looks for misses that key's current version).
"""

from __future__ import annotations

import collections
import contextvars
import functools
import inspect
import io
import itertools
import json
import logging
import os
import re
import selectors
import sys
import threading
import time
import urllib.parse
from typing import Any

_RANGE: contextvars.ContextVar[tuple[int, int | None] | None] = contextvars.ContextVar(
    "range", default=None
)
# moto keeps an object's bytes in memory up to this size and in a temporary file beyond it
# (default ~5 MB): every read and part copy of a fan-out range's output went through the
# disk. Up to 64 MiB (a range's output, a part) stays in memory; bigger objects (the input,
# the assembled file) stay on disk: held in memory, the 300 MB bench's assembly took longer.
KEY_BUFFER_BYTES = 64 * 2**20
_PREFIX: contextvars.ContextVar[str] = contextvars.ContextVar("prefix", default="")
_SIMPLE_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def _endpoint_for(service: str) -> str | None:
    # The names boto3 itself reads (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL_S3, …).
    return os.environ.get("AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")) or None


class _Boto3:
    """Stands in for the `boto3` module inside moto's interpreter client factory."""

    def __init__(self, real: Any):
        self._real = real

    def client(self, *args: Any, **kwargs: Any) -> Any:
        service = kwargs.get("service_name") or (args[0] if args else "")
        endpoint = _endpoint_for(service)
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        return self._real.client(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def enable_interpreter() -> None:
    """Turn on moto's Step Functions interpreter and route its clients as described above."""
    import boto3
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    boto_client.boto3 = _Boto3(boto3)  # every interpreter client is made through this module
    # The interpreter parses a JSONPath each time it evaluates one, and jsonpath_ng builds a
    # new parser (its grammar tables) for every parse: ~10 ms per Map item. The parsed forms
    # are not changed by evaluating them, so each path is parsed once.
    json_path.parse = functools.lru_cache(maxsize=1024)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=1024)(result_path.parse)


def _listed_copy(version: Any) -> Any:
    """A version as ListObjectVersions renders it: its own attributes (`is_latest` is set on
    the copy), the original's content buffer, and no finaliser that would close it."""
    from moto.s3.models import FakeDeleteMarker, FakeKey

    base = FakeKey if isinstance(version, FakeKey) else FakeDeleteMarker
    listed = object.__new__(_LISTED[base])
    listed.__dict__.update(version.__dict__)
    return listed


_LISTED: dict[type, type] = {}


class _CopyModule:
    """Stands in for `copy` inside moto.s3.models, whose one `deepcopy` is the listing's."""

    def __init__(self, real: Any):
        self._real = real

    def deepcopy(self, versions: list) -> list:
        prefix = _PREFIX.get()
        if prefix and versions and not versions[0].name.startswith(prefix):
            return []  # one key's versions, outside the listing's prefix
        return [_listed_copy(v) for v in versions]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Window:
    """Bytes `start`… of an object of `size` bytes, sliced as if it were the whole object
    (moto's range handling measures the body with len() and slices it)."""

    def __init__(self, data: bytes, start: int, size: int):
        self._data, self._start, self._size = data, start, size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, part: slice) -> bytes:
        return self._data[part.start - self._start : part.stop - self._start]


def _ranged_value(original: property):
    def value(self: Any) -> Any:
        window = _RANGE.get()
        if window is None or window[0] >= self.contentsize:  # every read but a ranged GET's
            return original.fget(self)
        size = self.contentsize
        start, end = window
        end = size - 1 if end is None or end >= size else end
        with self.lock:
            self._value_buffer.seek(start)
            data = self._value_buffer.read(end - start + 1)
        return _Window(data, start, size)

    return property(value, original.fset)


def _ranged_get(original):
    def get_object(self: Any) -> Any:
        match = _SIMPLE_RANGE.fullmatch(self.headers.get("range") or "")
        if match is None or self.querystring.get("partNumber"):
            return original(self)
        first, last = int(match.group(1)), match.group(2)
        if last and int(last) < first:
            return original(self)
        token = _RANGE.set((first, int(last) if last else None))
        try:
            return original(self)
        finally:
            _RANGE.reset(token)

    return get_object


def _prefixed_listing(original, unix_time_millis):
    signature = inspect.signature(original)

    def list_object_versions(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, bucket_name, *args, **kwargs)
        call.apply_defaults()
        given = call.arguments
        prefix = given["prefix"] or ""
        if given["key_marker"] and not given["version_id_marker"]:
            given["key_marker"], given["version_id_marker"] = _after_key(
                self.get_bucket(bucket_name).keys, given["key_marker"], prefix, unix_time_millis
            )
        token = _PREFIX.set(prefix)
        try:
            return original(*call.args, **call.kwargs)
        finally:
            _PREFIX.reset(token)

    return list_object_versions


def _after_key(keys: Any, marker: str, prefix: str, unix_time_millis) -> tuple[Any, Any]:
    """S3 lists the keys after a KeyMarker given alone, whether or not it names a key; moto
    skips the keys before it and then one version more, which drops the first key listed
    unless the marker is the previous page's last key. The same start, as moto's two-marker
    form: the last version (in moto's listing order) of the greatest key at or before the
    marker under the prefix, or no marker if there is none."""
    before = [name for name in keys if name <= marker and name.startswith(prefix)]
    if not before:
        return None, None
    name = max(before)
    versions = sorted(keys.getlist(name), key=lambda v: -unix_time_millis(v.last_modified))
    return name, versions[-1].version_id


def speed_up_listings_and_dispatch() -> None:
    """The patches described at the top of this module (the key buffer size is an
    environment variable, set in `main`)."""
    import copy

    from moto import backends
    from moto.s3 import models, responses

    def no_dispose(self: Any, garbage: bool = False) -> None:
        pass  # the buffer belongs to the listed original

    for base in (models.FakeKey, models.FakeDeleteMarker):
        _LISTED[base] = type(f"Listed{base.__name__}", (base,),
                             {"dispose": no_dispose, "__del__": lambda self: None})  # fmt: skip
    models.copy = _CopyModule(copy)
    models.S3Backend.list_object_versions = _prefixed_listing(
        models.S3Backend.list_object_versions, models.unix_time_millis
    )
    models.FakeKey.value = _ranged_value(models.FakeKey.__dict__["value"])
    responses.S3Response.get_object = _ranged_get(responses.S3Response.get_object)
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


_HANDLER = threading.local()  # the request handler serving this thread's request


def _read_body(environ: dict) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's reader stops at the end
        return stream.read()
    length = environ.get("CONTENT_LENGTH") or "0"
    wanted = int(length) if length.isdigit() else 0
    body = stream.read(wanted) if wanted else b""  # buffered: all of it, unless the client left
    if len(body) < wanted:
        raise ConnectionError(f"the client sent {len(body)} of {wanted} bytes")
    return body


def _body_first(app: Any) -> Any:
    """The WSGI app behind a reader of the whole request body, which marks the connection
    reusable once nothing of this request is left on it (and not, if the response fails)."""

    def wsgi(environ: dict, start_response: Any) -> Any:
        handler = _HANDLER.current
        environ["wsgi.input"] = io.BytesIO(_read_body(environ))
        handler.body_read = True
        result = app(environ, start_response)
        try:
            yield from result
        except BaseException:
            handler.body_read = False  # the headers may be out, the body short: close
            raise
        finally:
            if hasattr(result, "close"):
                result.close()

    return wsgi


class _Nothing:
    """A selector that finds nothing to read."""

    def register(self, *args: Any) -> None:
        pass

    def select(self, timeout: float | None = None) -> list:
        return []

    def close(self) -> None:
        pass


class _Selectors:
    """werkzeug.serving's `selectors`. After each response werkzeug reads and discards
    whatever else the client sent (up to 10 MB, blocking), which only makes sense on a
    connection it closes; on a kept-alive one that is the client's next request. When the
    request's body was read whole there is nothing of it left, so the loop finds nothing."""

    def __getattr__(self, name: str) -> Any:
        return getattr(selectors, name)

    @staticmethod
    def DefaultSelector() -> Any:  # the name werkzeug calls
        handler = getattr(_HANDLER, "current", None)
        return (
            _Nothing() if handler is not None and handler.body_read else selectors.DefaultSelector()
        )


def keep_connections_alive() -> None:
    """The keep-alive patch described at the top of this module."""
    import moto.server
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug import serving

    serving.selectors = _Selectors()

    original_run, original_header = MotoRequestHandler.run_wsgi, MotoRequestHandler.send_header
    original_run_simple = moto.server.run_simple

    def run_wsgi(self: Any) -> None:
        self.body_read, _HANDLER.current = False, self
        try:
            original_run(self)
        finally:
            _HANDLER.current = None
        if not self.body_read:
            self.close_connection = True

    def send_header(self: Any, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self.body_read:
            return  # werkzeug's blanket close: nothing of the request is left unread
        original_header(self, keyword, value)

    def run_simple(host: str, port: int, app: Any, *args: Any, **kwargs: Any) -> None:
        original_run_simple(host, port, _body_first(_journal_route(app)), *args, **kwargs)

    MotoRequestHandler.run_wsgi, MotoRequestHandler.send_header = run_wsgi, send_header
    # A kept-alive connection's small writes (headers, then body) must not wait for the
    # client's delayed ACK (40 ms): a closed connection flushed them.
    MotoRequestHandler.disable_nagle_algorithm = True
    moto.server.run_simple = run_simple


# The S3 event journal: what moto's S3 did that S3 would notify about, in order, for the local
# Lambda service (infra/local/s3events.py), which otherwise finds new objects by listing.
JOURNAL_PATH = "/_local/s3-events"  # not an S3 path: "_local" is no valid bucket name
JOURNAL_SIZE = 100_000  # events kept; a reader further behind is told how many it lost
JOURNAL_PAGE = 10_000  # events in one answer at most


class _Journal:
    def __init__(self, size: int = JOURNAL_SIZE):
        self._events: collections.deque[dict] = collections.deque(maxlen=size)
        self._next = 0  # the sequence number of the next event
        self._lock = threading.Lock()

    def add(self, bucket: str, event_name: str, key: str, size: int = 0, etag: str = "",
            version_id: str | None = None) -> None:  # fmt: skip
        with self._lock:
            self._events.append({
                "seq": self._next, "bucket": bucket, "event_name": event_name, "key": key,
                "size": size, "etag": etag.strip('"'),
                "version_id": None if version_id in (None, "null") else str(version_id),
            })  # fmt: skip
            self._next += 1

    def end(self) -> dict:
        """No events, and the number the next one will have: where a new reader starts."""
        with self._lock:
            return {"events": [], "next": self._next, "lost": 0}

    def after(self, seq: int) -> dict:
        """The events numbered `seq` and later (at most JOURNAL_PAGE), the next number to ask for,
        and how many of those asked for are no longer kept. A number beyond the journal's
        (the server restarted under the reader) starts again from its beginning."""
        with self._lock:
            first = self._events[0]["seq"] if self._events else self._next
            start = first if seq > self._next else max(seq, first)
            count = min(self._next - start, JOURNAL_PAGE)
            if self._next - start <= JOURNAL_PAGE:  # the usual reader: near the end, from there
                events = list(itertools.islice(reversed(self._events), count))[::-1]
            else:
                events = list(itertools.islice(self._events, start - first, start - first + count))
            return {"events": events, "next": start + count, "lost": max(0, first - seq)}


JOURNAL = _Journal()
_COMPLETING: contextvars.ContextVar[bool] = contextvars.ContextVar("completing", default=False)


def journal_s3_events() -> None:
    """Record every object creation and removal moto's S3 makes, where it would notify (its
    `send_event`), and the delete markers it creates (for which moto notifies nothing), and
    serve them at JOURNAL_PATH?after=N (or `end`: nothing yet, where to start) as JSON."""
    from moto.s3 import models, notifications

    original_send, original_marker = notifications.send_event, models.S3Backend._set_delete_marker
    original_complete = models.S3Backend.complete_multipart_upload

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        name = str(getattr(event_name, "value", event_name)).removeprefix("s3:")
        if name == "ObjectCreated:Put" and _COMPLETING.get():
            pass  # moto stores a completed upload with put_object: S3 sends only the completion
        elif name.startswith(("ObjectCreated:", "ObjectRemoved:")) and key is not None:
            size, etag = getattr(key, "size", 0) or 0, getattr(key, "etag", "") or ""
            JOURNAL.add(bucket.name, name, key.name, size, etag, getattr(key, "version_id", None))
        original_send(account_id, event_name, bucket, key)

    def set_delete_marker(self: Any, bucket_name: str, key_name: str) -> Any:
        marker = original_marker(self, bucket_name, key_name)
        JOURNAL.add(bucket_name, "ObjectRemoved:DeleteMarkerCreated", key_name,
                    version_id=marker.version_id)  # fmt: skip
        return marker

    def complete_multipart_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _COMPLETING.set(True)
        try:
            return original_complete(self, *args, **kwargs)
        finally:
            _COMPLETING.reset(token)

    notifications.send_event = send_event
    models.S3Backend._set_delete_marker = set_delete_marker
    models.S3Backend.complete_multipart_upload = complete_multipart_upload


def _journal_route(app: Any) -> Any:
    """GET JOURNAL_PATH?after=N answered from the journal; every other request goes to moto."""

    def wsgi(environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") != JOURNAL_PATH:
            return app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        after = query.get("after", [""])[0]
        if environ.get("REQUEST_METHOD") != "GET" or not (after.isdigit() or after == "end"):
            body = b'{"error": "expected GET ?after=<a sequence number, or end>"}'
            status = "400 Bad Request"
        else:
            page = JOURNAL.end() if after == "end" else JOURNAL.after(int(after))
            body, status = json.dumps(page).encode(), "200 OK"
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])  # fmt: skip
        return [body]

    return wsgi


def quick_request_log() -> None:
    """werkzeug's line per request, written straight to stderr (moto.log) with the time
    formatted once a second, instead of through `logging` with the path re-decoded and
    coloured: a tenth of moto's CPU in a backfill. Control characters are escaped as werkzeug
    escapes them (a request line is untrusted); the path is logged as sent."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    original = MotoRequestHandler.log_request
    werkzeug_log = logging.getLogger("werkzeug")
    stamp: list = [0, ""]

    def log_request(self: Any, code: int | str = "-", size: int | str = "-") -> None:
        if werkzeug_log.level > logging.INFO or not hasattr(self, "command"):
            original(self, code, size)  # a bad request line, or logging configured otherwise
            return
        now = int(time.time())
        if now != stamp[0]:
            stamp[:] = [now, self.log_date_time_string()]
        line = (f'{self.address_string()} - - [{stamp[1]}] "{self.command} {self.path} '
                f'{self.request_version}" {code} {size}')  # fmt: skip
        sys.stderr.write(line.translate(self._control_char_table) + "\n")

    MotoRequestHandler.log_request = log_request


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(KEY_BUFFER_BYTES))
    enable_interpreter()
    speed_up_listings_and_dispatch()
    keep_connections_alive()
    quick_request_log()
    journal_s3_events()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
