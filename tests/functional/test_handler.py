"""The Lambda handler end to end: canned S3 events, logs and metrics, duplicates, recursion."""

import importlib
import json
import logging
import os
import sys

import pytest

from tests.functional.s3_harness import EVENTS, event_for


class Context:
    aws_request_id = "c0ffee00-0000-4000-8000-000000000001"
    function_name = "sentiment-score"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sentiment-score"

    def get_remaining_time_in_millis(self):
        return 600_000


@pytest.fixture
def load_handler(aws_env, monkeypatch):
    def load(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("handler", None)
        # Powertools keeps one logging.Logger per service name across imports; point its
        # handler at this test's stdout, as a fresh Lambda container would write there.
        service = os.environ.get("POWERTOOLS_SERVICE_NAME", "sentiment")
        for h in logging.getLogger(service).handlers:
            if isinstance(h, logging.StreamHandler):
                h.stream = sys.stdout
        return importlib.import_module("handler")

    yield load
    sys.modules.pop("handler", None)


def lines(capsys):
    out = capsys.readouterr().out
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def upload(s3, bucket, keys, body=b"id,text\n1,What a great day\n2,awful service\n"):
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return keys


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ("put-key-with-spaces.json", "input/monthly reviews 2026.csv"),
        ("put-key-with-plus.json", "input/a+b c.csv"),
        ("put-key-unicode.json", "input/résumés/✓ avis.csv"),
    ],
)
def test_awkward_keys_round_trip_to_their_outputs(s3, buckets, load_handler, event, key):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    objects = upload(s3, buckets["input"], [key])
    result = handler.lambda_handler(event_for(s3, buckets["input"], objects, event), Context())
    rel = key.removeprefix("input/")
    assert result["results"][0]["outputs"] == {
        "scored": f"scored/{rel}",
        "report": f"reports/{rel}.json",
    }
    s3.head_object(Bucket=buckets["output"], Key=f"scored/{rel}")


def test_every_record_is_processed_with_logs_and_metrics(s3, buckets, load_handler, capsys):
    import gzip

    handler = load_handler(OUTPUT_BUCKET=buckets["output"], POWERTOOLS_SERVICE_NAME="svc-x")
    keys = ["input/one.csv", "input/two words.csv", "input/three.csv.gz"]
    objects = upload(s3, buckets["input"], keys[:2])
    objects += upload(s3, buckets["input"], keys[2:], gzip.compress(b"text\nnice\n"))
    capsys.readouterr()
    result = handler.lambda_handler(
        event_for(s3, buckets["input"], objects, "put-several-records.json"), Context()
    )
    assert [r["status"] for r in result["results"]] == ["succeeded"] * 3
    logs = lines(capsys)
    scored = [x for x in logs if x.get("message") == "scored"]
    assert [x["key"] for x in scored] == keys
    assert all(x["function_request_id"] == Context.aws_request_id for x in scored)
    assert all(x["service"] == "svc-x" and "cold_start" in x for x in scored)
    (emf,) = [x for x in logs if "_aws" in x and "FilesScored" in x]
    assert emf["FilesScored"] == [1.0, 1.0, 1.0]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SentimentPipeline"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert emf["service"] == "svc-x"


def test_duplicate_delivery_is_skipped_and_reupload_is_rescored(s3, buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    objects = upload(s3, buckets["input"], ["input/reviews.csv"])
    event = event_for(s3, buckets["input"], objects)
    first = handler.lambda_handler(event, Context())["results"][0]
    report_before = s3.get_object(Bucket=buckets["output"], Key="reports/reviews.csv.json")
    again = handler.lambda_handler(event, Context())["results"][0]
    assert (first["status"], again["status"]) == ("succeeded", "skipped")
    assert "duplicate delivery" in again["reason"]
    report_after = s3.get_object(Bucket=buckets["output"], Key="reports/reviews.csv.json")
    assert report_after["ETag"] == report_before["ETag"]  # nothing rewritten
    assert any(x.get("FilesSkipped") == [1.0] for x in lines(capsys) if "_aws" in x)

    objects = upload(s3, buckets["input"], ["input/reviews.csv"], b'text\n"changed, and good"\n')
    event = event_for(s3, buckets["input"], objects)
    assert handler.lambda_handler(event, Context())["results"][0]["status"] == "succeeded"


def test_changed_configuration_scores_the_same_file_again(s3, buckets, load_handler):
    objects = upload(s3, buckets["input"], ["input/reviews.csv"])
    event = event_for(s3, buckets["input"], objects)
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    assert handler.lambda_handler(event, Context())["results"][0]["status"] == "succeeded"
    handler = load_handler(OUTPUT_BUCKET=buckets["output"], NEUTRALISE_FORMULAS="false")
    assert handler.lambda_handler(event, Context())["results"][0]["status"] == "succeeded"


def test_own_output_is_refused_and_nothing_is_written(s3, buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    objects = upload(s3, buckets["output"], ["scored/reviews.csv"])
    before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=buckets["output"])["Contents"])
    event = event_for(s3, buckets["output"], objects, "put-own-output.json")
    capsys.readouterr()
    result = handler.lambda_handler(event, Context())
    assert result["results"][0]["status"] == "refused"
    after = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=buckets["output"])["Contents"])
    assert after == before
    logs = lines(capsys)
    assert any(x.get("level") == "ERROR" and "own output" in x["message"] for x in logs)
    assert any(x.get("RecursionRefused") == [1.0] for x in logs if "_aws" in x)


def test_s3_test_event_is_acknowledged_without_work(buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    event = json.loads((EVENTS / "s3-test-event.json").read_text())
    assert handler.lambda_handler(event, Context()) == {"results": []}
    assert any("no S3 object records" in x.get("message", "") for x in lines(capsys))


def test_permanent_failure_returns_normally_with_an_error_metric(s3, buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    objects = upload(s3, buckets["input"], ["input/reviews.csv"], b"")
    result = handler.lambda_handler(event_for(s3, buckets["input"], objects), Context())
    assert result["results"][0]["error"]["code"] == "empty_input"
    logs = lines(capsys)
    assert any(x.get("level") == "ERROR" and x["message"] == "file not scored" for x in logs)
    assert any(x.get("FilesFailed") == [1.0] for x in logs if "_aws" in x)


def test_configuration_error_is_raised_and_counted(s3, buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET="missing-output-bucket-x")
    objects = upload(s3, buckets["input"], ["input/reviews.csv"])
    with pytest.raises(Exception, match="NoSuchBucket"):
        handler.lambda_handler(event_for(s3, buckets["input"], objects), Context())
    assert any(x.get("FilesFailed") == [1.0] for x in lines(capsys) if "_aws" in x)


def test_invalid_setting_fails_the_cold_start_naming_the_variable(load_handler, monkeypatch):
    monkeypatch.delenv("OUTPUT_BUCKET", raising=False)
    with pytest.raises(Exception, match="OUTPUT_BUCKET is not set"):
        load_handler()
    with pytest.raises(Exception, match="CHUNK_ROWS='lots' is invalid"):
        load_handler(OUTPUT_BUCKET="fine-bucket", CHUNK_ROWS="lots")


def test_events_other_than_object_created_are_ignored(s3, buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    objects = upload(s3, buckets["input"], ["input/reviews.csv"])
    event = event_for(s3, buckets["input"], objects)
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert handler.lambda_handler(event, Context())["results"] == [
        {"status": "ignored", "event_name": "ObjectRemoved:Delete"}
    ]
    assert s3.list_objects_v2(Bucket=buckets["output"]).get("KeyCount") == 0
    assert any("only ObjectCreated" in x.get("message", "") for x in lines(capsys))


@pytest.mark.parametrize(
    "event",
    [None, [], {"Records": "x"}, {"Records": [None]},
     {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": None, "object": None}}]}],
)  # fmt: skip
def test_malformed_events_are_a_permanent_error_in_the_log_and_the_result(
    buckets, load_handler, capsys, event
):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    capsys.readouterr()
    (result,) = handler.lambda_handler(event, Context())["results"]  # returned, not raised
    assert result["status"] == "failed"
    assert result["error"]["code"] == "malformed_event"
    logs = lines(capsys)
    assert any(x.get("level") == "ERROR" and "malformed event" in x["message"] for x in logs)
    assert any(x.get("EventsMalformed") == [1.0] for x in logs if "_aws" in x)


def test_rfc2047_text_column_metadata_is_decoded(s3, buckets, load_handler):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    body = "id,évaluation,autre\n1,I love it,x y\n".encode()
    # What S3 returns for `--metadata text-column=évaluation`: the value RFC 2047-encoded.
    s3.put_object(Bucket=buckets["input"], Key="input/fr.csv", Body=body,
                  Metadata={"text-column": "=?UTF-8?B?w6l2YWx1YXRpb24=?="})  # fmt: skip
    (result,) = handler.lambda_handler(event_for(s3, buckets["input"], ["input/fr.csv"]),
                                       Context())["results"]  # fmt: skip
    assert result["status"] == "succeeded", result
    assert result["text_column"] == "évaluation"
    assert result["config"]["text_column_setting"] == "évaluation"


def test_undecodable_rfc2047_metadata_is_a_permanent_error(s3, buckets, load_handler):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    s3.put_object(Bucket=buckets["input"], Key="input/k.csv", Body=b"text\nok\n",
                  Metadata={"text-column": "=?klingon?B?YQ==?="})  # fmt: skip
    (result,) = handler.lambda_handler(event_for(s3, buckets["input"], ["input/k.csv"]),
                                       Context())["results"]  # fmt: skip
    assert result["error"]["code"] == "invalid_metadata"
    assert "RFC 2047" in result["error"]["message"]


def test_an_event_for_a_replaced_version_is_logged_and_counted(s3, buckets, load_handler, capsys):
    handler = load_handler(OUTPUT_BUCKET=buckets["output"])
    s3.put_bucket_versioning(Bucket=buckets["input"], VersioningConfiguration={"Status": "Enabled"})
    old = event_for(s3, buckets["input"], upload(s3, buckets["input"], ["input/r.csv"]))
    upload(s3, buckets["input"], ["input/r.csv"], b"text\nnewer\n")
    capsys.readouterr()
    (result,) = handler.lambda_handler(old, Context())["results"]
    assert result["status"] == "superseded"
    logs = lines(capsys)
    assert any(x.get("level") == "WARNING" and "newer version" in x["message"] for x in logs)
    assert any(x.get("FilesSuperseded") == [1.0] for x in logs if "_aws" in x)


def test_bounds_that_cannot_fit_the_memory_size_fail_the_cold_start(load_handler):
    with pytest.raises(Exception, match="more than the function's 256 MB") as err:
        load_handler(OUTPUT_BUCKET="fine-bucket", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256")
    assert "CHUNK_MB" in err.value.expected
