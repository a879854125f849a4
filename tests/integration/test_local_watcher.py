"""The local service's S3 event source (BucketWatcher) against a moto server: it lists only
under the deployed notifications' prefixes and still delivers each new version exactly once."""

from __future__ import annotations

import uuid

import boto3
import pytest

from infra.local.s3events import BucketWatcher, covering


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


def test_only_the_notification_prefixes_are_listed_and_each_version_arrives_once(bucket):
    s3, name = bucket
    outside = [f"backfill/part {i}.csv" for i in range(120)]
    for key in outside:
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    s3.put_object(Bucket=name, Key="input/before.csv", Body=b"old")
    counting = CountingS3(s3)
    watcher = BucketWatcher(counting)
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
    assert not [k for k in counting.listed if k.startswith("backfill/")], "listed outside"
    assert counting.pages[0] > 4, "the listings never crossed a page boundary"


def test_a_prefix_added_by_a_redeploy_starts_from_what_it_holds_then(bucket):
    s3, name = bucket
    s3.put_object(Bucket=name, Key="reports/old.json", Body=b"{}")
    watcher = BucketWatcher(s3)
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
