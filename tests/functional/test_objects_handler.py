"""The handler with backfill payloads (csv_sentiment/objects.py) on moto server: every object
through the same Job.process as an S3 event, so the duplicate check decides."""

from __future__ import annotations

import json

import pytest

from csv_sentiment.errors import ConfigurationError
from csv_sentiment.events import output_keys
from tests.functional.test_handler import Context, lines, load_handler  # noqa: F401 (by name)

RUN = {"id": "00112233445566778899", "attempt": 1}


@pytest.fixture
def load(request):
    """test_handler's `load_handler`: a fresh handler module with the given environment."""
    return request.getfixturevalue("load_handler")


def group(bucket, keys, index=0):
    return {
        "kind": "sentiment.objects/v1",
        "run": RUN,
        "bucket": bucket,
        "group": {"index": index, "objects": [{"key": k, "etag": "", "size": 0} for k in keys]},
    }


@pytest.fixture
def archive(s3, buckets):
    """Objects that never triggered anything: outside INPUT_PREFIX, and one bad file."""
    bodies = {
        "archive/2025/a.csv": b"id,review\n1,I love it\n2,terrible\n",
        "archive/2025/b.csv": b"id,text\n1,fine\n",
        "input/c.csv": b"id,review\n1,great\n",
        "archive/2025/bad.csv": b"id,review\n1,ok\n2,too,many,cells\n",
    }
    for key, body in bodies.items():
        s3.put_object(Bucket=buckets["input"], Key=key, Body=body)
    return list(bodies)


def _json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_group_is_scored_recorded_and_skipped_the_second_time(s3, buckets, archive,
                                                                load, capsys):  # fmt: skip
    handler = load(OUTPUT_BUCKET=buckets["output"])
    first = handler.lambda_handler(group(buckets["input"], archive), Context())
    assert first == {"group": 0, "counts": {"scored": 3, "failed": 1}}
    out = buckets["output"]
    keys = {k: output_keys(k, "input/") for k in archive}
    assert _json(s3, out, keys["archive/2025/a.csv"].report)["rows"]["scored"] == 2
    assert _json(s3, out, keys["input/c.csv"].report)["status"] == "succeeded"
    assert "line 3" in _json(s3, out, keys["archive/2025/bad.csv"].error)["error"]["message"]
    record = _json(s3, out, "backfill/00112233445566778899/attempt-1/groups/000000.json")
    bad = next(e for e in record["objects"] if e["key"] == "archive/2025/bad.csv")
    assert bad["error_report"] == f"s3://{out}/{keys['archive/2025/bad.csv'].error}"
    logged = lines(capsys)
    assert sum(1 for x in logged if x.get("message") == "scored") == 3
    assert {x.get("payload_kind") for x in logged if x.get("message") == "scored"} == {
        "sentiment.objects/v1"
    }

    again = handler.lambda_handler(group(buckets["input"], archive), Context())
    assert again["counts"] == {"skipped": 3, "failed": 1}
    versions = s3.list_object_versions(Bucket=out, Prefix="scored/").get("Versions", [])
    assert len(versions) == 3  # nothing scored twice


def test_a_configuration_change_scores_the_group_again(s3, buckets, archive, load):
    handler = load(OUTPUT_BUCKET=buckets["output"])
    keys = archive[:3]
    assert handler.lambda_handler(group(buckets["input"], keys), Context())["counts"] == {
        "scored": 3
    }
    handler = load(OUTPUT_BUCKET=buckets["output"], NEUTRALISE_FORMULAS="false")
    assert handler.lambda_handler(group(buckets["input"], keys), Context())["counts"] == {
        "scored": 3
    }


def test_the_final_step_counts_from_the_records(s3, buckets, archive, load):
    handler = load(OUTPUT_BUCKET=buckets["output"])
    groups = [{"index": 0, "objects": [{"key": k} for k in archive[:2]]},
              {"index": 1, "objects": [{"key": k} for k in archive[2:]]},
              {"index": 2, "objects": [{"key": "archive/lost.csv"}]}]  # fmt: skip
    s3.put_object(Bucket=buckets["output"], Key="backfill/00112233445566778899/manifest.json",
                  Body=json.dumps(groups).encode())  # fmt: skip
    for g in groups[:2]:
        handler.lambda_handler(
            group(buckets["input"], [o["key"] for o in g["objects"]], g["index"]), Context()
        )
    tally = handler.lambda_handler({"kind": "sentiment.objects-tally/v1", "run": RUN}, Context())
    assert tally["objects"] == 5
    assert tally["counts"] == {"scored": 3, "failed": 2}
    assert sorted(e["key"] for e in tally["failed"]) == ["archive/2025/bad.csv", "archive/lost.csv"]


def test_a_configuration_error_is_raised_for_the_state_machine_to_see(buckets, archive,
                                                                      load):  # fmt: skip
    handler = load(OUTPUT_BUCKET="no-such-bucket-h13")
    with pytest.raises(ConfigurationError):
        handler.lambda_handler(group(buckets["input"], archive[:1]), Context())


def test_a_malformed_payload_is_refused_with_what_was_expected(buckets, load):
    handler = load(OUTPUT_BUCKET=buckets["output"])
    with pytest.raises(ValueError, match="needs 'bucket'"):
        handler.lambda_handler({"kind": "sentiment.objects/v1", "run": RUN}, Context())
