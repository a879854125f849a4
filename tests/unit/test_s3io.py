"""S3 streaming edge cases with small hand-written fakes (no network)."""

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
