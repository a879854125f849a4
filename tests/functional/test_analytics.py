"""The analytics dataset end to end on moto server: its shape and types, the text setting, and
exactly one current copy per source across re-uploads, days, failures and superseded versions."""

from __future__ import annotations

import datetime as dt

import pytest

from csv_sentiment import analytics
from csv_sentiment.errors import TransientError
from csv_sentiment.events import is_own_output, records
from tests.functional.analytics_helpers import ShiftedUploads, dataset
from tests.functional.s3_harness import event_for

SAMPLE = (
    b"id,review,stars\n"
    b"1,I love this product,5\n"
    b'2,"Terrible, awful\nand broken",1\n'
    b"3,,3\n"
    b'4,=HYPERLINK("x") is great,4\n'
    b"5,It is a table,3\n"
    b"6," + b"x" * 60 + b",2\n"
)
TYPES = {"string": (str, type(None)), "bigint": (int,), "double": (float, type(None)),
         "timestamp": (str,)}  # fmt: skip


def test_every_row_lands_in_the_dataset_with_the_declared_shape_and_types(harness):
    harness.put("input/reviews.csv", SAMPLE)
    report = harness.process("input/reviews.csv", MAX_TEXT_CHARS="50")
    (key,) = report["outputs"]["analytics"]
    head = harness.s3.head_object(Bucket=harness.buckets["input"], Key="input/reviews.csv")
    day = head["LastModified"].astimezone(dt.UTC).date().isoformat()
    assert key.startswith(f"analytics/scores/upload_date={day}/") and key.endswith(".jsonl.gz")
    rows = dataset(harness)[key]
    scored = harness.rows("scored/reviews.csv")
    assert len(rows) == len(scored) - 1 == report["rows"]["total"] == 6
    for row in rows:
        assert list(row) and set(row) == {name for name, _, _ in analytics.COLUMNS}
        for name, kind, _ in analytics.COLUMNS:
            assert isinstance(row[name], TYPES[kind]), (name, row[name])
    assert [r["line"] for r in rows] == [2, 3, 5, 6, 7, 8]  # row 2 spans lines 3-4
    for row, out in zip(rows, scored[1:], strict=True):
        assert row["sentiment"] == out[-1]
        assert row["compound"] == (float(out[-2]) if out[-2] else None)
        assert row["neg"] == (float(out[3]) if out[3] else None)
    assert rows[1]["text"] == "Terrible, awful\nand broken"
    assert rows[3]["text"] == '=HYPERLINK("x") is great'  # as read, not neutralised
    assert [r["sentiment"] for r in rows][2:] == ["none", "positive", "neutral", "rejected"]
    assert rows[0] | {"scored_at": None} == rows[0] | {
        "source_bucket": harness.buckets["input"], "source_key": "input/reviews.csv",
        "source_version": None, "source_etag": head["ETag"].strip('"'), "scored_at": None,
        "model": "vaderSentiment 3.3.2",
    }  # fmt: skip
    dt.datetime.strptime(rows[0]["scored_at"], analytics.TIMESTAMP_FORMAT)


@pytest.mark.parametrize(("setting", "expected"), [("none", None), ("4", "I lo")])
def test_analytics_text_keeps_none_or_the_first_characters(harness, setting, expected):
    harness.put("input/t.csv", SAMPLE)
    report = harness.process("input/t.csv", ANALYTICS_TEXT=setting)
    assert report["config"]["analytics_text"] == setting
    (rows,) = dataset(harness).values()
    assert rows[0]["text"] == expected
    assert rows[2]["text"] is None or setting == "4"  # a blank text stays blank ('' or null)
    # The insights pages show the report's extreme rows: the same privacy setting governs them.
    extremes = report["extremes"]
    assert extremes["text_policy"] == (4 if setting == "4" else "none")
    shown = [r.get("text") for r in extremes["most_positive"] + extremes["most_negative"]]
    assert shown and all(t is None or len(t) <= 4 for t in shown)
    assert all(t is None for t in shown) == (setting == "none")


def test_a_changed_text_setting_rescores_instead_of_skipping(harness):
    harness.put("input/t.csv", SAMPLE)
    harness.process("input/t.csv")
    again = harness.process("input/t.csv", ANALYTICS_TEXT="none")
    assert again["status"] == "succeeded"
    (rows,) = dataset(harness).values()  # same upload: its one object was overwritten
    assert {r["text"] for r in rows} == {None}


def test_analytics_off_writes_no_rows_and_removes_a_rescored_files_rows(harness):
    harness.put("input/t.csv", SAMPLE)
    harness.process("input/t.csv")
    assert dataset(harness)
    report = harness.process("input/t.csv", ANALYTICS="off")
    assert report["outputs"]["analytics"] == [] and report["config"]["analytics"] == "off"
    assert dataset(harness) == {}


def test_a_reupload_on_another_day_replaces_the_rows_in_the_old_partition(harness):
    harness.put("input/t.csv", SAMPLE)
    (ref,) = records(event_for(harness.s3, harness.buckets["input"], "input/t.csv"))
    first = harness.job(s3=ShiftedUploads(harness.s3, days=3)).process(ref)
    (old_key,) = first["outputs"]["analytics"]
    harness.put("input/t.csv", SAMPLE.replace(b"love", b"hate"))
    second = harness.process("input/t.csv")
    (new_key,) = second["outputs"]["analytics"]
    assert old_key.split("/")[2] != new_key.split("/")[2]  # two different days
    found = dataset(harness)
    assert list(found) == [new_key]
    assert found[new_key][0]["sentiment"] == "negative"


def test_a_failed_run_leaves_the_previous_rows(harness):
    harness.put("input/t.csv", SAMPLE)
    harness.process("input/t.csv")
    before = dataset(harness)
    harness.put("input/t.csv", b"id,review\n1,fine\n2,too,many,fields\n")
    failed = harness.process("input/t.csv")
    assert failed["status"] == "failed"
    assert dataset(harness) == before


class FailingReports:
    """An S3 client whose report PutObject fails after everything else has been written."""

    def __init__(self, s3):
        self._s3 = s3

    def put_object(self, **kwargs):
        if kwargs["Key"].startswith("reports/"):
            raise TransientError("injected: PutObject of the report failed", expected="-")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def test_rows_of_a_run_whose_report_failed_are_removed_again(harness):
    harness.put("input/t.csv", SAMPLE)
    harness.process("input/t.csv")
    before = dataset(harness)
    harness.put("input/t.csv", SAMPLE.replace(b"love", b"hate"))
    with pytest.raises(TransientError):
        harness.process("input/t.csv", s3=FailingReports(harness.s3))
    assert dataset(harness) == before  # the old rows, and not the new ones too


class UploadsWhileReading:
    """An S3 client that uploads a newer version of the source while the job reads it."""

    def __init__(self, s3, bucket: str, key: str, body: bytes):
        self._s3, self._newer = s3, {"Bucket": bucket, "Key": key, "Body": body}

    def get_object(self, **kwargs):
        response = self._s3.get_object(**kwargs)
        if self._newer:
            self._s3.put_object(**self._newer)
            self._newer = None
        return response

    def __getattr__(self, name):
        return getattr(self._s3, name)


@pytest.mark.parametrize("when", ["delivered late", "uploaded while scoring"])
def test_a_superseded_version_never_replaces_the_newer_versions_rows(harness, when):
    bucket = harness.buckets["input"]
    harness.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    newer_body = SAMPLE.replace(b"love", b"hate")
    harness.put("input/v.csv", SAMPLE)
    (older,) = records(event_for(harness.s3, bucket, "input/v.csv"))
    if when == "delivered late":
        harness.put("input/v.csv", newer_body)
        newer = harness.process("input/v.csv")
        late = harness.job().process(older)  # the older upload's event, delivered late
    else:
        client = UploadsWhileReading(harness.s3, bucket, "input/v.csv", newer_body)
        late = harness.job(s3=client).process(older)  # nothing committed: a newer upload
        newer = harness.process("input/v.csv")
    assert late["status"] == "superseded"
    assert newer["source"]["version_id"] != older.version_id
    found = dataset(harness)
    assert list(found) == newer["outputs"]["analytics"]
    (rows,) = found.values()
    assert {r["source_version"] for r in rows} == {newer["source"]["version_id"]}
    assert rows[0]["sentiment"] == "negative"
    assert harness.json("reports/v.csv.json")["source"] == newer["source"]


def test_the_recursion_guard_covers_the_dataset_and_athena_results():
    from csv_sentiment.events import ObjectRef

    for key in ("analytics/scores/upload_date=2026-01-01/x.jsonl.gz", "athena-results/q.csv"):
        assert is_own_output(ObjectRef("out", key, None, "", 0, "ObjectCreated:Put"), "out")
