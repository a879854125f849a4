"""The function's side of a backfill (csv_sentiment/objects.py), with a hand-written S3 fake:
group payloads through a `process` stand-in for Job.process, records and the final count."""

from __future__ import annotations

import io
import json

import pytest
from botocore.exceptions import ClientError

from csv_sentiment import objects
from csv_sentiment.events import Known

RUN = {"id": "0123456789abcdef0123", "attempt": 1}


class FakeS3:
    """Just the calls objects.py makes, on a dict."""

    def __init__(self):
        self.store: dict[tuple[str, str], bytes] = {}
        self.listings: list[tuple[str, str]] = []

    def put_object(self, Bucket, Key, Body, **_):
        self.store[(Bucket, Key)] = Body

    def list_objects_v2(self, Bucket, Prefix, StartAfter, MaxKeys):
        """S3's order (UTF-8 bytes), prefix, start and page size."""
        keys = sorted((k for b, k in self.store if b == Bucket and k.startswith(Prefix)),
                      key=lambda k: k.encode())  # fmt: skip
        keys = [k for k in keys if k.encode() > StartAfter.encode()]
        self.listings.append((Prefix, StartAfter))
        return {
            "Contents": [{"Key": k} for k in keys[:MaxKeys]],
            "IsTruncated": len(keys) > MaxKeys,
        }

    def get_object(self, Bucket, Key, **_):
        if (Bucket, Key) not in self.store:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": io.BytesIO(self.store[(Bucket, Key)])}

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        store = self.store

        class Pages:
            def paginate(self, Bucket, Prefix):
                keys = sorted(k for b, k in store if b == Bucket and k.startswith(Prefix))
                for i in range(0, max(len(keys), 1), 2):  # two a page: pagination is followed
                    yield {"Contents": [{"Key": k} for k in keys[i : i + 2]]}

        return Pages()

    def json(self, key):
        return json.loads(self.store[("out", key)])


def no_commit(scored, now):
    raise AssertionError("Job.score stand-ins return results; nothing waits for a commit")


def score_group(group_payload, process, s3, time_left=lambda: True):
    return objects.score_group(group_payload, process, no_commit, s3, "out", time_left, "in/")


def payload(keys, index=0, run=RUN):
    return {
        "kind": objects.GROUP_KIND,
        "run": run,
        "bucket": "in",
        "group": {"index": index, "objects": [{"key": k, "etag": "e", "size": 5} for k in keys]},
    }


def fake_process(outcomes):
    """Job.process stand-in: the result documents Job.process returns, by key."""
    seen = []

    def process(ref, known):
        seen.append(ref)
        process.known[ref.key] = known
        status = outcomes.get(ref.key, "succeeded")
        if status == "failed":
            return {"status": "failed", "error": {"message": "line 3 has 4 fields"},
                    "outputs": {"error": f"errors/{ref.key}.json"}}  # fmt: skip
        if status == "handed-off":
            return {"status": "handed-off", "execution_arn": "arn:aws:states:x:execution:f:1"}
        return {"status": status}

    process.known = {}
    return process, seen


def test_each_object_goes_through_process_and_the_group_is_recorded():
    s3 = FakeS3()
    process, seen = fake_process({"a/2.csv": "skipped", "a/3.csv": "failed"})
    out = score_group(payload(["a/1.csv", "a/2.csv", "a/3.csv"]), process, s3)
    assert [r.key for r in seen] == ["a/1.csv", "a/2.csv", "a/3.csv"]
    assert {(r.bucket, r.event_name, r.version_id) for r in seen} == {("in", "", None)}
    assert out == {"group": 0, "counts": {"scored": 1, "skipped": 1, "failed": 1}}
    record = s3.json("backfill/0123456789abcdef0123/attempt-1/groups/000000.json")
    assert record["finished"] is True
    assert record["objects"][2] == {
        "key": "a/3.csv",
        "status": "failed",
        "error": "line 3 has 4 fields",
        "error_report": "s3://out/errors/a/3.csv.json",
    }


def test_a_name_the_function_does_not_score_is_recorded_as_failed_not_read():
    s3 = FakeS3()
    process, seen = fake_process({})
    score_group(payload(["a/notes.txt", "a/1.csv.gz"]), process, s3)
    assert [r.key for r in seen] == ["a/1.csv.gz"]
    entry = s3.json("backfill/0123456789abcdef0123/attempt-1/groups/000000.json")["objects"][0]
    assert entry["status"] == "failed" and ".csv or .csv.gz" in entry["error"]


def test_short_of_time_the_group_records_what_it_did_and_raises_to_be_retried():
    s3 = FakeS3()
    process, seen = fake_process({})
    budget = iter([True, False])  # asked before the 2nd and the 3rd object
    with pytest.raises(objects.GroupUnfinished, match="2 of 3 objects done"):
        score_group(payload(["a/1.csv", "a/2.csv", "a/3.csv"]), process, s3,
                    lambda: next(budget, False))  # fmt: skip
    assert len(seen) == 2
    record = s3.json("backfill/0123456789abcdef0123/attempt-1/groups/000000.json")
    assert record["finished"] is False and len(record["objects"]) == 2


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ({"id": "../../etc", "attempt": 1}, "run id"),
        ({"id": "0123456789abcdef0123", "attempt": 0}, "run attempt"),
        ({"id": "0123456789abcdef0123", "attempt": True}, "run attempt"),
        ({}, "run id"),
    ],
)
def test_a_run_that_could_write_elsewhere_is_refused(run, message):
    with pytest.raises(ValueError, match=message):
        score_group(payload(["a.csv"], run=run), fake_process({})[0], FakeS3())


@pytest.mark.parametrize(
    "broken",
    [{"bucket": ""}, {"group": {"index": "0", "objects": []}}, {"group": {"index": 0}},
     {"group": {"index": 0, "objects": [{"key": 5}]}}, {"group": None}],
)  # fmt: skip
def test_a_malformed_group_payload_says_what_is_expected(broken):
    with pytest.raises(ValueError, match="needs 'bucket'"):
        score_group({**payload(["a.csv"]), **broken}, fake_process({})[0], FakeS3())


def test_the_count_comes_from_the_records_and_a_group_without_one_failed():
    s3 = FakeS3()
    groups = [
        {
            "index": i,
            "objects": [{"key": f"g{i}/{j}.csv", "etag": "e", "size": 1} for j in range(2)],
        }
        for i in range(3)
    ]
    s3.put_object("out", "backfill/0123456789abcdef0123/manifest.json", json.dumps(groups).encode())
    process, _ = fake_process({"g0/1.csv": "skipped", "g1/0.csv": "handed-off"})
    for i in (0, 1):  # group 2's invocation never wrote its record
        score_group(payload([o["key"] for o in groups[i]["objects"]], index=i), process, s3)
    result = objects.tally({"kind": objects.TALLY_KIND, "run": RUN}, s3, "out")
    assert result["objects"] == 6
    assert result["counts"] == {"scored": 2, "skipped": 1, "handed-off": 1, "failed": 2}
    assert [e["key"] for e in result["failed"]] == ["g2/0.csv", "g2/1.csv"]
    assert "no record" in result["failed"][0]["error"]
    assert result["handed_off"][0]["execution_arn"].startswith("arn:aws:states")
    summary = s3.json("backfill/0123456789abcdef0123/attempt-1/summary.json")
    assert summary["counts"] == result["counts"]
    assert result["summary"] == "s3://out/backfill/0123456789abcdef0123/attempt-1/summary.json"


def test_the_count_needs_the_manifest():
    with pytest.raises(ValueError, match=r"manifest .* is missing"):
        objects.tally({"kind": objects.TALLY_KIND, "run": RUN}, FakeS3(), "out")


def test_payload_kinds_are_told_apart_from_s3_events():
    assert objects.is_payload({"kind": "sentiment.objects/v1"})
    assert objects.is_payload({"kind": "sentiment.objects-tally/v1"})
    assert not objects.is_payload({"Records": []})
    assert not objects.is_payload({"kind": "sentiment.objects/v9"})


def test_the_group_lists_its_outputs_once_and_tells_each_object_what_is_absent():
    s3 = FakeS3()
    for key in ("reports/2.csv.json", "errors/3.csv.json", "errors/_outside/arch/4 ü.csv.json",
                "reports/2.csv.json.bak", "reports/9.csv.json"):  # fmt: skip
        s3.put_object("out", key, b"{}")
    process, _ = fake_process({})
    keys = ["in/1.csv", "in/2.csv", "in/3.csv", "arch/4 ü.csv", "in/notes.txt"]
    score_group(payload(keys), process, s3)
    known = {k: (v.report_absent, v.error_absent) for k, v in process.known.items()}
    assert known == {
        "in/1.csv": (True, True),
        "in/2.csv": (False, True),
        "in/3.csv": (True, False),
        "arch/4 ü.csv": (True, False),
    }
    # Outside INPUT_PREFIX too: one listing of reports/ and one of errors/, not one per object.
    assert [prefix for prefix, _ in s3.listings] == ["reports/", "errors/"]


def test_a_key_twice_in_a_group_is_checked_again_the_second_time():
    s3 = FakeS3()
    process, _ = fake_process({})
    calls = []
    score_group(payload(["in/1.csv", "in/1.csv"]),
                lambda ref, known: calls.append(known) or process(ref, known), s3)  # fmt: skip
    assert calls[0] == Known(report_absent=True, error_absent=True)
    assert calls[1] is None  # the first may have written its results: ask S3 as an event does


def test_a_key_whose_outputs_cannot_exist_is_not_listed():
    s3 = FakeS3()
    process, _ = fake_process({})
    long_key = "in/" + "x" * 1100 + ".csv"
    score_group(payload([long_key]), process, s3)
    assert process.known == {long_key: None} and s3.listings == []
