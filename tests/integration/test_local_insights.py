"""The deployed insights function under the real runtime: a new run report's S3 notification
(emulated from the deployed template) runs it on its own layers (powertools, pandas, plots);
the page opens in Chromium from a presigned URL; a failure is retried, lands in the failure
queue, and `make redrive` sends it back to the insights function."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.local.prepare import isolated_env
from tests import chromium
from tests import insightsdata as data
from tests.paths import ROOT

pytestmark = pytest.mark.slow


def _insights_events(local, rel: str) -> list:
    return local.events_for(local.outputs["InsightsFunctionName"], f"reports/{rel}.json")


def _settle(local) -> None:
    local.wait()
    local.wait()  # the report appears at the end of the scoring run: one more poll finds it


def test_a_scored_file_gets_a_page_drawn_on_the_insights_layers(local):
    inp, out = local.outputs["InputBucketName"], local.outputs["OutputBucketName"]
    key = "input/insights/hostile.csv"
    local.s3.put_object(Bucket=inp, Key=key, Body=data.hostile_csv(),
                        Metadata={"text-column": data.TEXT_COLUMN})  # fmt: skip
    _settle(local)
    rel = key.removeprefix("input/")
    [event] = _insights_events(local, rel)
    assert event.outcome == "success", event.attempts[-1].error
    served = local.service.served[local.outputs["InsightsFunctionName"]]
    assert [layer.key.split("/")[1] for layer in served.fn.layers] == [
        "powertools", "pandas", "plots",
    ]  # fmt: skip
    assert served.fn.handler == "insights_handler.lambda_handler"
    assert not (served.layout.opt / "python" / "vaderSentiment").exists()
    report = json.loads(local.s3.get_object(Bucket=out, Key=f"reports/{rel}.json")["Body"].read())
    url = local.s3.generate_presigned_url(
        "get_object", Params={"Bucket": out, "Key": f"insights/{rel}.html"}, ExpiresIn=600
    )
    driver = chromium.start()
    try:
        chromium.open_at(driver, url, chromium.WIDTHS["laptop"])
        assert driver.title == f"Sentiment of {rel}"
        assert driver.execute_script("return window.__pwned") is None
        shown = driver.execute_script(
            """const t = [...document.querySelectorAll('table')]
                 .find(t => t.caption.textContent === 'Rows per label');
               return [...t.tBodies[0].rows].map(r => [r.cells[0].textContent,
                                                       +r.cells[1].textContent]);"""
        )
        assert dict(shown) == report["labels"]
        widths = driver.execute_script(
            "return [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)"
        )
        assert len(widths) == 2 and min(widths) > 250
        assert chromium.console_errors(driver) == []
    finally:
        driver.quit()


def test_a_failing_invocation_is_retried_then_queued_and_redriven_to_insights(local, drain_queue):
    out = local.outputs["OutputBucketName"]
    state_key = "insights/_index/state.json"
    saved = local.s3.get_object(Bucket=out, Key=state_key)["Body"].read()
    local.s3.put_object(Bucket=out, Key=state_key, Body=b"[]")  # an index state it must not use
    drain_queue(local.outputs["FailureQueueUrl"])
    try:
        local.s3.put_object(Bucket=local.outputs["InputBucketName"], Key="input/insights/f.csv",
                            Body=b"id,review\n1,lovely\n")  # fmt: skip
        _settle(local)
        [event] = _insights_events(local, "insights/f.csv")
        assert event.outcome == "failed" and len(event.attempts) == 3  # 1 + 2 retries
        assert "BrokenState" in str(event.attempts[-1].error)
        assert local.s3.get_object(Bucket=out, Key=state_key)["Body"].read() == b"[]"
    finally:
        local.s3.put_object(Bucket=out, Key=state_key, Body=saved)
    queue = local.sqs.get_queue_url(QueueName=local.outputs["FailureQueueUrl"].rsplit("/", 1)[-1])
    env = isolated_env(
        {**local.endpoint, "AWS_ENDPOINT_URL_LAMBDA": local.lambda_url, "STACK": "itest"}
    )
    done = subprocess.run([sys.executable, "-m", "infra.deploy", "redrive"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok      s3://{out}/reports/insights/f.csv.json" in done.stdout
    assert local.s3.head_object(Bucket=out, Key="insights/insights/f.csv.html")
    attributes = local.sqs.get_queue_attributes(
        QueueUrl=queue["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
