"""The local service's parts on their own, with small fakes: routing, event records, async
retries and destinations, discovery refusing what it cannot run, step failures."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from infra.local import s3events
from infra.local.asyncq import AsyncInvoker
from infra.local.discover import Function, InvokeConfig, Notification
from infra.local.instance import Invocation

FN = Function(
    name="fn",
    arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
    stack="s",
    handler="h.h",
    runtime="python3.12",
    arch="x86_64",
    memory=128,
    timeout=3,
    code_bucket="b",
    code_key="k",
    layers=(),
    environment={},
    log_group="/aws/lambda/fn",
    log_format="Text",
    reserved_concurrency=None,
    dead_letter_arn=None,
)


@pytest.mark.parametrize(
    ("events", "event_name", "key", "expected"),
    [
        (("s3:ObjectCreated:*",), "ObjectCreated:Put", "input/a.csv", True),
        (("s3:ObjectCreated:*",), "ObjectCreated:CompleteMultipartUpload", "input/a.csv", True),
        (("s3:ObjectCreated:Put",), "ObjectCreated:Copy", "input/a.csv", False),
        (("s3:ObjectCreated:*",), "ObjectRemoved:Delete", "input/a.csv", False),
        (("s3:ObjectCreated:*",), "ObjectCreated:Put", "other/a.csv", False),
        (("s3:ObjectCreated:*",), "ObjectCreated:Put", "input/a.csv.gz", False),
    ],
)
def test_notifications_route_by_event_type_prefix_and_suffix(events, event_name, key, expected):
    n = Notification("bucket", "fn", events, prefix="input/", suffix=".csv")
    assert n.matches(event_name, key) is expected


def test_event_records_encode_keys_as_s3_does():
    ev = s3events.ObjectEvent("b", "in put/ä+b (1).csv", "ObjectCreated:Put", 7, "abc", "v1")
    rec = s3events.record(ev, "eu-west-1")
    assert rec["s3"]["object"]["key"] == "in+put/%C3%A4%2Bb+%281%29.csv"
    assert rec["awsRegion"] == "eu-west-1" and rec["eventTime"].endswith("Z")
    assert {"size": 7, "eTag": "abc", "versionId": "v1"}.items() <= rec["s3"]["object"].items()
    later = s3events.record(ev, "eu-west-1")["s3"]["object"]["sequencer"]
    assert later > rec["s3"]["object"]["sequencer"]  # increasing, as S3 orders events
    removed = s3events.record(replace(ev, event_name="ObjectRemoved:DeleteMarkerCreated"), "r")
    assert "size" not in removed["s3"]["object"] and "eTag" not in removed["s3"]["object"]


class FakeQueues:
    def __init__(self):
        self.sent: list[dict] = []

    def get_queue_url(self, QueueName, QueueOwnerAWSAccountId):
        return {"QueueUrl": f"http://local/{QueueOwnerAWSAccountId}/{QueueName}"}

    def send_message(self, **kwargs):
        self.sent.append(kwargs)


def _invoker(fn: Function, outcomes: list[str], said: list[str] | None = None):
    calls: list[float] = []

    def invoke(name: str, body: bytes, request_id: str) -> Invocation:
        calls.append(time.monotonic())
        status = outcomes[min(len(calls), len(outcomes)) - 1]
        error = {"errorMessage": "boom", "errorType": "ValueError"} if status != "success" else None
        return Invocation(
            request_id,
            status=status,
            error=error,
            payload=json.dumps(error or {"ok": True}).encode(),
        )

    clients = SimpleNamespace(sqs=FakeQueues(), sns=None)
    sink = said if said is not None else []
    return AsyncInvoker(invoke, lambda _: fn, clients, retry_delay=0.05, say=sink.append), calls


def test_retries_are_spaced_and_then_the_failure_destination_gets_the_record():
    fn = replace(FN, invoke_config=InvokeConfig(2, 3600, "arn:aws:sqs:us-east-1:123456789012:dlq"))
    invoker, calls = _invoker(fn, ["error"])
    ev = invoker.submit("fn", {"Records": []})
    assert invoker.wait_idle(5)
    assert ev.outcome == "failed" and len(calls) == 3
    # At least 1×, then 2× the delay. Only lower bounds: on a loaded machine a retry can start
    # late, so comparing the two gaps with each other would fail for the wrong reason.
    assert calls[1] - calls[0] >= 0.05
    assert calls[2] - calls[1] >= 0.10
    [message] = invoker._clients.sqs.sent
    assert message["QueueUrl"] == "http://local/123456789012/dlq"
    record = json.loads(message["MessageBody"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"] == {"errorMessage": "boom", "errorType": "ValueError"}


def test_a_retry_that_succeeds_sends_nothing_to_the_failure_destination():
    fn = replace(FN, invoke_config=InvokeConfig(2, 3600, "arn:aws:sqs:us-east-1:123456789012:q"))
    invoker, calls = _invoker(fn, ["error", "success"])
    ev = invoker.submit("fn", {})
    assert invoker.wait_idle(5)
    assert ev.outcome == "success" and len(calls) == 2
    assert invoker._clients.sqs.sent == []


def test_an_event_older_than_the_maximum_age_is_not_invoked_and_goes_to_the_destination():
    fn = replace(FN, invoke_config=InvokeConfig(2, 0, "arn:aws:sqs:us-east-1:123456789012:q"))
    invoker, calls = _invoker(fn, ["error"])
    ev = invoker.submit("fn", {})
    assert invoker.wait_idle(5)
    assert ev.outcome == "expired" and calls == []
    record = json.loads(invoker._clients.sqs.sent[0]["MessageBody"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert "responsePayload" not in record


def test_without_a_destination_the_dead_letter_queue_gets_the_event_and_the_error():
    fn = replace(
        FN,
        invoke_config=InvokeConfig(0, 3600, None),
        dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:dead",
    )
    invoker, _ = _invoker(fn, ["timeout"])
    invoker.submit("fn", {"Records": [1]})
    assert invoker.wait_idle(5)
    [message] = invoker._clients.sqs.sent
    assert json.loads(message["MessageBody"]) == {"Records": [1]}
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "boom"


def test_an_unsupported_destination_is_reported_not_silently_dropped():
    said: list[str] = []
    fn = replace(FN, invoke_config=InvokeConfig(0, 3600, "arn:aws:events:us-east-1:1:event-bus/x"))
    invoker, _ = _invoker(fn, ["error"], said)
    invoker.submit("fn", {})
    assert invoker.wait_idle(5)
    assert any("not supported locally" in s for s in said)


def test_a_function_whose_layer_content_is_unknown_is_not_served(tmp_path):
    import boto3

    from infra.endpoint import start_moto_server
    from infra.local.discover import discover

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ],
    }
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "orphan",
                    "Handler": "h.h",
                    "Runtime": "python3.12",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"S3Bucket": "art", "S3Key": "f.zip"},
                    "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:nowhere:1"],
                },
            },
        }
    }
    with start_moto_server() as moto:
        session = boto3.Session(
            region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        s3 = session.client("s3", endpoint_url=moto.url)
        cfn = session.client("cloudformation", endpoint_url=moto.url)
        s3.create_bucket(Bucket="art")
        s3.put_object(Bucket="art", Key="f.zip", Body=b"PK\x05\x06" + b"\0" * 18)
        cfn.create_stack(StackName="orphan", TemplateBody=json.dumps(template))
        dep = discover(cfn, session.client("lambda", endpoint_url=moto.url))
    assert "orphan" not in dep.functions
    assert any(
        "layer arn:aws:lambda:us-east-1:123456789012:layer:nowhere:1" in p for p in dep.problems
    )
    assert any("function orphan: not served" in p for p in dep.problems)


def test_a_failing_step_names_the_step_and_the_command_s_last_words():
    from infra.local.steps import StepFailed, Steps

    steps = Steps(total=1)
    with pytest.raises(StepFailed) as failed, steps.step("build things"):
        steps.run(
            "build things",
            [sys.executable, "-c", "print('cannot find the widget'); raise SystemExit(3)"],
        )
    assert failed.value.step == "build things"
    assert "exited with 3: cannot find the widget" in failed.value.why


def test_functions_for_another_architecture_are_refused_with_the_way_out():
    from infra.local.rie import RieUnavailable, ensure_rie, host_arch

    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    with pytest.raises(RieUnavailable, match=f"build and deploy with ARCH={host_arch()}"):
        ensure_rie(other)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LOCAL_LAMBDA_CONCURRENCY", "lots", "an integer from 0 to 1000"),
        ("LOCAL_RETRY_DELAY_SECONDS", "-1", "a number of seconds from 0 to 600"),
    ],
)
def test_a_bad_local_service_variable_is_named(monkeypatch, tmp_path, name, value, expected):
    from infra.deploy.errors import DeployError
    from infra.endpoint import LOCAL_CREDENTIALS
    from infra.local.service import LocalLambdaService

    monkeypatch.setenv(name, value)
    endpoint = {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    with pytest.raises(DeployError, match=f"^{name}='{value}' is invalid; expected {expected}"):
        LocalLambdaService(endpoint, tmp_path)
