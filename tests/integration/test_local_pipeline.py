"""The deployed scoring function through the local service: real runtime, real layers."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def _scored(local, rel: str) -> list[dict]:
    body = local.s3.get_object(Bucket=local.outputs["OutputBucketName"], Key=f"scored/{rel}")
    return list(csv.DictReader(io.StringIO(body["Body"].read().decode("utf-8-sig"))))


def _report(local, rel: str) -> dict:
    body = local.s3.get_object(Bucket=local.outputs["OutputBucketName"], Key=f"reports/{rel}.json")
    return json.loads(body["Body"].read())


def test_scores_the_shared_corpus_identically_to_vadersentiment(local, corpus_path):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    local.s3.upload_file(str(corpus_path), local.outputs["InputBucketName"], "input/corpus.csv")
    local.wait()
    [event] = local.events_for(local.outputs["FunctionName"], "input/corpus.csv")
    assert event.outcome == "success", event.attempts[-1].error
    with open(corpus_path, newline="", encoding="utf-8") as f:
        source = list(csv.DictReader(f))
    scored = _scored(local, "corpus.csv")
    assert len(scored) == len(source) == 23_703
    analyzer = SentimentIntensityAnalyzer()
    mismatches = []
    for i, (src, out) in enumerate(zip(source, scored, strict=True)):
        expected = analyzer.polarity_scores(src["text"])
        got = {k: float(out[k]) for k in ("neg", "neu", "pos", "compound")}
        if out["id"] != src["id"] or got != {k: expected[k] for k in got}:
            mismatches.append((i, src["id"], got, expected))
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[:3]}"
    assert _report(local, "corpus.csv")["rows"]["scored"] == 23_703


def test_several_files_uploaded_at_once_all_get_outputs_on_reused_instances(local):
    fn = local.outputs["FunctionName"]
    pool = local.service.served[fn].pool
    names = [f"batch/file-{i}.csv" for i in range(6)]

    def upload(name: str) -> None:
        body = f"id,review\n1,great product {name}\n2,awful support\n".encode()
        local.s3.put_object(Bucket=local.outputs["InputBucketName"], Key=f"input/{name}", Body=body)

    with ThreadPoolExecutor(len(names)) as pool_:
        list(pool_.map(upload, names))
    local.wait()
    cold = 0
    for name in names:
        [event] = local.events_for(fn, f"input/{name}")
        assert event.outcome == "success", (name, event.attempts[-1].error)
        assert [r["sentiment"] for r in _scored(local, name)] == ["positive", "negative"]
        assert _report(local, name)["status"] == "succeeded"
        cold += sum(attempt.cold for attempt in event.attempts)
    # Six events, at most `limit` instances: the rest waited in the queue for a warm one.
    assert cold <= pool.limit


def test_the_same_event_delivered_twice_gives_one_output(local):
    fn, out = local.outputs["FunctionName"], local.outputs["OutputBucketName"]
    local.s3.put_object(
        Bucket=local.outputs["InputBucketName"],
        Key="input/twice.csv",
        Body=b"id,review\n1,I love it\n",
    )
    local.wait()
    [first] = local.events_for(fn, "input/twice.csv")
    assert first.outcome == "success"
    before = local.s3.head_object(Bucket=out, Key="scored/twice.csv")

    again = local.service.invoke_async(fn, first.payload)  # S3 delivers at least once
    local.wait()
    assert again.outcome == "success"
    result = json.loads(again.attempts[-1].payload)["results"][0]
    assert result["status"] == "skipped", result
    after = local.s3.head_object(Bucket=out, Key="scored/twice.csv")
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    keys = [o["Key"] for o in local.s3.list_objects_v2(Bucket=out).get("Contents", [])]
    mine = [k for k in keys if "twice" in k and not k.startswith("insights/")]  # its page aside
    assert mine == ["reports/twice.csv.json", "scored/twice.csv"]


def test_function_logs_are_kept_per_invocation_cloudwatch_style(local):
    from infra.local.logs import read

    fn = local.outputs["FunctionName"]
    local.s3.put_object(
        Bucket=local.outputs["InputBucketName"], Key="input/logged.csv", Body=b"id,review\n1,fine\n"
    )
    local.wait()
    [event] = local.events_for(fn, "input/logged.csv")
    lines = [e["message"] for e in read(local.service.run_dir / "logs", fn, event.request_id)]
    assert lines[0] == f"START RequestId: {event.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {event.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {event.request_id}\tDuration: ")
    scored = [json.loads(x) for x in lines if x.startswith("{") and '"scored"' in x]
    assert scored and scored[0]["function_request_id"] == event.request_id


def test_what_runs_is_what_was_deployed_from_the_artifact_bucket(local, built_artifacts):
    """The served function's code and layers are the built zips, read back from the artifact
    bucket the deployed template names, laid out as Lambda lays them out."""
    import hashlib

    served = local.service.served[local.outputs["FunctionName"]]
    function_zip = built_artifacts / "functions" / "sentiment.zip"
    assert (
        served.fn.code_key
        == f"function/{hashlib.sha256(function_zip.read_bytes()).hexdigest()}.zip"
    )
    manifest = json.loads((built_artifacts / "layers" / "manifest.json").read_text())
    mine = [
        e
        for e in manifest["layers"]
        if (e["runtime"], e["arch"]) == ("python3.12", "x86_64") and "sentiment" in e["functions"]
    ]  # each function attaches the layers whose layer.toml names it
    expected = [
        f"layers/{e['name']}/{e['sha256']}.zip" for e in sorted(mine, key=lambda e: e["position"])
    ]
    assert [layer.key for layer in served.fn.layers] == expected
    assert (served.layout.task / "handler.py").is_file()
    assert (served.layout.opt / "python" / "vaderSentiment").is_dir()
    assert list((served.layout.opt / "python").rglob("__pycache__/*.pyc"))  # shipped bytecode
