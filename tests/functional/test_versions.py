"""Out-of-order events: an event for a version that is no longer the key's current one never
replaces the results of the newer upload; and success leaves no delete markers behind."""

import pytest

from csv_sentiment.events import records
from tests.functional.s3_harness import event_for

OLD, NEW = b"text\nI hate it\n", b"text\nI love it\n"


@pytest.fixture
def versioned(harness):
    for bucket in harness.buckets.values():
        harness.s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    return harness


def ref_now(harness, key):
    """The event S3 would send for the object as it is now."""
    (ref,) = records(event_for(harness.s3, harness.buckets["input"], key))
    return ref


def test_an_old_version_s_event_after_the_new_one_is_skipped(versioned):
    h = versioned
    h.put("input/v.csv", OLD)
    old = ref_now(h, "input/v.csv")
    h.put("input/v.csv", NEW)
    new = ref_now(h, "input/v.csv")
    assert old.version_id and old.version_id != new.version_id
    assert h.job().process(new)["status"] == "succeeded"
    report_before = h.output("reports/v.csv.json")
    result = h.job().process(old)  # S3 delivered (or redrive replayed) it late
    assert result["status"] == "superseded"
    assert old.version_id in result["reason"] and "newer upload" in result["reason"]
    assert h.rows("scored/v.csv")[1][-1] == "positive"
    assert h.output("reports/v.csv.json") == report_before
    assert h.listing() == ["reports/v.csv.json", "scored/v.csv"]


def test_an_old_version_s_event_before_the_new_one_is_scored_is_skipped_too(versioned):
    h = versioned
    h.put("input/w.csv", OLD)
    old = ref_now(h, "input/w.csv")
    h.put("input/w.csv", NEW)
    assert h.job().process(old)["status"] == "superseded"
    assert h.listing() == []


def test_a_newer_upload_during_scoring_is_caught_right_before_the_commit(versioned):
    h = versioned
    h.put("input/race.csv", OLD * 1)
    ref = ref_now(h, "input/race.csv")
    uploaded = []

    def remaining_ms():  # called once per batch: upload the newer version mid-run
        if not uploaded:
            h.put("input/race.csv", NEW)
            uploaded.append(True)
        return 900_000

    h.remaining_ms = remaining_ms
    result = h.job().process(ref)
    assert result["status"] == "superseded"
    assert "while it was being scored" in result["reason"]
    assert h.listing() == []  # nothing committed
    assert not h.s3.list_multipart_uploads(Bucket=h.buckets["output"]).get("Uploads")


def test_unversioned_buckets_compare_the_etag(harness):
    harness.put("input/u.csv", OLD)
    old = ref_now(harness, "input/u.csv")
    harness.put("input/u.csv", NEW)
    result = harness.job().process(old)
    assert result["status"] == "superseded" and "ETag" in result["reason"]


def test_success_deletes_a_stale_error_report_only_if_there_is_one(versioned):
    """On a versioned bucket DeleteObject of a missing key adds a delete marker (AWS does; moto
    does not), one more on every run: count the calls the function makes."""
    h = versioned
    deletes = []
    h.s3.meta.events.register(
        "provide-client-params.s3.DeleteObject", lambda params, **_: deletes.append(params["Key"])
    )
    h.put("input/d.csv", OLD)
    assert h.process("input/d.csv")["status"] == "succeeded"
    h.put("input/d.csv", NEW)
    assert h.process("input/d.csv")["status"] == "succeeded"
    assert deletes == []
    h.put("input/d.csv", b"id,a,b\n1,x,y\n")  # no text column: an error report
    assert h.process("input/d.csv")["status"] == "failed"
    h.put("input/d.csv", NEW)
    assert h.process("input/d.csv")["status"] == "succeeded"
    assert deletes == ["errors/d.csv.json"]  # the stale error went, once
    assert "errors/d.csv.json" not in h.listing()
