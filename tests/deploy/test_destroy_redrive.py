"""`make destroy` keeps data unless asked; `make redrive` reports what succeeded."""

from __future__ import annotations

import io
import json

import botocore.exceptions

from infra.deploy import stacks
from infra.deploy.destroy import destroy
from infra.deploy.pipeline import deploy
from infra.deploy.redrive import redrive


def _bucket_exists(aws, bucket: str) -> bool:
    return bucket in {b["Name"] for b in aws.s3.list_buckets()["Buckets"]}


def test_destroy_keeps_a_bucket_holding_data_and_says_what_a_redeploy_needs(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    aws.s3.put_object(Bucket=outputs["InputBucketName"], Key="input/a.csv", Body=b"text\nhi\n")
    log.clear()

    report = destroy(cfg, aws, log)

    assert stacks.describe(aws.cfn, cfg.app_stack) is None
    assert report.kept_buckets == [outputs["InputBucketName"]]
    assert report.deleted_buckets == [outputs["OutputBucketName"]]  # empty: nothing to lose
    assert _bucket_exists(aws, outputs["InputBucketName"])
    assert aws.s3.get_object(Bucket=outputs["InputBucketName"], Key="input/a.csv")["Body"].read()
    assert not _bucket_exists(aws, outputs["OutputBucketName"])
    assert f"s3://{outputs['InputBucketName']}" in log.text
    assert f"STACK={cfg.stack}" in log.text and "EMPTY_BUCKETS=yes" in log.text
    # Layers and artifacts stay for a later deploy or rollback.
    assert stacks.describe(aws.cfn, cfg.layer_stack("pandas")) is not None

    # As the message says: a later destroy with EMPTY_BUCKETS=yes finds the kept bucket.
    log.clear()
    again = destroy(make_config(EMPTY_BUCKETS="yes"), aws, log)
    assert again.deleted_buckets == [outputs["InputBucketName"]]
    assert not _bucket_exists(aws, outputs["InputBucketName"])
    assert "already gone" in log.text


def test_destroy_with_empty_buckets_yes_deletes_every_version(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    for bucket in (outputs["InputBucketName"], outputs["OutputBucketName"]):
        aws.s3.put_object(Bucket=bucket, Key="input/a.csv", Body=b"1")
        aws.s3.put_object(Bucket=bucket, Key="input/a.csv", Body=b"2")  # a second version
        aws.s3.delete_object(Bucket=bucket, Key="input/a.csv")  # and a delete marker

    report = destroy(make_config(EMPTY_BUCKETS="yes"), aws, log)

    assert report.kept_buckets == []
    assert sorted(report.deleted_buckets) == sorted(
        [outputs["InputBucketName"], outputs["OutputBucketName"]]
    )
    assert not _bucket_exists(aws, outputs["InputBucketName"])


def test_destroy_without_a_stack_says_so(aws, make_config, log):
    assert destroy(make_config(), aws, log).deleted_stack is False
    assert "nothing to destroy" in log.text


class FakeLambda:
    """Invokes 'succeed' for keys containing 'good', fails the others."""

    def __init__(self):
        self.calls = []

    def invoke(self, FunctionName, InvocationType, Payload):
        event = json.loads(Payload)
        self.calls.append((FunctionName, InvocationType, event))
        key = event["Records"][0]["s3"]["object"]["key"]
        if "throttled" in key:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}},
                "Invoke",
            )
        if "good" in key:
            return {"StatusCode": 200, "Payload": io.BytesIO(b'{"scored": 1}')}
        body = {"errorType": "TransientAwsError", "errorMessage": f"still failing: {key}"}
        return {"StatusCode": 200, "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(body).encode())}  # fmt: skip


def _destination_record(bucket: str, key: str) -> str:
    event = {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": bucket},
                                                           "object": {"key": key}}}]}  # fmt: skip
    return json.dumps({
        "version": "1.0",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responsePayload": {"errorType": "TransientAwsError"},
    })  # fmt: skip


def test_redrive_reinvokes_each_event_removes_successes_and_keeps_failures(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    queue = outputs["FailureQueueUrl"]
    bucket = outputs["InputBucketName"]
    for key in ("input/good-1.csv", "input/bad.csv", "input/good-2.csv", "input/throttled.csv"):
        aws.sqs.send_message(QueueUrl=queue, MessageBody=_destination_record(bucket, key))
    aws.sqs.send_message(QueueUrl=queue, MessageBody="not a destination record")
    fake = FakeLambda()
    aws.lam = fake
    log.clear()

    report = redrive(cfg, aws, log)

    assert sorted(report.succeeded) == [f"s3://{bucket}/input/good-1.csv",
                                        f"s3://{bucket}/input/good-2.csv"]  # fmt: skip
    assert sorted(report.failed) == [f"s3://{bucket}/input/bad.csv",
                                     f"s3://{bucket}/input/throttled.csv"]  # fmt: skip
    assert len(report.skipped) == 1
    assert {c[0] for c in fake.calls} == {outputs["FunctionName"]}
    assert {c[1] for c in fake.calls} == {"RequestResponse"}  # so the outcome is known
    assert "still failing: input/bad.csv" in log.text
    assert "Rate exceeded" in log.text
    assert "2 succeeded" in log.text and "2 failed again" in log.text
    left = aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    bodies = sorted(m["Body"] for m in left.get("Messages", []))
    assert len(bodies) == 3  # the failures and the unknown message, visible again at once
    assert any("input/bad.csv" in b for b in bodies)
