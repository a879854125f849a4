"""A backfill group commits its scored objects a batch at a time (objects.Batch), after one
listing of the sources' current versions (s3io.current_versions) instead of a HEAD each: what
the listing finds decides as the HEAD did, what it cannot decide still gets the HEAD, and a
failure leaves nothing of the uncommitted objects visible. Against moto server, with the
handler's own client."""

from __future__ import annotations

from collections import Counter

import pytest
from botocore.exceptions import EndpointConnectionError

from csv_sentiment import objects, s3io
from csv_sentiment.errors import TransientError
from csv_sentiment.events import output_keys
from tests.functional.test_group_requests import BODY, Requests, _json
from tests.functional.test_handler import Context, lines, upload
from tests.functional.test_objects_handler import RUN, group

KEYS = [f"input/batch/{i:02d}.csv" for i in range(5)]


def _outputs(s3, bucket: str) -> set[str]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"] for o in listing if not o["Key"].startswith("backfill/")}


RECORD = objects.group_record_key(objects.run_keys(RUN), 0)  # the group's record


def _record(s3, out):
    return _json(s3, out, RECORD)


def _once_before(client, operation: str, action):
    """Run `action` once, right before the handler's first `operation` call."""
    fired = []

    def hook(**_):
        if not fired:
            fired.append(True)
            action()

    client.meta.events.register(f"before-parameter-build.s3.{operation}", hook)


@pytest.fixture
def versioned(s3, buckets):
    s3.put_bucket_versioning(Bucket=buckets["input"],
                             VersioningConfiguration={"Status": "Enabled"})  # fmt: skip
    return buckets


def test_a_newer_upload_found_by_the_listing_is_superseded_and_nothing_of_it_committed(
    s3, versioned, load_handler
):
    buckets = versioned
    upload(s3, buckets["input"], KEYS, BODY)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    requests = Requests(handler.S3)
    newer = b"id,review\n1,replaced while the batch was scored\n"
    _once_before(
        handler.S3,
        "ListObjectVersions",
        lambda: s3.put_object(Bucket=buckets["input"], Key=KEYS[2], Body=newer),
    )
    result = handler.lambda_handler(group(buckets["input"], KEYS), Context())
    assert result["counts"] == {"scored": 4, "superseded": 1}
    per, rest = requests.by_object(s3, buckets["output"], KEYS)
    assert "HeadObject" not in per[KEYS[2]]  # the listing decided it
    assert rest["ListObjectVersions"] == 1
    replaced = output_keys(KEYS[2], "input/")
    outputs = _outputs(s3, buckets["output"])
    assert replaced.scored not in outputs and replaced.report not in outputs
    assert not any(k.startswith("analytics/") and "02.csv" in k for k in outputs)
    entry = _record(s3, buckets["output"])["objects"][2]
    assert entry == {"key": KEYS[2], "status": "superseded"}
    for key in KEYS[:2] + KEYS[3:]:
        assert output_keys(key, "input/").report in outputs


def test_a_source_deleted_before_the_check_gets_a_head_and_an_error_report(
    s3, versioned, load_handler
):
    buckets = versioned
    upload(s3, buckets["input"], KEYS[:3], BODY)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    requests = Requests(handler.S3)
    _once_before(handler.S3, "ListObjectVersions",
                 lambda: s3.delete_object(Bucket=buckets["input"], Key=KEYS[0]))  # fmt: skip
    result = handler.lambda_handler(group(buckets["input"], KEYS[:3]), Context())
    assert result["counts"] == {"scored": 2, "failed": 1}
    per, _ = requests.by_object(s3, buckets["output"], KEYS[:3])
    # The listing's answer for it is a delete marker: asked again as an S3 event's run would.
    assert per[KEYS[0]]["HeadObject"] == 1
    assert all("HeadObject" not in per[k] for k in KEYS[1:3])
    gone = output_keys(KEYS[0], "input/")
    outputs = _outputs(s3, buckets["output"])
    assert gone.error in outputs and gone.scored not in outputs and gone.report not in outputs
    entry = _record(s3, buckets["output"])["objects"][0]
    assert entry["status"] == "failed" and entry["error_report"].endswith(gone.error)


@pytest.mark.parametrize(("setting", "value", "listings"),
                         [("BATCH_OBJECTS", 2, 3), ("BATCH_BYTES", 1, 5)])  # fmt: skip
def test_a_batch_is_committed_when_it_reaches_its_bound(
    s3, buckets, load_handler, monkeypatch, setting, value, listings
):
    upload(s3, buckets["input"], KEYS, BODY)
    monkeypatch.setattr(objects, setting, value)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    requests = Requests(handler.S3)
    assert handler.lambda_handler(group(buckets["input"], KEYS), Context())["counts"] == {
        "scored": 5
    }
    per, rest = requests.by_object(s3, buckets["output"], KEYS)
    assert rest["ListObjectVersions"] == listings
    assert all("HeadObject" not in calls for calls in per.values())


def test_a_failed_commit_raises_once_the_others_are_committed_and_a_retry_finishes_it(
    s3, buckets, load_handler
):
    upload(s3, buckets["input"], KEYS, BODY)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    broken = output_keys(KEYS[1], "input/")

    def fail(params, **_):
        if params.get("Key") == broken.scored:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    handler.S3.meta.events.register("before-parameter-build.s3.PutObject", fail)
    with pytest.raises(TransientError, match="PutObject"):
        handler.lambda_handler(group(buckets["input"], KEYS), Context())
    outputs = _outputs(s3, buckets["output"])
    assert not {broken.scored, broken.report, broken.error} & outputs  # nothing of it
    for key in KEYS[:1] + KEYS[2:]:  # committed alongside it: each whole
        keys = output_keys(key, "input/")
        assert {keys.scored, keys.report} <= outputs
    assert len([k for k in outputs if k.startswith("analytics/")]) == 4
    assert RECORD not in {
        o["Key"] for o in s3.list_objects_v2(Bucket=buckets["output"])["Contents"]
    }
    handler.S3.meta.events.unregister("before-parameter-build.s3.PutObject", fail)
    again = handler.lambda_handler(group(buckets["input"], KEYS), Context())
    assert again["counts"] == {"skipped": 4, "scored": 1}


def test_a_key_listed_twice_is_committed_before_it_is_checked_again(s3, buckets, load_handler):
    upload(s3, buckets["input"], KEYS[:2], BODY)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    result = handler.lambda_handler(group(buckets["input"], [KEYS[0], KEYS[1], KEYS[0]]),
                                    Context())  # fmt: skip
    assert result["counts"] == {"scored": 2, "skipped": 1}


def test_current_versions_answers_as_head_does_across_pages_and_markers(s3, versioned):
    bucket = versioned["input"]
    wanted = ["a/0.csv", "a/1.csv", "a/5.csv", "a/6 gone.csv", "a/7 never.csv", "b/ü.csv"]
    for key in ["a/0.csv", "a/1.csv", "a/5.csv", "a/6 gone.csv", "b/ü.csv", "a/3.csv"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"first")
    for i in range(80):  # more versions than a page asks for beyond the wanted keys
        s3.put_object(Bucket=bucket, Key="a/1.csv", Body=f"v{i}".encode())
        s3.put_object(Bucket=bucket, Key="a/2 between.csv", Body=f"v{i}".encode())
    s3.delete_object(Bucket=bucket, Key="a/6 gone.csv")
    found = s3io.current_versions(s3, bucket, set(wanted), max_requests=10)
    assert set(found) == {"a/0.csv", "a/1.csv", "a/5.csv", "b/ü.csv"}  # no marker, no object
    for key, src in found.items():
        head = s3io.head_source(s3, bucket, key, None)
        assert (src.version_id, src.etag, src.size) == (head.version_id, head.etag, head.size)
    # Out of requests: what is undecided is left out, for a HEAD.
    assert set(s3io.current_versions(s3, bucket, set(wanted), max_requests=1)) < set(found)


def test_current_versions_of_an_unversioned_bucket_have_no_version_id(s3, buckets):
    upload(s3, buckets["input"], KEYS[:2], BODY)
    found = s3io.current_versions(s3, buckets["input"], set(KEYS[:2]), max_requests=2)
    assert {k: (v.version_id, v.etag) for k, v in found.items()} == {
        k: (None, s3.head_object(Bucket=buckets["input"], Key=k)["ETag"].strip('"'))
        for k in KEYS[:2]
    }


@pytest.mark.parametrize(("second", "requests"), [("c/1.csv", 2), ("c/0.csv2", 3)])
def test_the_listing_jumps_over_a_key_s_old_versions_or_resumes_within_them(
    s3, versioned, second, requests
):
    """A page stops at MaxKeys (the wanted keys plus a slack). The next request starts just
    below the next wanted key; only if that is still within the last key listed does it
    resume from the page's markers, through that key's older versions."""
    bucket = versioned["input"]
    for i in range(150):
        s3.put_object(Bucket=bucket, Key="c/0.csv", Body=f"v{i}".encode())
    s3.put_object(Bucket=bucket, Key=second, Body=b"x")
    calls = Counter()
    s3.meta.events.register("before-parameter-build.s3.ListObjectVersions",
                            lambda **_: calls.update(["list"]))  # fmt: skip
    found = s3io.current_versions(s3, bucket, {"c/0.csv", second}, max_requests=5)
    assert set(found) == {"c/0.csv", second} and calls["list"] == requests
    assert found["c/0.csv"].etag == s3.head_object(Bucket=bucket, Key="c/0.csv")["ETag"].strip('"')


def test_each_commit_is_logged_and_counted_under_its_own_key(s3, buckets, load_handler, capsys):
    """Commits run in threads; their outcomes are logged in the group's order in the
    invocation's thread, each line carrying the key of the object it is about."""
    upload(s3, buckets["input"], KEYS, BODY)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    capsys.readouterr()
    handler.lambda_handler(group(buckets["input"], KEYS), Context())
    logged = lines(capsys)
    scored = [line for line in logged if line.get("message") == "scored"]
    assert [line["key"] for line in scored] == KEYS
    assert [line["output"] for line in scored] == [output_keys(k, "input/").scored for k in KEYS]
    (emf,) = [line for line in logged if "_aws" in line]
    assert emf["FilesScored"] == [1.0] * 5
