"""Asynchronous delivery through the local service, with the purpose-built probe functions
(functions/probe): S3 event records, notification filters, retries, the on-failure
destination, timeouts, and nothing left running after a stop."""

from __future__ import annotations

import json
import re
import sys
import time
from urllib.parse import quote

import psutil
import pytest

pytestmark = pytest.mark.slow


def test_a_failing_invocation_lands_in_the_failure_queue_after_the_retries(local, drain_queue):
    local.s3.put_object(Bucket=f"{local.probe_stack}-in", Key="fail/broken file.txt", Body=b"x")
    local.wait()
    [event] = local.events_for(local.probe_function("fail"), "fail/broken+file.txt")
    assert event.outcome == "failed"
    assert len(event.attempts) == local.probe_retries + 1
    assert {a.request_id for a in event.attempts} == {event.request_id}  # one ID, as on Lambda

    [record] = drain_queue(local.probe["FailureQueue"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == local.probe_retries + 1
    assert record["requestContext"]["requestId"] == event.request_id
    assert record["requestContext"]["functionArn"].endswith(
        f":function:{local.probe_function('fail')}:$LATEST"
    )
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "probe failure: fail/broken+file.txt"
    assert record["requestPayload"] == event.payload


def test_a_timeout_is_reported_as_lambda_reports_it(local, drain_queue):
    from infra.local.logs import read

    local.s3.put_object(Bucket=f"{local.probe_stack}-in", Key="slow/nap.txt", Body=b"x")
    local.wait()
    [event] = local.events_for(local.probe_function("slow"), "slow/nap.txt")
    assert event.outcome == "failed" and len(event.attempts) == 1  # MaximumRetryAttempts: 0
    rid = event.request_id
    pattern = (
        rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 2\.00 seconds$"
    )

    [record] = drain_queue(local.probe["FailureQueue"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert re.match(pattern, record["responsePayload"]["errorMessage"])

    lines = [
        e["message"]
        for e in read(local.service.run_dir / "logs", local.probe_function("slow"), rid)
    ]
    timed_out = [i for i, line in enumerate(lines) if re.match(pattern, line)]
    assert timed_out and lines[timed_out[0] + 1] == f"END RequestId: {rid}"
    assert re.search(r"\tDuration: 200\d\.\d\d ms", lines[-1])


def test_s3_event_records_are_the_documented_shape_routed_by_prefix_and_suffix(local):
    bucket, out = f"{local.probe_stack}-in", f"{local.probe_stack}-out"
    keys = ["record/a b+c.txt", "record/ünïcode ✓.txt", "record/not-this.csv", "other/x.txt"]
    for key in keys:
        local.s3.put_object(Bucket=bucket, Key=key, Body=b"hello")
    local.wait()
    seen = {}
    for obj in local.s3.list_objects_v2(Bucket=out, Prefix="seen/").get("Contents", []):
        doc = json.loads(local.s3.get_object(Bucket=out, Key=obj["Key"])["Body"].read())
        seen[doc["record"]["s3"]["object"]["key"]] = doc["record"]
    assert set(seen) == {"record/a+b%2Bc.txt", "record/%C3%BCn%C3%AFcode+%E2%9C%93.txt"}
    rec = seen["record/a+b%2Bc.txt"]
    head = local.s3.head_object(Bucket=bucket, Key="record/a b+c.txt")
    assert rec["eventVersion"] == "2.1" and rec["eventSource"] == "aws:s3"
    assert rec["eventName"] == "ObjectCreated:Put"
    assert rec["s3"]["bucket"] == {
        "name": bucket,
        "ownerIdentity": rec["s3"]["bucket"]["ownerIdentity"],
        "arn": f"arn:aws:s3:::{bucket}",
    }
    obj = rec["s3"]["object"]
    assert obj["size"] == 5 and obj["eTag"] == head["ETag"].strip('"')
    assert re.fullmatch(r"[0-9A-F]{16,}", obj["sequencer"])
    assert quote("record/a b+c.txt", safe="/") != obj["key"]  # '+' for spaces, not %20


def test_stopping_the_service_leaves_no_process_behind(local, tmp_path):
    from infra.local.service import LocalLambdaService

    service = LocalLambdaService(
        local.endpoint, local.service.state, run_dir=tmp_path, concurrency=2, say=lambda s: None
    ).start()
    event = {"Records": []}
    service.invoke(local.probe_function("record"), event)
    pids = [int(p.name) for p in (tmp_path / "pids").iterdir()]
    assert pids
    family = [psutil.Process(p) for p in pids]
    family += [c for p in family for c in p.children(recursive=True)]  # awslambdaric
    service.stop()
    time.sleep(0.2)
    alive = [p.pid for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive
    assert not list((tmp_path / "pids").iterdir())


def test_a_function_gets_the_environment_lambda_sets_and_reaches_only_the_local_endpoint(local):
    inv = local.service.invoke(local.probe_function("environment"), {})
    assert not inv.failed, inv.error
    seen = json.loads(inv.payload)
    env = seen["env"]
    assert (
        env["AWS_LAMBDA_FUNCTION_NAME"]
        == seen["function_name"]
        == local.probe_function("environment")
    )
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and seen["memory_limit_in_mb"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7" and 6000 < seen["remaining_ms"] <= 7000
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == seen["log_group_name"] == "/custom/probe-environment"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert (
        env["_HANDLER"] == "probe.environment"
        and env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    )
    assert env["PROBE_SETTING"] == "42"
    assert env["AWS_ENDPOINT_URL"] == local.endpoint["AWS_ENDPOINT_URL"]
    assert "AWS_PROFILE" not in env and env["AWS_CONFIG_FILE"] == "/dev/null"
    assert seen["sys_path"][1] == env["LAMBDA_TASK_ROOT"]  # after '' (the working dir = task)
    assert not any(".venv" in p for p in seen["sys_path"]), seen["sys_path"]
    assert seen["executable"] != sys.executable  # the runtime's Python, not the dev venv's


def test_a_redeploy_is_served_without_restarting_the_service(local):
    import boto3

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=local.endpoint["AWS_ENDPOINT_URL"],
        region_name=local.endpoint["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stack = cfn.describe_stacks(StackName=local.probe_stack)["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

    def deploy(setting: str) -> None:
        cfn.update_stack(
            StackName=local.probe_stack,
            UsePreviousTemplate=True,
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v}
                for k, v in {**params, "ProbeSetting": setting}.items()
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
        deadline = time.monotonic() + 30
        name = local.probe_function("environment")
        while local.service.served[name].fn.environment.get("PROBE_SETTING") != setting:
            assert time.monotonic() < deadline, "the service did not pick up the redeploy"
            time.sleep(0.2)

    deploy("43")
    try:
        inv = local.service.invoke(local.probe_function("environment"), {})
        assert json.loads(inv.payload)["env"]["PROBE_SETTING"] == "43"
        assert inv.cold  # a changed function gets fresh instances
    finally:
        deploy("42")
