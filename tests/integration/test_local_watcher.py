"""The local service's S3 event source (BucketWatcher) against a moto server, in both of its
modes: from the launcher's journal (no listing at all), and by listing only under the deployed
notifications' prefixes. Either delivers each new version exactly once."""

from __future__ import annotations

import json
import urllib.error
import uuid

import boto3
import pytest

from infra.local.s3events import BucketWatcher, Journal, covering
from infra.moto_server import JOURNAL_PATH


class CountingS3:
    """The real client, with a record of every version the watcher listed (by key), in pages
    of three so that every listing crosses page boundaries (keys with spaces and unicode as
    markers) as a prefix holding more than 1,000 versions would."""

    def __init__(self, s3):
        self._s3, self.listed, self.pages = s3, [], [0]

    def get_paginator(self, name: str):
        pages = self._s3.get_paginator(name)
        listed, pages_seen = self.listed, self.pages

        class Paginator:
            def paginate(self, **kw):
                for page in pages.paginate(**kw, PaginationConfig={"PageSize": 3}):
                    pages_seen[0] += 1
                    listed.extend(v["Key"] for v in page.get("Versions", []))
                    listed.extend(m["Key"] for m in page.get("DeleteMarkers", []))
                    yield page

        return Paginator()


@pytest.fixture
def bucket(moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server.url, **_creds(moto_server.env()))
    name = f"watch-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3, name


def _creds(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": "us-east-1",
    }


@pytest.mark.parametrize("mode", ["journal", "listing"])
def test_only_the_notification_prefixes_are_watched_and_each_version_arrives_once(
    bucket, moto_server, mode
):
    s3, name = bucket
    outside = [f"backfill/part {i}.csv" for i in range(120)]
    for key in outside:
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    s3.put_object(Bucket=name, Key="input/before.csv", Body=b"old")
    counting = CountingS3(s3)
    watcher = BucketWatcher(counting, Journal(moto_server.url) if mode == "journal" else None)
    watcher.watch(name, ["input/", "input/nested/", "reports/"])
    assert watcher.poll() == []  # what was there before is not new

    unicode_key = "input/a b/ü 📈+%20.csv"
    s3.put_object(Bucket=name, Key=unicode_key, Body=b"1")
    s3.put_object(Bucket=name, Key="input/nested/x.csv", Body=b"2")
    s3.put_object(Bucket=name, Key="backfill/part new.csv", Body=b"3")
    s3.put_object(Bucket=name, Key=unicode_key, Body=b"4")  # a second version: a second event
    s3.delete_object(Bucket=name, Key="input/nested/x.csv")
    first = watcher.poll()
    assert watcher.poll() == []

    # (sorted: S3's LastModified has whole seconds, so the order within one is not defined)
    assert sorted((e.key, e.event_name) for e in first) == [
        (unicode_key, "ObjectCreated:Put"),
        (unicode_key, "ObjectCreated:Put"),
        ("input/nested/x.csv", "ObjectCreated:Put"),
        ("input/nested/x.csv", "ObjectRemoved:DeleteMarkerCreated"),
    ]
    assert len({e.version_id for e in first}) == 4
    if mode == "journal":  # in the order they happened, and nothing listed
        assert [e.key for e in first] == [unicode_key, "input/nested/x.csv", unicode_key,
                                          "input/nested/x.csv"]  # fmt: skip
        assert counting.pages == [0]
        return
    assert not [k for k in counting.listed if k.startswith("backfill/")], "listed outside"
    assert counting.pages[0] > 4, "the listings never crossed a page boundary"


@pytest.mark.parametrize("mode", ["journal", "listing"])
def test_a_prefix_added_by_a_redeploy_starts_from_what_it_holds_then(bucket, moto_server, mode):
    s3, name = bucket
    s3.put_object(Bucket=name, Key="reports/old.json", Body=b"{}")
    watcher = BucketWatcher(s3, Journal(moto_server.url) if mode == "journal" else None)
    watcher.watch(name, ["input/"])
    s3.put_object(Bucket=name, Key="reports/before-redeploy.json", Body=b"{}")
    assert watcher.poll() == []
    watcher.watch(name, ["input/", "reports/"])  # as S3: no events for objects already there
    s3.put_object(Bucket=name, Key="reports/after.json", Body=b"{}")
    s3.put_object(Bucket=name, Key="input/x.csv", Body=b"a")
    assert sorted(e.key for e in watcher.poll()) == ["input/x.csv", "reports/after.json"]


def test_a_whole_bucket_notification_lists_everything_once():
    assert covering(["input/", "", "reports/"]) == ("",)
    assert covering(["in", "input/", "input/x", "b"]) == ("b", "in")


def test_the_poller_waits_longer_after_a_long_listing():
    from infra.local.service import LISTING_SHARE, poll_pause

    assert poll_pause(0.25, 0.005) == 0.25  # a small bucket: the usual quarter second
    assert poll_pause(0.25, 0.1) == pytest.approx(LISTING_SHARE * 0.1)  # listings ≤ 10%


def test_the_journal_names_each_event_as_s3_does_and_is_read_in_pages(bucket, moto_server):
    """What the journal adds over a listing: copies, multipart uploads and permanent deletes
    under their own names; a reader that fell behind is told how much it lost."""
    import urllib.request

    s3, name = bucket
    watcher = BucketWatcher(s3, Journal(moto_server.url))
    watcher.watch(name, ["in/"])
    s3.put_object(Bucket=name, Key="in/a.csv", Body=b"a")
    s3.copy_object(Bucket=name, Key="in/b.csv", CopySource={"Bucket": name, "Key": "in/a.csv"})
    upload = s3.create_multipart_upload(Bucket=name, Key="in/c.csv")["UploadId"]
    part = s3.upload_part(Bucket=name, Key="in/c.csv", UploadId=upload, PartNumber=1, Body=b"c")
    s3.complete_multipart_upload(Bucket=name, Key="in/c.csv", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})  # fmt: skip
    version = s3.head_object(Bucket=name, Key="in/a.csv")["VersionId"]
    s3.delete_object(Bucket=name, Key="in/a.csv", VersionId=version)
    events = watcher.poll()
    assert [(e.key, e.event_name) for e in events] == [
        ("in/a.csv", "ObjectCreated:Put"),
        ("in/b.csv", "ObjectCreated:Copy"),
        ("in/c.csv", "ObjectCreated:CompleteMultipartUpload"),
        ("in/a.csv", "ObjectRemoved:Delete"),
    ]
    assert events[0].size == 1 and events[0].etag == s3.head_object(
        Bucket=name, Key="in/b.csv")["ETag"].strip('"')  # fmt: skip
    assert events[2].etag.endswith("-1") and events[0].version_id == version

    url = moto_server.url + JOURNAL_PATH
    with urllib.request.urlopen(url + "?after=end") as r:
        end = json.loads(r.read())["next"]
    with urllib.request.urlopen(f"{url}?after={end - 2}") as r:
        page = json.loads(r.read())
    assert [e["seq"] for e in page["events"]] == [end - 2, end - 1] and page["next"] == end
    for bad in ("?after=-1", "?after=x", "?after=", ""):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + bad)
        assert refused.value.code == 400 and b"expected GET ?after=" in refused.value.read()


def test_the_journal_tells_a_reader_what_it_lost_and_starts_over_after_a_restart():
    from infra import moto_server

    journal = moto_server._Journal(size=3)
    for i in range(5):
        journal.add("b", "ObjectCreated:Put", f"k{i}", version_id="null")
    page = journal.after(0)
    assert [e["key"] for e in page["events"]] == ["k2", "k3", "k4"]
    assert page["lost"] == 2 and page["next"] == 5 and page["events"][0]["version_id"] is None
    assert journal.after(9)["events"][0]["seq"] == 2  # beyond the journal: from its beginning
    assert journal.end() == {"events": [], "next": 5, "lost": 0}


def test_an_endpoint_without_a_journal_is_listed(monkeypatch):
    """A 4xx for the journal's path (another S3 takes it for a bucket name) means: list."""

    def refuse(url, timeout):
        raise urllib.error.HTTPError(url, 400, "InvalidBucketName", {}, None)

    monkeypatch.setattr("infra.local.s3events.urllib.request.urlopen", refuse)
    assert Journal("http://127.0.0.1:1").read("end") is None
