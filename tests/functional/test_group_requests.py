"""The S3 requests each object costs, counted on the handler's own client against moto server:
a backfill group lists its objects' reports and error reports once instead of asking per
object, and every run report is committed with a conditional PUT instead of being read again.
The conflict paths (another run commits between the duplicate check and the commit) keep
exactly one report and one copy of the dataset rows."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from csv_sentiment import s3io
from csv_sentiment.events import output_keys
from tests.functional.s3_harness import event_for
from tests.functional.test_handler import Context, upload
from tests.functional.test_objects_handler import group

BODY = b"id,review\n1,I love it\n2,terrible service\n"
# First-time object in a group: GET the source (its headers tell what a HEAD would), PUT the
# scored CSV, the dataset object and the report. Whether the source is still current before
# the commit is one listing for the whole batch (objects.Batch), not a HEAD each.
FIRST_TIME = Counter(GetObject=1, PutObject=3)
# Its report already records this version and configuration: HEAD the source, GET the report.
SKIPPED = Counter(HeadObject=1, GetObject=1)


class Requests:
    """Every API call of a botocore client, with its parameters, attributed to the source
    object whose keys it names. `before-parameter-build` comes once per call, whatever its
    retries, with the call's own parameters (`before-call` has them serialized already)."""

    def __init__(self, client):
        self.calls: list[tuple[str, dict]] = []
        client.meta.events.register("before-parameter-build.s3", self._record)

    def _record(self, model, params, **_):
        self.calls.append((model.name, dict(params)))

    def by_object(self, s3, out: str, keys: list[str]) -> tuple[dict[str, Counter], Counter]:
        """Per source key, the calls on it or its outputs; and the calls on nothing of theirs."""
        owner = {}
        for key in keys:
            o = output_keys(key, "input/")
            owner.update({key: key, o.scored: key, o.report: key, o.error: key})
            report = _json(s3, out, o.report) or {}
            for dataset_key in report.get("outputs", {}).get("analytics", []):
                owner[dataset_key] = key
        per = {key: Counter() for key in keys}
        rest: Counter = Counter()
        for op, params in self.calls:
            key = owner.get(params.get("Key"))
            (per[key] if key else rest)[op] += 1
        return per, rest

    def params(self, op: str, key: str) -> list[dict]:
        return [p for name, p in self.calls if name == op and p.get("Key") == key]


def _json(s3, bucket, key):
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _dataset(s3, out):
    listing = s3.list_objects_v2(Bucket=out, Prefix="analytics/").get("Contents", [])
    return sorted(o["Key"] for o in listing)


def test_a_first_time_group_costs_four_requests_an_object_and_three_listings(
    s3, buckets, load_handler
):
    keys = upload(s3, buckets["input"],
                  [f"input/batch 7/é {i}.csv" for i in range(5)], BODY)  # fmt: skip
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    requests = Requests(handler.S3)
    result = handler.lambda_handler(group(buckets["input"], keys), Context())
    assert result["counts"] == {"scored": 5}
    per, rest = requests.by_object(s3, buckets["output"], keys)
    assert per == {key: FIRST_TIME for key in keys}  # no GET of a report, no HEAD of errors/
    # reports/, errors/; the sources' current versions; the group record
    assert rest == Counter(ListObjectsV2=2, ListObjectVersions=1, PutObject=1)
    for key in keys:  # the report is written only if still absent
        (put,) = requests.params("PutObject", output_keys(key, "input/").report)
        assert put.get("IfNoneMatch") == "*" and "IfMatch" not in put

    requests.calls.clear()
    again = handler.lambda_handler(group(buckets["input"], keys), Context())
    assert again["counts"] == {"skipped": 5}
    per, rest = requests.by_object(s3, buckets["output"], keys)
    assert per == {key: SKIPPED for key in keys}
    assert rest == Counter(ListObjectsV2=2, PutObject=1)  # nothing scored: nothing to check


def test_an_s3_event_costs_one_get_fewer_and_commits_over_the_report_it_read(
    s3, buckets, load_handler
):
    keys = upload(s3, buckets["input"], ["input/one event.csv"], BODY)
    report_key = output_keys(keys[0], "input/").report
    event = event_for(s3, buckets["input"], keys)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    requests = Requests(handler.S3)
    assert handler.lambda_handler(event, Context())["results"][0]["status"] == "succeeded"
    per, rest = requests.by_object(s3, buckets["output"], keys)
    # The source HEAD twice, the report GET (duplicate check), the source GET, three PUTs and
    # the HEAD of errors/ (stale-failure cleanup): the report is no longer read again.
    assert per[keys[0]] == Counter(HeadObject=3, GetObject=2, PutObject=3)
    assert rest == Counter()  # nothing listed on the S3-event path
    assert requests.params("PutObject", report_key)[0].get("IfNoneMatch") == "*"

    first_etag = s3.head_object(Bucket=buckets["output"], Key=report_key)["ETag"]
    handler = load_handler(OUTPUT_BUCKET=buckets["output"], NEUTRALISE_FORMULAS="false")
    requests = Requests(handler.S3)
    assert handler.lambda_handler(event, Context())["results"][0]["status"] == "succeeded"
    per, _ = requests.by_object(s3, buckets["output"], keys)
    assert per[keys[0]] == Counter(HeadObject=3, GetObject=2, PutObject=3)
    (put,) = requests.params("PutObject", report_key)
    assert put.get("IfMatch") == first_etag and "IfNoneMatch" not in put


def _previous_report(s3, out, report_key, dataset_key):
    """A succeeded report of an older upload, recording rows at `dataset_key`."""
    s3.put_object(Bucket=out, Key=dataset_key, Body=b"old rows")
    report = {"status": "succeeded", "source": {"etag": "older"},
              "outputs": {"analytics": [dataset_key]}}  # fmt: skip
    s3.put_object(Bucket=out, Key=report_key, Body=json.dumps(report).encode())


def _competitor(s3, out, report_key, replaced_rows):
    """A `before-parameter-build.s3.PutObject` hook: once, right before our report is
    written, another run commits: its rows, its report, and the deletion of the rows of the
    report it replaced."""
    theirs = "analytics/scores/upload_date=2026-01-02/theirs.jsonl.gz"
    fired = []

    def commit(params, **_):
        if params.get("Key") != report_key or fired:
            return
        fired.append(theirs)
        s3.put_object(Bucket=out, Key=theirs, Body=b"their rows")
        report = {"status": "succeeded", "request_id": "theirs",
                  "outputs": {"analytics": [theirs]}}  # fmt: skip
        s3.put_object(Bucket=out, Key=report_key, Body=json.dumps(report).encode())
        for key in replaced_rows:
            s3.delete_object(Bucket=out, Key=key)

    return commit, fired


@pytest.mark.parametrize("before", ["no report (a backfill group)", "a report (an S3 event)"])
def test_a_report_committed_meanwhile_is_replaced_and_its_rows_deleted(
    s3, buckets, load_handler, before
):
    out = buckets["output"]
    keys = upload(s3, buckets["input"], ["archive/r ü.csv"], BODY)
    report_key = output_keys(keys[0], "input/").report
    old_rows = []
    if before.startswith("a report"):
        old_rows = ["analytics/scores/upload_date=2025-01-01/old.jsonl.gz"]
        _previous_report(s3, out, report_key, old_rows[0])
    handler = load_handler(OUTPUT_BUCKET=out)
    requests = Requests(handler.S3)
    commit, fired = _competitor(s3, out, report_key, old_rows)
    handler.S3.meta.events.register("before-parameter-build.s3.PutObject", commit)
    if old_rows:
        result = handler.lambda_handler(event_for(s3, buckets["input"], keys), Context())
        assert result["results"][0]["status"] == "succeeded"
    else:
        result = handler.lambda_handler(group(buckets["input"], keys), Context())
        assert result["counts"] == {"scored": 1}
    assert fired
    final = _json(s3, out, report_key)
    assert final["request_id"] == Context.aws_request_id  # ours replaced theirs
    assert _dataset(s3, out) == final["outputs"]["analytics"]  # one copy: theirs deleted
    # The conditional PUT was refused; then the report as it was now, written over.
    puts = requests.params("PutObject", report_key)
    assert [("IfMatch" in p or "IfNoneMatch" in p) for p in puts] == [True, False]
    assert len(requests.params("GetObject", report_key)) == (2 if old_rows else 1)


def test_a_commit_whose_response_was_lost_deletes_the_rows_it_replaced(s3, buckets, load_handler):
    """Our conditional PUT lands but its response is lost: botocore retries it and the retry
    is refused, because the report is now ours. What it replaced is what we read first."""
    out = buckets["output"]
    keys = upload(s3, buckets["input"], ["input/lost.csv"], BODY)
    report_key = output_keys(keys[0], "input/").report
    old = "analytics/scores/upload_date=2025-01-01/old.jsonl.gz"
    _previous_report(s3, out, report_key, old)
    handler = load_handler(OUTPUT_BUCKET=out)
    requests = Requests(handler.S3)
    landed = []

    def land_first(params, **_):
        if params.get("Key") == report_key and not landed:
            landed.append(s3.put_object(Bucket=out, Key=report_key, Body=params["Body"]))

    handler.S3.meta.events.register("before-parameter-build.s3.PutObject", land_first)
    result = handler.lambda_handler(event_for(s3, buckets["input"], keys), Context())
    assert result["results"][0]["status"] == "succeeded" and landed
    final = _json(s3, out, report_key)
    assert final["request_id"] == Context.aws_request_id
    assert _dataset(s3, out) == final["outputs"]["analytics"]  # the old rows went
    assert len(requests.params("PutObject", report_key)) == 1  # not written a second time


def test_an_error_report_of_a_failed_run_is_deleted_after_a_success_in_a_group(
    s3, buckets, load_handler
):
    out = buckets["output"]
    keys = ["archive/fixed.csv", "archive/fresh.csv"]
    upload(s3, buckets["input"], keys[:1], b"id,review\n1,ok\n2,too,many,cells\n")
    upload(s3, buckets["input"], keys[1:], BODY)
    handler = load_handler(OUTPUT_BUCKET=out)
    first = handler.lambda_handler(group(buckets["input"], keys[:1]), Context())
    assert first["counts"] == {"failed": 1}
    error_key = output_keys(keys[0], "input/").error
    assert _json(s3, out, error_key)["status"] == "failed"

    upload(s3, buckets["input"], keys[:1], BODY)  # fixed
    requests = Requests(handler.S3)
    result = handler.lambda_handler(group(buckets["input"], keys), Context())
    assert result["counts"] == {"scored": 2}
    assert _json(s3, out, error_key) is None
    per, _ = requests.by_object(s3, out, keys)
    assert per[keys[0]] == FIRST_TIME + Counter(HeadObject=1, DeleteObject=1)
    assert per[keys[1]] == FIRST_TIME


def test_a_group_across_prefixes_and_awkward_names_asks_only_about_what_it_lacks(
    s3, buckets, load_handler
):
    out = buckets["output"]
    keys = [
        "archive/2025/ü x.csv",  # outside INPUT_PREFIX: reports/_outside/…
        "archive/日本/データ 1.csv",
        "input/_outside/z.csv",  # inside, but named like the outside folder: reports/_input/…
        "input/a b+c.csv",
        "input/résumés/✓ avis.csv",
    ]
    upload(s3, buckets["input"], keys, BODY)
    handler = load_handler(OUTPUT_BUCKET=out)
    done_before = [keys[1], keys[3]]
    for key in done_before:  # scored by their S3 events before the backfill
        event = event_for(s3, buckets["input"], [key])
        assert handler.lambda_handler(event, Context())["results"][0]["status"] == "succeeded"
    requests = Requests(handler.S3)
    result = handler.lambda_handler(group(buckets["input"], keys), Context())
    assert result["counts"] == {"scored": 3, "skipped": 2}
    per, rest = requests.by_object(s3, out, keys)
    assert per == {key: SKIPPED if key in done_before else FIRST_TIME for key in keys}
    assert rest == Counter(ListObjectsV2=2, ListObjectVersions=1, PutObject=1)
    assert output_keys(keys[2], "input/").report == "reports/_input/_outside/z.csv.json"
    for key in keys:
        assert _json(s3, out, output_keys(key, "input/").report)["status"] == "succeeded"


class Bodies:
    """Every object stream a client's GETs hand out, to check that each is closed: read to
    its end, or closed unread when the object is not scored (an open stream holds a
    connection)."""

    class Body:
        def __init__(self, inner):
            self.inner, self.closed = inner, False

        def read(self, n=-1):
            return self.inner.read(n)

        def close(self):
            self.closed = True
            self.inner.close()

    def __init__(self, client, monkeypatch):
        self.opened: dict[str, Bodies.Body] = {}
        real = client.get_object

        def spy(**params):
            got = real(**params)
            got["Body"] = self.opened[params["Key"]] = self.Body(got["Body"])
            return got

        monkeypatch.setattr(client, "get_object", spy)


def test_what_the_first_get_finds_decides_and_its_stream_is_always_closed(
    s3, buckets, load_handler, monkeypatch
):
    """The first GET replaces the HEAD, so what the HEAD caught it catches: an object replaced
    since the listing, one deleted since, metadata that cannot be decoded. None of them is
    scored, each is reported as it was with a HEAD, and no stream is left open."""
    inp, out = buckets["input"], buckets["output"]
    keys = ["archive/ok.csv", "archive/replaced.csv", "archive/gone.csv", "archive/meta.csv"]
    upload(s3, inp, keys[:3], BODY)
    bad_metadata = {"text-column": "=?klingon?B?YQ==?="}
    s3.put_object(Bucket=inp, Key=keys[3], Body=BODY, Metadata=bad_metadata)
    payload = group(inp, keys)
    for obj in payload["group"]["objects"]:  # the manifest's ETags, as listed
        obj["etag"] = s3.head_object(Bucket=inp, Key=obj["key"])["ETag"].strip('"')
    s3.put_object(Bucket=inp, Key=keys[1], Body=BODY + b"3,new row\n")  # replaced since
    s3.delete_object(Bucket=inp, Key=keys[2])  # deleted since
    handler = load_handler(OUTPUT_BUCKET=out)
    bodies = Bodies(handler.S3, monkeypatch)
    result = handler.lambda_handler(payload, Context())

    assert result["counts"] == {"scored": 1, "superseded": 1, "failed": 2}
    assert set(bodies.opened) == {keys[0], keys[1], keys[3]}  # the deleted one has no stream
    assert all(b.closed for b in bodies.opened.values())
    assert _json(s3, out, output_keys(keys[1], "input/").report) is None  # not scored
    gone = _json(s3, out, output_keys(keys[2], "input/").error)
    meta = _json(s3, out, output_keys(keys[3], "input/").error)
    assert gone["error"]["code"] == "source_gone" and "GetObject" in gone["error"]["message"]
    assert meta["error"]["code"] == "invalid_metadata" and "klingon" in meta["error"]["message"]


def test_a_small_put_goes_with_its_headers_a_big_one_waits_for_100_continue(s3, buckets):
    client = s3io.make_client()
    sent = {}

    def record(request, **_):
        sent[request.url.rsplit("/", 1)[-1]] = request.headers.get("Expect")

    client.meta.events.register("before-send.s3.PutObject", record)
    small, big = b"x" * s3io.EXPECT_CONTINUE_BYTES, b"x" * (s3io.EXPECT_CONTINUE_BYTES + 1)
    client.put_object(Bucket=buckets["output"], Key="small", Body=small)
    client.put_object(Bucket=buckets["output"], Key="big", Body=big)
    s3io.put_json(client, buckets["output"], "report", {"status": "succeeded"})
    assert sent == {"small": None, "big": b"100-continue", "report": None}
    assert s3.get_object(Bucket=buckets["output"], Key="small")["Body"].read() == small
