"""The service's Lambda Invoke API: boto3 (and so `make redrive`) calls the served functions
with AWS_ENDPOINT_URL_LAMBDA pointing at it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import boto3
import botocore.exceptions
import pytest

from infra.local.prepare import isolated_env
from tests.paths import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def lam(local):
    return boto3.client(
        "lambda",
        endpoint_url=local.lambda_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_synchronous_invoke_returns_the_function_s_answer(lam, local):
    name = local.probe_function("environment")
    response = lam.invoke(FunctionName=f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
    assert response["StatusCode"] == 200 and response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["function_name"] == name


def test_a_function_error_is_flagged_with_its_log_tail(lam, local):
    response = lam.invoke(
        FunctionName=local.probe_function("fail"),
        LogType="Tail",
        Payload=json.dumps({"Records": []}),
    )
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "RuntimeError"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "START RequestId:" in tail and "REPORT RequestId:" in tail


def test_an_event_invoke_is_accepted_and_run_asynchronously(lam, local):
    name = local.probe_function("environment")
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"marker": 7}')
    assert response["StatusCode"] == 202
    local.wait()
    [event] = [e for e in local.service.events if e.function == name and e.payload == {"marker": 7}]
    assert event.outcome == "success"


def test_an_unknown_function_is_not_found(lam):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        lam.invoke(FunctionName="no-such-function")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_make_redrive_sends_the_failure_queue_s_events_back_through_the_local_service(local):
    """A destination record as Lambda writes it, for an input that exists: `make redrive`'s
    code invokes the function with it through the Invoke API and removes it from the queue."""
    inp, out = local.outputs["InputBucketName"], local.outputs["OutputBucketName"]
    local.s3.put_object(Bucket=inp, Key="redrive/again.csv", Body=b"id,review\n1,so good\n")
    head = local.s3.head_object(Bucket=inp, Key="redrive/again.csv")
    record = {
        "version": "1.0",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": inp, "arn": f"arn:aws:s3:::{inp}"},
                        "object": {
                            "key": "redrive/again.csv",
                            "size": head["ContentLength"],
                            "eTag": head["ETag"].strip('"'),
                        },
                    },
                }
            ]
        },
    }
    queue = local.sqs.get_queue_url(QueueName=local.outputs["FailureQueueUrl"].rsplit("/", 1)[-1])[
        "QueueUrl"
    ]
    local.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(record))

    env = isolated_env(
        {
            **local.endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": local.lambda_url,
            "STACK": "itest",
            "LOCAL_MODE": "1",
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "infra.deploy", "redrive"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok      s3://{inp}/redrive/again.csv" in done.stdout
    time.sleep(0.2)
    attributes = local.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    scored = "scored/_outside/redrive/again.csv"  # its key is outside INPUT_PREFIX
    assert local.s3.head_object(Bucket=out, Key=scored)["ContentLength"] > 0
