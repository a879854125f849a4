"""infra/moto_server.py's patches keep moto's answers and drop its local-only costs."""

from __future__ import annotations

import gc
import tempfile
import uuid

import boto3
import pytest
from moto import backends, mock_aws
from moto.s3 import models, responses

from infra import moto_server


def _creds(env: dict) -> dict:
    return {"region_name": env["AWS_DEFAULT_REGION"],
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip


def test_version_listings_on_the_patched_server_keep_every_answer_and_every_content(moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server.url, **_creds(moto_server.env()))
    bucket = f"listing-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    bodies = {}
    for key, n in (("a/x.csv", 3), ("a/y.csv", 1), ("b/z.csv", 2)):
        for i in range(n):
            body = f"{key} version {i}\n".encode() * (i + 1)
            vid = s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
            bodies[(key, vid)] = body
    marker = s3.delete_object(Bucket=bucket, Key="b/z.csv")["VersionId"]

    for _ in range(3):  # the listed copies are freed after each answer: contents must stay
        page = s3.list_object_versions(Bucket=bucket, Prefix="a/")
        listed = {(v["Key"], v["VersionId"]): v for v in page["Versions"]}
        assert set(listed) == {k for k in bodies if k[0].startswith("a/")}
        latest = {k for k, v in listed.items() if v["IsLatest"]}
        assert {k for k, _ in latest} == {"a/x.csv", "a/y.csv"} and len(latest) == 2
        for k, v in listed.items():
            assert v["Size"] == len(bodies[k])
        everything = s3.list_object_versions(Bucket=bucket)
        assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in everything["DeleteMarkers"]] == [
            ("b/z.csv", marker, True)]  # fmt: skip
        # Pages of two under a prefix: every version once, newest first within a key.
        paged, kw = [], {"Bucket": bucket, "Prefix": "a/", "MaxKeys": 2}
        while True:
            page = s3.list_object_versions(**kw)
            paged += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
            if not page.get("IsTruncated"):
                break
            kw.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
        assert sorted(paged) == sorted(listed) and len(paged) == len(set(paged)) == 4
        assert [k for k, _ in paged] == ["a/x.csv"] * 3 + ["a/y.csv"]
    for (key, vid), body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key, VersionId=vid)["Body"].read() == body


def test_a_listing_does_not_copy_contents_and_the_service_lookup_is_listed_once(monkeypatch):
    # In-process: with the patch, a listing never reads a key's content (moto's deep copy
    # did, through FakeKey.__getstate__), and moto's package is listed once, not per request.
    _patched(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="listed")
        s3.put_bucket_versioning(Bucket="listed", VersioningConfiguration={"Status": "Enabled"})
        for i in range(3):
            s3.put_object(Bucket="listed", Key="k.csv", Body=f"content {i}".encode())

        def no_content_copies(self):
            raise AssertionError("a listing copied a key's content")

        s3.put_object(Bucket="listed", Key="other/k.csv", Body=b"elsewhere")
        copied = []
        real_copy = moto_server._listed_copy
        with monkeypatch.context() as m:
            m.setattr(models.FakeKey, "__getstate__", no_content_copies)
            m.setattr(moto_server, "_listed_copy", lambda v: copied.append(v.name) or real_copy(v))
            versions = s3.list_object_versions(Bucket="listed", Prefix="k")["Versions"]
        assert copied == ["k.csv"] * 3  # the key outside the prefix was not even copied
        assert [v["IsLatest"] for v in versions] == [True, False, False]
        gc.collect()  # the listed copies are gone: their finaliser must not close the buffers
        assert [s3.get_object(Bucket="listed", Key="k.csv", VersionId=v["VersionId"])["Body"].read()
                for v in versions] == [b"content 2", b"content 1", b"content 0"]  # fmt: skip

    calls = []
    with monkeypatch.context() as m:
        m.setattr(backends.os, "listdir", lambda *a: calls.append(a) or [])
        assert "s3" in backends.list_of_moto_modules() and not calls


def _after(s3, bucket: str, **kw) -> list[tuple[str, bool]]:
    page = s3.list_object_versions(Bucket=bucket, **kw)
    items = page.get("Versions", []) + page.get("DeleteMarkers", [])
    return sorted((v["Key"], v["IsLatest"]) for v in items)


def test_a_key_marker_alone_lists_the_keys_after_it_as_s3_does(monkeypatch):
    """S3 starts a listing given a KeyMarker alone at the keys after it (a backfill batch jumps
    to just below the key it looks for); moto dropped the first version after it too."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="marked")
        s3.put_bucket_versioning(Bucket="marked", VersioningConfiguration={"Status": "Enabled"})
        for key in ["k/a", "k/a", "k/a", "k/b", "k/c", "m/d"]:
            s3.put_object(Bucket="marked", Key=key, Body=key.encode())
        s3.delete_object(Bucket="marked", Key="k/b")
        assert ("k/b", True) not in _after(s3, "marked", KeyMarker="k/a5")  # moto alone
        _patched(monkeypatch)
        b, c, d = [("k/b", False), ("k/b", True)], [("k/c", True)], ("m/d", True)
        assert _after(s3, "marked", KeyMarker="k/a5") == [*b, *c, d]  # between keys
        assert _after(s3, "marked", KeyMarker="k/a") == [*b, *c, d]  # a key: none of its versions
        assert _after(s3, "marked", KeyMarker="k/b", Prefix="k/") == c
        assert _after(s3, "marked", KeyMarker="k/", Prefix="k/c") == c  # nothing before it
        assert _after(s3, "marked", KeyMarker="k/bz", Prefix="k/c") == c  # k/b: not in prefix
        every = [("k/a", False), ("k/a", False), ("k/a", True), *b, *c, d]
        assert _after(s3, "marked", KeyMarker="a") == every
        # Pages of two with both markers, as before the patch.
        page = s3.list_object_versions(Bucket="marked", KeyMarker="k/", MaxKeys=2)
        rest = _after(s3, "marked", KeyMarker=page["NextKeyMarker"],
                      VersionIdMarker=page["NextVersionIdMarker"])  # fmt: skip
        assert len(page["Versions"]) == 2 and rest == [("k/a", False), *b, *c, d]


def _patched(monkeypatch) -> None:
    """The launcher's patches in this process, undone after the test."""
    monkeypatch.setattr(models, "copy", models.copy)
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    monkeypatch.setattr(models.FakeKey, "value", models.FakeKey.__dict__["value"])
    monkeypatch.setattr(responses.S3Response, "get_object", responses.S3Response.get_object)
    monkeypatch.setattr(models.S3Backend, "list_object_versions",
                        models.S3Backend.list_object_versions)  # fmt: skip
    moto_server.speed_up_listings_and_dispatch()


RANGES = [
    "bytes=0-9",
    "bytes=5-",
    "bytes=1048570-1048575",
    "bytes=1048570-2000000",
    "bytes=-7",
    "bytes=0-0",
    "bytes=3-2",
    "bytes=0-3,5-9",
    "bytes=1048576-",
    "bytes=x-1",
]


def test_ranged_gets_on_the_patched_server_answer_as_s3_does(moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server.url, **_creds(moto_server.env()))
    bucket = f"ranges-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    body = bytes(range(256)) * 4096  # 1 MiB: above moto's in-memory buffer? no matter
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    for spec in RANGES:
        try:
            got = s3.get_object(Bucket=bucket, Key="k", Range=spec)
        except s3.exceptions.ClientError as exc:
            assert spec == "bytes=1048576-", (spec, exc)  # past the end: 416, as S3 says
            continue
        data = got["Body"].read()
        first, _, last = spec.removeprefix("bytes=").partition("-")
        if spec in ("bytes=3-2", "bytes=0-3,5-9", "bytes=x-1"):  # S3 ignores these: whole
            assert data == body and "ContentRange" not in got, spec
        elif not first:
            assert data == body[-int(last) :], spec
        else:
            end = min(int(last), len(body) - 1) if last else len(body) - 1
            assert data == body[int(first) : end + 1], spec
            assert got["ContentRange"] == f"bytes {first}-{end}/{len(body)}", spec


def test_a_ranged_get_reads_only_its_bytes(monkeypatch):
    _patched(monkeypatch)
    reads: list[int] = []
    real_read = tempfile.SpooledTemporaryFile.read
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="ranged")
        body = b"0123456789" * 2_000_000  # 20 MB: spooled to a file by moto
        s3.put_object(Bucket="ranged", Key="big", Body=body)
        monkeypatch.setattr(tempfile.SpooledTemporaryFile, "read",
                            lambda self, n=-1: reads.append(n) or real_read(self, n))  # fmt: skip
        got = s3.get_object(Bucket="ranged", Key="big", Range="bytes=10000000-10000009")
        assert got["Body"].read() == b"0123456789"
        assert reads == [10], reads  # moto alone reads all 20 MB (read(-1)) and slices
        reads.clear()
        assert s3.get_object(Bucket="ranged", Key="big")["Body"].read() == body
        assert reads == [-1]


@pytest.fixture(autouse=True)
def _restore_listed_types():
    yield
    moto_server._LISTED.clear()


def test_connections_are_kept_alive_and_no_request_is_read_into_the_next(moto_server):
    """werkzeug closed every connection; the launcher keeps them open. Requests with a
    Content-Length body, a chunked body and none follow each other on one connection, each
    answered whole (werkzeug's after-response drain would have swallowed the next request),
    and small answers do not wait for the client's delayed ACK (40 ms each)."""
    import http.client
    import time
    from urllib.parse import urlsplit

    s3 = boto3.client("s3", endpoint_url=moto_server.url, **_creds(moto_server.env()))
    bucket = f"keepalive-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    url = urlsplit(moto_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)

    def send(method, key, **kw):  # presigned: moto refuses anonymous reads
        action = {"PUT": "put_object", "GET": "get_object", "HEAD": "head_object"}[method]
        signed = urlsplit(s3.generate_presigned_url(action, {"Bucket": bucket, "Key": key}))
        conn.request(method, f"{signed.path}?{signed.query}", **kw)
        response = conn.getresponse()
        return response, response.read()

    big = uuid.uuid4().bytes * 20_000  # 320 KB: more than one read of the socket
    response, _ = send("PUT", "big", body=big)
    sock = conn.sock
    assert response.status == 200 and response.getheader("Connection") != "close"
    response, _ = send("PUT", "chunked", body=iter([b"abc", b"def"]), encode_chunked=True)
    assert response.status == 200
    assert send("GET", "big")[1] == big and send("GET", "chunked")[1] == b"abcdef"
    response, _ = send("HEAD", "big")
    assert response.getheader("Content-Length") == str(len(big))
    started = time.monotonic()
    for _ in range(30):
        assert send("GET", "chunked")[1] == b"abcdef"
    assert time.monotonic() - started < 1.0  # 30 delayed ACKs alone would take 1.2 s
    assert conn.sock is sock  # one connection throughout
    conn.close()


def test_each_request_is_logged_on_one_line_with_control_characters_escaped(tmp_path):
    """The launcher's quick request log: werkzeug's format, one line per request, and a
    request line's control characters escaped, never written raw into moto.log."""
    import socket
    import time
    from urllib.parse import urlsplit

    from infra.endpoint import start_moto_server

    with start_moto_server(log_path=tmp_path / "moto.log") as server:
        url = urlsplit(server.url)
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(b"GET /moto-api/\x1b[31mred\x07 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 ")
        deadline = time.monotonic() + 5
        while b"red" not in (log := (tmp_path / "moto.log").read_bytes()):
            assert time.monotonic() < deadline, log[-500:]
            time.sleep(0.05)
    (line,) = [raw for raw in log.splitlines() if b"red" in raw]
    assert b"\x1b" not in line and b"\x07" not in line
    assert b'"GET /moto-api/\\x1b[31mred\\x07 HTTP/1.1" 404' in line
    assert line.startswith(b"127.0.0.1 - - [")


def test_the_interpreter_parses_each_jsonpath_once_and_still_evaluates_it_afresh(monkeypatch):
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    for module, name in [(json_path, "parse"), (result_path, "parse"), (boto_client, "boto3")]:
        monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", False)
    moto_server.enable_interpreter()
    assert json_path.parse("$.group.objects") is json_path.parse("$.group.objects")
    for i in range(3):  # a cached form, evaluated on new data each time
        data = {"group": {"objects": [i]}}
        assert json_path.extract_json("$.group.objects", data) == [i]
        assert result_path.parse("$.out").update_or_create({"in": i}, i) == {"in": i, "out": i}
