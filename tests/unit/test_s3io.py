"""S3 streaming edge cases with small hand-written fakes (no network)."""

import io

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ResponseStreamingError

from csv_sentiment import s3io
from csv_sentiment.errors import ConfigurationError, SourceGone, Superseded, TransientError

DATA = bytes(range(256)) * 40  # 10 KiB


class BrokenBody:
    """Yields `good` bytes, then the connection breaks."""

    def __init__(self, data: bytes, good: int | None):
        self.data, self.good, self.pos = data, good, 0

    def read(self, n):
        if self.good is not None and self.pos >= self.good:
            raise ResponseStreamingError(error="Connection broken: reset by peer")
        end = len(self.data) if self.good is None else min(self.good, len(self.data))
        chunk = self.data[self.pos : min(self.pos + n, end)]
        self.pos += len(chunk)
        return chunk

    def close(self):
        pass


class FakeS3:
    def __init__(self, breaks: list[int | None]):
        self.breaks = breaks
        self.calls = []

    def get_object(self, **kwargs):
        self.calls.append(kwargs)
        start = int(kwargs.get("Range", "bytes=0-")[6:-1] or 0)
        return {"Body": BrokenBody(DATA[start:], self.breaks.pop(0))}


SRC = s3io.SourceObject("b", "input/x.csv", "v1", "etag1", len(DATA), "")


def test_a_broken_stream_resumes_where_it_stopped_on_the_same_version():
    s3 = FakeS3([3000, 2000, None])
    assert b"".join(s3io.iter_object(s3, SRC, chunk_size=1000)) == DATA
    assert [c.get("Range") for c in s3.calls] == [None, "bytes=3000-", "bytes=5000-"]
    assert all(c["VersionId"] == "v1" for c in s3.calls)


class RangedS3(FakeS3):
    """Answers `bytes=first-` and `bytes=first-last` as S3 does."""

    def get_object(self, **kwargs):
        self.calls.append(kwargs)
        first, _, last = kwargs.get("Range", "bytes=0-")[6:].partition("-")
        data = DATA[int(first) : int(last) + 1 if last else None]
        return {"Body": BrokenBody(data, self.breaks.pop(0))}


def test_a_part_of_the_object_is_read_and_resumed_within_its_bounds():
    # A fan-out range: bytes [1000, 7000) only, resumed inside them when the stream breaks.
    s3 = RangedS3([2500, None])
    got = b"".join(s3io.iter_object(s3, SRC, chunk_size=1000, start=1000, end=7000))
    assert got == DATA[1000:7000]
    assert [c["Range"] for c in s3.calls] == ["bytes=1000-6999", "bytes=3500-6999"]
    assert all(c["VersionId"] == "v1" for c in s3.calls)


def test_an_empty_part_makes_no_request():
    s3 = RangedS3([])
    assert list(s3io.iter_object(s3, SRC, start=500, end=500)) == [] and s3.calls == []


def test_without_versioning_the_read_is_pinned_to_the_etag():
    s3 = FakeS3([None])
    unversioned = s3io.SourceObject("b", "k", None, "etag1", len(DATA), "")
    list(s3io.iter_object(s3, unversioned))
    assert s3.calls[0]["IfMatch"] == '"etag1"'


def test_a_stream_that_keeps_breaking_is_a_transient_error():
    s3 = FakeS3([100, 100, 100, 100, 100])
    with pytest.raises(TransientError, match="reset by peer"):
        list(s3io.iter_object(s3, SRC, chunk_size=50))


def test_read_ahead_hands_errors_to_the_consumer():
    def chunks():
        yield b"a"
        raise EndpointConnectionError(endpoint_url="http://s3")

    got = s3io.read_ahead(chunks())
    assert next(got) == b"a"
    with pytest.raises(EndpointConnectionError):
        next(got)


def client_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("SlowDown", 503, TransientError),
        ("InternalError", 500, TransientError),
        ("Throttling", 400, TransientError),
        ("AccessDenied", 403, ConfigurationError),
        ("NoSuchBucket", 404, ConfigurationError),
        ("NoSuchKey", 404, SourceGone),
        ("PreconditionFailed", 412, Superseded),  # replaced while read: a newer upload
    ],
)
def test_aws_errors_are_translated_by_kind(code, status, kind):
    err = s3io.translate(client_error(code, status), "GetObject", "s3://b/k")
    assert isinstance(err, kind)
    assert code in str(err) and "s3://b/k" in str(err)


class FakeUploads:
    """Records the multipart calls; every part's size is what S3 would receive."""

    def __init__(self):
        self.parts: list[int] = []
        self.puts: list[bytes] = []

    def create_multipart_upload(self, **_):
        return {"UploadId": "u1"}

    def upload_part(self, Body, PartNumber, **_):
        self.parts.append(len(Body))
        return {"ETag": f"e{PartNumber}"}

    def complete_multipart_upload(self, **_):
        pass

    def put_object(self, Body, **_):
        self.puts.append(bytes(Body))


def test_a_write_larger_than_a_part_is_cut_into_parts_no_larger_than_the_part_size():
    s3 = FakeUploads()
    out = s3io.OutputObject(s3, "b", "k", part_size=1000, content_type="text/csv")
    out.write(b"x" * 3500)  # one batch's text, larger than a part
    out.write(b"y" * 700)
    out.complete()
    assert s3.parts == [1000, 1000, 1000, 1000, 200]
    assert out.bytes_written == 4200


def test_a_gzip_output_is_one_valid_stream_counted_in_compressed_bytes():
    import gzip

    s3 = FakeUploads()
    out = s3io.OutputObject(s3, "b", "k.csv.gz", 5 * 1024 * 1024, "application/gzip", gzip=True)
    out.write(b"text\n" + b"so good\n" * 1000)
    out.write(b"bad\n")
    out.complete()
    (body,) = s3.puts
    assert gzip.decompress(body) == b"text\n" + b"so good\n" * 1000 + b"bad\n"
    assert out.bytes_written == len(body)


class Listing:
    """ListObjectsV2 on a set of keys, as S3 answers it: UTF-8 byte order, Prefix, StartAfter
    (exclusive), MaxKeys and IsTruncated; every request is recorded."""

    def __init__(self, keys):
        self.keys = sorted(keys, key=lambda k: k.encode())
        self.requests = []

    def list_objects_v2(self, Bucket, Prefix, StartAfter, MaxKeys):
        self.requests.append({"Prefix": Prefix, "StartAfter": StartAfter, "MaxKeys": MaxKeys})
        after = StartAfter.encode()
        keys = [k for k in self.keys if k.startswith(Prefix) and k.encode() > after]
        page = keys[:MaxKeys]
        self.listed = page
        return {"Contents": [{"Key": k} for k in page], "IsTruncated": len(keys) > MaxKeys}


def test_existing_keys_lists_only_the_span_of_the_keys_looked_for():
    others = [f"reports/m/{i:05d}.json" for i in range(3000)]  # between the two clusters
    s3 = Listing([*others, "reports/a/1.json", "reports/z/2.json", "reports/zz.json", "x/a"])
    wanted = {"reports/a/1.json", "reports/a/2.json", "reports/z/1.json", "reports/z/2.json"}
    found, absent = s3io.existing_keys(s3, "out", wanted, max_requests=10)
    assert found == {"reports/a/1.json", "reports/z/2.json"}
    assert absent == {"reports/a/2.json", "reports/z/1.json"}
    # One request per cluster, each starting just below its first key, pages of about the
    # keys still looked for: the 3,000 keys between them are never listed.
    assert [(r["Prefix"], r["StartAfter"]) for r in s3.requests] == [
        ("reports/", "reports/a/1.jso"),
        ("reports/", "reports/z/1.jso"),
    ]
    assert all(r["MaxKeys"] <= 4 + 64 for r in s3.requests)


def test_existing_keys_goes_on_from_a_page_that_ends_before_the_next_key():
    crowd = [f"r/a{i:03d}" for i in range(100)]  # after StartAfter "r/", before "r/b"
    s3 = Listing([*crowd, "r/b"])
    found, absent = s3io.existing_keys(s3, "out", {"r/b", "r/c"}, max_requests=5)
    assert (found, absent) == ({"r/b"}, {"r/c"})
    assert len(s3.requests) == 2
    assert s3.requests[1]["StartAfter"] == crowd[65]  # the first page's last key, no repeat


def test_existing_keys_left_undecided_after_the_budget_are_in_neither_set():
    s3 = Listing([f"r/a{i:03d}" for i in range(100)] + ["r/b"])
    found, absent = s3io.existing_keys(s3, "out", {"r/a000", "r/b"}, max_requests=1)
    assert found == {"r/a000"} and absent == set()  # r/b: the caller checks it itself


def test_existing_keys_follows_s3s_order_for_unicode_and_spaces():
    # S3 lists in UTF-8 byte order, which is code point order (U+FF5E before U+1F600), the
    # order Python compares in; UTF-16's would put them the other way round. A page that ends
    # between them decides the first and leaves the second to a later request.
    crowd = [f"r/\uffef {i:03d}" for i in range(100)]
    s3 = Listing(["r/é ü.json", "r/\uff5e.json", *crowd])
    keys = {"r/a b.json", "r/é ü.json", "r/\uff5e.json", "r/\U0001f600.json"}
    found, absent = s3io.existing_keys(s3, "out", keys, max_requests=1)
    assert found == {"r/é ü.json", "r/\uff5e.json"} and absent == {"r/a b.json"}
    assert s3.listed[-1] < "r/\U0001f600.json"  # undecided: S3 has not listed that far
    found, absent = s3io.existing_keys(s3, "out", keys, max_requests=3)
    assert absent == {"r/a b.json", "r/\U0001f600.json"}


def test_existing_keys_of_nothing_asks_nothing():
    s3 = Listing(["r/a"])
    assert s3io.existing_keys(s3, "out", set(), max_requests=3) == (set(), set())
    assert s3.requests == []


def test_a_failed_listing_is_translated():
    class Denied:
        def list_objects_v2(self, **_):
            raise client_error("AccessDenied", 403)

    with pytest.raises(ConfigurationError, match="ListObjectsV2 s3://out/r/a"):
        s3io.existing_keys(Denied(), "out", {"r/a"}, max_requests=1)


class Puts:
    def __init__(self, error=None):
        self.calls, self.error = [], error

    def put_object(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error


@pytest.mark.parametrize(
    ("replacing", "condition"),
    [
        (None, {}),
        (s3io.ABSENT, {"IfNoneMatch": "*"}),
        (s3io.JsonRead({"a": 1}, '"e1"'), {"IfMatch": '"e1"'}),
    ],
)
def test_put_json_writes_only_over_what_was_read(replacing, condition):
    s3 = Puts()
    s3io.put_json(s3, "out", "reports/a.json", {"b": 2}, replacing=replacing)
    sent = s3.calls[0]
    assert {k: sent[k] for k in ("IfNoneMatch", "IfMatch") if k in sent} == condition


@pytest.mark.parametrize(
    ("code", "status"),
    [("PreconditionFailed", 412), ("ConditionalRequestConflict", 409), ("NoSuchKey", 404)],
)
def test_a_refused_conditional_write_is_a_conflict(code, status):
    s3 = Puts(client_error(code, status))
    with pytest.raises(s3io.WriteConflict):
        s3io.put_json(s3, "out", "reports/a.json", {}, replacing=s3io.JsonRead({}, '"e"'))


def test_other_errors_of_a_conditional_write_are_translated_as_before():
    s3 = Puts(client_error("AccessDenied", 403))
    with pytest.raises(ConfigurationError):
        s3io.put_json(s3, "out", "reports/a.json", {}, replacing=s3io.ABSENT)
    with pytest.raises(Superseded):  # unconditional: the same translation as before
        s3io.put_json(Puts(client_error("PreconditionFailed", 412)), "out", "k", {})


def test_read_json_returns_the_etag_and_absent_for_a_missing_key():
    class Reads:
        def get_object(self, Bucket, Key):
            if Key == "missing":
                raise client_error("NoSuchKey", 404)
            return {"Body": io.BytesIO(b"not json" if Key == "bad" else b'{"a": 1}'),
                    "ETag": '"e1"'}  # fmt: skip

    assert s3io.read_json(Reads(), "out", "missing") == s3io.ABSENT
    assert s3io.read_json(Reads(), "out", "k") == s3io.JsonRead({"a": 1}, '"e1"', b'{"a": 1}')
    # Unreadable: no document, but it exists, so a conditional write must match its ETag.
    assert s3io.read_json(Reads(), "out", "bad").etag == '"e1"'
    assert s3io.get_json(Reads(), "out", "k") == {"a": 1}
