"""The CLI's AWS side on moto server: listing past one page, manifests, start / attach /
refuse, progress from records, the summary."""

from __future__ import annotations

import json
import time

import pytest

from infra.backfill import grouping, listing, run, watch
from infra.backfill import manifest as mf
from infra.backfill.listing import Listed
from infra.deploy.errors import DeployError


def target(bucket: str, state_machine: str, concurrency: int = 16) -> run.Target:
    return run.Target(bucket, bucket, "fn", state_machine, 1024, "x86_64", concurrency)


def manifest_for(bucket: str, keys: list[str]) -> mf.Manifest:
    return mf.build(bucket, grouping.plan([Listed(k, "e", 10) for k in keys], 16))


@pytest.mark.slow  # 1,006 uploads
def test_listing_follows_pages_past_1000_keys_and_keeps_only_scored_names(s3, bucket):
    for i in range(1003):
        s3.put_object(Bucket=bucket, Key=f"archive/2025/{i:04d}.csv", Body=b"id,text\n1,ok\n")
    for key in ("archive/2025/notes.txt", "archive/2025/x.csv.gz", "archive/other.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    found = listing.list_objects(s3, bucket, "archive/2025/", (".csv", ".csv.gz"))
    assert len(found.objects) == 1004 and found.ignored == 1 and found.pages == 2
    assert found.objects[0] == Listed("archive/2025/0000.csv", found.objects[0].etag, 13)
    assert len({o.key for o in found.objects}) == 1004


def test_the_manifest_is_written_once_under_its_content_name(s3, bucket):
    m = manifest_for(bucket, ["a/1.csv", "a/2.csv"])
    mf.upload(s3, bucket, m)
    first = s3.head_object(Bucket=bucket, Key=m.key)["ETag"]
    mf.upload(s3, bucket, m)
    assert s3.head_object(Bucket=bucket, Key=m.key)["ETag"] == first
    body = json.loads(s3.get_object(Bucket=bucket, Key=m.key)["Body"].read())
    assert [o["key"] for g in body for o in g["objects"]] == ["a/1.csv", "a/2.csv"]


def test_the_same_objects_attach_to_the_running_execution(sfn, bucket, state_machine):
    t = target(bucket, state_machine)
    m = manifest_for(bucket, ["a/1.csv"])
    said: list[str] = []
    arn = run.start_or_attach(sfn, t, m, "a/", said.append)
    assert arn.endswith(f":backfill-{m.run_id}-1")
    document = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    assert document == {
        "run": {"id": m.run_id, "attempt": 1},
        "bucket": bucket,
        "prefix": "a/",
        "manifest": {"Bucket": bucket, "Key": m.key},
        "max_concurrency": 16,
    }
    assert run.start_or_attach(sfn, t, m, "a/", said.append) == arn
    assert "attaching to the running backfill" in said[-1]


def test_a_finished_run_of_the_same_objects_starts_the_next_attempt(sfn, bucket, state_machine):
    t = target(bucket, state_machine)
    m = manifest_for(bucket, ["a/1.csv"])
    first = run.start_or_attach(sfn, t, m, "a/", print)
    sfn.stop_execution(executionArn=first)
    # moto's interpreter stops an execution in its own thread: RUNNING for a moment after
    # StopExecution returns (a CI run saw it). The test is about a finished run.
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=first)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the stopped execution still runs after 10 s"
        time.sleep(0.05)
    second = run.start_or_attach(sfn, t, m, "a/", print)
    assert second.endswith(f":backfill-{m.run_id}-2")


@pytest.mark.parametrize("other", ["a/", "a/2025/", ""])
def test_an_overlapping_backfill_that_runs_is_refused(sfn, bucket, state_machine, other):
    t = target(bucket, state_machine)
    running = run.start_or_attach(sfn, t, manifest_for(bucket, ["a/2025/1.csv"]), other, print)
    with pytest.raises(DeployError, match="overlapping prefix") as caught:
        run.start_or_attach(sfn, t, manifest_for(bucket, ["a/2025/2.csv"]), "a/2025/x", print)
    assert running in str(caught.value) and "EXECUTION=" in str(caught.value)


def test_a_disjoint_prefix_may_run_at_the_same_time(sfn, bucket, state_machine):
    t = target(bucket, state_machine)
    run.start_or_attach(sfn, t, manifest_for(bucket, ["a/1.csv"]), "a/", print)
    assert run.start_or_attach(sfn, t, manifest_for(bucket, ["b/1.csv"]), "b/", print)


def test_progress_counts_finished_records_once(s3, bucket):
    prefix = mf.group_records_prefix("0" * 20, 1)
    progress = watch.Progress(total=5)

    def record(index, finished, statuses):
        entries = [{"key": f"k{i}", "status": s} for i, s in enumerate(statuses)]
        body = {"group": index, "finished": finished, "objects": entries}
        s3.put_object(Bucket=bucket, Key=f"{prefix}{index:06d}.json", Body=json.dumps(body))

    record(0, True, ["scored", "skipped"])
    record(1, False, ["scored"])  # its group is being retried
    watch.read_records(s3, bucket, prefix, progress)
    assert progress.counts == {"scored": 1, "skipped": 1}
    record(1, True, ["skipped", "scored", "failed"])
    watch.read_records(s3, bucket, prefix, progress)
    watch.read_records(s3, bucket, prefix, progress)
    assert progress.counts == {"scored": 2, "skipped": 2, "failed": 1}
    assert progress.done == 5 and "left 0" in progress.line()


def test_once_every_object_is_counted_the_end_is_looked_for_often_without_listing(
    s3, bucket, monkeypatch
):
    arn = "arn:aws:states:us-east-1:123456789012:execution:sm:backfill-" + "0" * 20 + "-1"
    prefix = mf.group_records_prefix("0" * 20, 1)

    def record(index):
        body = {"group": index, "finished": True, "objects": [{"key": "k", "status": "scored"}]}
        s3.put_object(Bucket=bucket, Key=f"{prefix}{index:06d}.json", Body=json.dumps(body))

    record(0)
    statuses = iter(["RUNNING"] * 4 + ["SUCCEEDED"])

    class Sfn:
        def describe_execution(self, executionArn):
            return {"executionArn": executionArn, "status": next(statuses)}

    sleeps, listings = [], []
    # The second group's record lands during the first wait.
    monkeypatch.setattr(watch.time, "sleep", lambda s: sleeps.append(s) or record(1))
    real = watch.read_records
    monkeypatch.setattr(watch, "read_records", lambda *a: listings.append(1) or real(*a))
    said = []
    assert watch.watch(Sfn(), s3, bucket, arn, 2, said.append, poll=2.0)["status"] == "SUCCEEDED"
    assert sleeps == [2.0] + [watch.FINAL_POLL_SECONDS] * 3  # all counted: the end is near
    assert len(listings) == 3  # until all were counted, and once more at the end
    assert "done 1/2" in said[0] and "done 2/2" in said[1]


def test_the_summary_lists_failures_with_their_reports_and_says_when_nothing_was_scored():
    said: list[str] = []
    output = {
        "objects": 3,
        "counts": {"scored": 2, "failed": 1},
        "failed": [
            {
                "key": "a/bad.csv",
                "error": "line 3 has 4 fields",
                "error_report": "s3://out/errors/a/bad.csv.json",
            }
        ],
        "handed_off": [],
        "summary": "s3://out/backfill/x/attempt-1/summary.json",
    }
    execution = {"executionArn": "arn:x", "status": "SUCCEEDED", "output": json.dumps(output)}
    assert watch.summary(execution, said.append) == 1
    text = "\n".join(said)
    assert "a/bad.csv: line 3 has 4 fields (s3://out/errors/a/bad.csv.json)" in text
    assert "nothing to score" not in text
    skipped = {**output, "counts": {"skipped": 3}, "failed": []}
    said.clear()
    assert watch.summary({**execution, "output": json.dumps(skipped)}, said.append) == 0
    assert any("nothing to score" in line for line in said)
    said.clear()
    failed = {"executionArn": "arn:x", "status": "FAILED", "error": "States.Runtime", "cause": "x"}
    assert watch.summary(failed, said.append) == 1
    assert "FAILED" in said[0] and "States.Runtime" in said[1]
