"""Failures: permanent input errors are reported (not raised), transient and configuration
errors are raised with nothing half-written, and nothing is ever lost."""

import gzip

import pytest

from csv_sentiment.errors import ConfigurationError, TransientError
from csv_sentiment.events import records
from tests.functional.s3_harness import event_for, fail_requests, fresh_client

GOOD = b"id,text\n1,I love it\n2,I hate it\n"


def assert_reported(harness, key, rel, code, *fragments):
    report = harness.process(key)
    assert report["status"] == "failed"
    assert report["error"]["code"] == code
    for fragment in fragments:
        assert fragment in report["error"]["message"] + report["error"].get("expected", "")
    saved = harness.json(f"errors/{rel}.json")
    assert saved["error"] == report["error"]
    assert saved["source"]["etag"] and saved["source"]["key"] == key
    assert not any(k.startswith(("scored/", "reports/")) for k in harness.listing())
    return report


@pytest.mark.parametrize(
    ("name", "body", "code", "fragments"),
    [
        ("empty.csv", b"", "empty_input", ["empty (0 bytes)"]),
        ("noheader.csv", b"\n\n", "empty_input", ["no header row"]),
        ("binary.csv", b"PK\x03\x04\x14\x00\x00\x00binary", "not_csv", ["NUL byte"]),
        ("nocol.csv", b"id,a,b\n1,x,y\n", "text_column_not_found",
         ["columns are: id, a, b", "2 columns hold text"]),
        ("numbers.csv", b"id,score\n1,2\n", "text_column_not_found", ["no column holds text"]),
        ("long-row.csv", b"id,text\n1,ok\n2,\"two\nlines\"\n3,too,many\n", "malformed_row",
         ["line 5 has 3 fields but the header has 2"]),
        ("nul.csv", b"text\nfine\nhidden\x00nul\n", "not_csv", ["byte 16 is a NUL byte"]),
        ("late-nul.csv", b"text\n" + b"fine\n" * 20_000 + b"x\x00\n", "not_csv",
         ["line 20002 contains a NUL"]),
        ("badgz.csv.gz", b"\x1f\x8b\x08\x00not really gzip", "not_csv", ["gzip"]),
    ],
)  # fmt: skip
def test_permanent_input_errors_write_an_error_report_and_do_not_raise(
    harness, name, body, code, fragments
):
    harness.put(f"input/{name}", body)
    assert_reported(harness, f"input/{name}", name, code, *fragments)


def test_undecodable_bytes_name_the_offset_when_fallback_is_off(harness):
    harness.env["ENCODING_FALLBACK"] = "none"
    harness.put("input/latin.csv", b"text\nna\xefve\n")
    report = assert_reported(harness, "input/latin.csv", "latin.csv", "undecodable", "byte 7")
    assert report["error"]["offset"] == 7


def test_giant_cell_is_bounded(harness):
    harness.env["MAX_CELL_CHARS"] = "2048"
    harness.put("input/giant.csv", b'id,text\n1,"' + b"x" * 3000 + b'"\n')
    assert_reported(harness, "input/giant.csv", "giant.csv", "limit_exceeded", "MAX_CELL_CHARS")


def test_millions_of_columns_are_refused_before_they_are_parsed(harness):
    harness.put("input/wide.csv", b",".join([b"c"] * 3_000_000) + b"\n")
    assert_reported(harness, "input/wide.csv", "wide.csv", "limit_exceeded", "before it was parsed")


def test_too_many_columns(harness):
    harness.env["MAX_COLUMNS"] = "3"
    harness.put("input/cols.csv", b"a,b,c,text\n1,2,3,ok\n")
    assert_reported(harness, "input/cols.csv", "cols.csv", "limit_exceeded", "MAX_COLUMNS")


def test_gzip_bomb_is_stopped(harness):
    harness.env["MAX_INPUT_MB"] = "1"
    harness.put("input/bomb.csv.gz", gzip.compress(b"text\n" + b"a\n" * 5_000_000, 9))
    assert_reported(harness, "input/bomb.csv.gz", "bomb.csv.gz", "limit_exceeded", "MAX_INPUT_MB")


def test_overlong_text_is_rejected_not_truncated_and_the_file_succeeds(harness):
    harness.env["MAX_TEXT_CHARS"] = "50"
    harness.put("input/long.csv", b"text\nshort and good\n" + b"good " * 20 + b"\n")
    report = harness.process("input/long.csv")
    assert report["status"] == "succeeded"
    assert report["rows"] == {"total": 2, "scored": 1, "none": 0, "rejected": 1}
    rows = harness.rows("scored/long.csv")
    assert rows[2][0] == ("good " * 20).strip() + " " and rows[2][1:] == [
        "",
        "",
        "",
        "",
        "rejected",
    ]


def test_running_out_of_time_aborts_and_says_how_far_it_got(harness):
    harness.env.update(CHUNK_ROWS="100", TIME_MARGIN_SECONDS="20")
    budget = iter([60_000] * 3 + [10_000] * 100)  # three batches fit, then time runs out
    harness.remaining_ms = lambda: next(budget)
    harness.put("input/big.csv", b"text\n" + b"so good\n" * 1000)
    report = assert_reported(
        harness, "input/big.csv", "big.csv", "time_budget_exceeded", "split it"
    )
    assert report["error"]["rows_done"] > 0
    uploads = harness.s3.list_multipart_uploads(Bucket=harness.buckets["output"])
    assert not uploads.get("Uploads")


def test_source_deleted_before_processing_is_reported(harness):
    harness.put("input/gone.csv", GOOD)
    (ref,) = records(event_for(harness.s3, harness.buckets["input"], "input/gone.csv"))
    harness.s3.delete_object(Bucket=harness.buckets["input"], Key="input/gone.csv")
    report = harness.job().process(ref)
    assert report["error"]["code"] == "source_gone"


def test_get_object_503_then_success_is_retried_by_the_client(harness):
    harness.put("input/flaky.csv", GOOD)
    client = fresh_client()
    calls = fail_requests(client, "GetObject", 503, "SlowDown", times=2)
    report = harness.process("input/flaky.csv", s3=client)
    assert report["status"] == "succeeded"
    assert calls["n"] >= 3  # the report lookup and the source read both went through it


def test_persistent_503_raises_transient_and_writes_nothing(harness):
    harness.put("input/down.csv", GOOD)
    client = fresh_client()
    fail_requests(client, "GetObject", 503, "ServiceUnavailable")
    with pytest.raises(TransientError, match="ServiceUnavailable"):
        harness.process("input/down.csv", s3=client)
    assert harness.listing() == []


def test_upload_part_failure_aborts_and_leaves_no_object(harness):
    harness.env["PART_SIZE_MB"] = "5"
    body = b"id,text\n" + b"".join(b"%d,This is really good and not bad at all\n" % i
                                   for i in range(200_000))  # fmt: skip
    harness.put("input/parts.csv", body)
    client = fresh_client()
    fail_requests(client, "UploadPart", 500, "InternalError")
    with pytest.raises(TransientError, match="UploadPart"):
        harness.process("input/parts.csv", s3=client)
    assert harness.listing() == []
    assert not harness.s3.list_multipart_uploads(Bucket=harness.buckets["output"]).get("Uploads")


def test_multipart_output_is_complete_and_identical(harness):
    harness.env["PART_SIZE_MB"] = "5"
    lines = [b"%d,This is really good and not bad at all" % i for i in range(200_000)]
    harness.put("input/multi.csv", b"id,text\n" + b"\n".join(lines) + b"\n")
    report = harness.process("input/multi.csv")
    assert report["bytes_written"] > 10 * 1024 * 1024  # three parts at least
    assert len(harness.rows("scored/multi.csv")) == 200_001


def test_access_denied_is_a_configuration_error_that_says_what_to_fix(harness):
    harness.put("input/denied.csv", GOOD)
    client = fresh_client()
    fail_requests(client, "PutObject", 403, "AccessDenied")
    with pytest.raises(ConfigurationError) as err:
        harness.process("input/denied.csv", s3=client)
    assert "AccessDenied" in str(err.value)
    assert "role" in err.value.expected


def test_missing_output_bucket_is_a_configuration_error(harness):
    harness.put("input/nobucket.csv", GOOD)
    with pytest.raises(ConfigurationError) as err:
        harness.process("input/nobucket.csv", OUTPUT_BUCKET="no-such-bucket-here")
    assert "NoSuchBucket" in str(err.value)
    assert "OUTPUT_BUCKET" in err.value.expected


def test_success_removes_a_stale_error_and_failure_keeps_the_previous_result(harness):
    harness.put("input/x.csv", b"id,a,b\n1,x,y\n")
    harness.process("input/x.csv")
    assert "errors/x.csv.json" in harness.listing()
    harness.put("input/x.csv", GOOD)
    harness.process("input/x.csv")
    assert harness.listing() == ["reports/x.csv.json", "scored/x.csv"]
    good_output = harness.output("scored/x.csv")
    harness.put("input/x.csv", b"")
    harness.process("input/x.csv")
    assert harness.listing() == ["errors/x.csv.json", "reports/x.csv.json", "scored/x.csv"]
    assert harness.output("scored/x.csv") == good_output


def test_the_input_object_is_never_modified(harness):
    harness.put("input/keep.csv", GOOD)
    before = harness.s3.head_object(Bucket=harness.buckets["input"], Key="input/keep.csv")
    harness.process("input/keep.csv")
    after = harness.s3.head_object(Bucket=harness.buckets["input"], Key="input/keep.csv")
    assert before["ETag"] == after["ETag"]
