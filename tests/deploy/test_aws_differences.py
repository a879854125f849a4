"""Where real AWS differs from the local endpoint (issue #11): local mode is explicit, the
account's concurrency, sizes with pinned layers, layer descriptions, log levels, destroying
with events in the failure queue, and a redrive that invokes each event exactly once."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra import layerdescription
from infra.deploy import layers, limits, stacks
from infra.deploy.aws import Aws, connect, local_mode_endpoint
from infra.deploy.destroy import destroy
from infra.deploy.errors import DeployError
from infra.deploy.pipeline import deploy
from infra.deploy.redrive import redrive
from infra.local.discover import discover
from infra.local.instance import lambda_environment
from tests.deploy.deployed_app import describe_app
from tests.deploy.test_destroy_redrive import _destination_record

# --- local mode ---------------------------------------------------------------------------


def test_an_endpoint_url_alone_is_not_local_mode():
    vpc = "https://vpce-0abc.lambda.eu-west-1.vpce.amazonaws.com"
    assert local_mode_endpoint({}) is None
    assert local_mode_endpoint({"AWS_ENDPOINT_URL": vpc}) is None
    assert local_mode_endpoint({"AWS_ENDPOINT_URL": vpc, "LOCAL_MODE": "0"}) is None
    url = "http://127.0.0.1:5000"
    assert local_mode_endpoint({"AWS_ENDPOINT_URL": url, "LOCAL_MODE": "1"}) == url


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOCAL_MODE": "1"}, "AWS_ENDPOINT_URL is not set"),
        ({"LOCAL_MODE": "yes", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, "expected 1"),
    ],
)
def test_a_bad_local_mode_is_refused_with_what_was_expected(env, message):
    with pytest.raises(DeployError, match=message) as exc:
        local_mode_endpoint(env)
    assert "LOCAL_MODE" in str(exc.value)


def test_the_deployer_reads_local_mode_from_the_environment(moto_server, monkeypatch):
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCAL_MODE", raising=False)
    assert connect().local_endpoint is None  # AWS_ENDPOINT_URL set, still not local mode
    monkeypatch.setenv("LOCAL_MODE", "1")
    assert connect().local_endpoint == moto_server.url


def test_outside_local_mode_a_stack_without_a_layer_version_is_an_error_not_a_publish(
    aws, make_config, log
):
    aws.local_endpoint = None  # as if the endpoint were AWS behind a VPC endpoint
    with pytest.raises(DeployError, match="reports no LayerVersionArn"):
        deploy(make_config(), aws, log)
    assert "published" not in log.text  # no moto-only workaround ran


# --- concurrency --------------------------------------------------------------------------


class FakeLambdaSettings:
    """The account settings and the function's current reservation, as Lambda reports them."""

    def __init__(self, limit: int, unreserved: int, reserved: int | None = None):
        self.limit, self.unreserved, self.reserved = limit, unreserved, reserved

    def get_account_settings(self):
        return {"AccountLimit": {"ConcurrentExecutions": self.limit,
                                 "UnreservedConcurrentExecutions": self.unreserved}}  # fmt: skip

    def get_function_concurrency(self, FunctionName):
        if self.reserved is None:
            import botocore.exceptions

            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no function"}},
                "GetFunctionConcurrency",
            )
        return {"ReservedConcurrentExecutions": self.reserved}


def test_a_new_accounts_limit_of_10_leaves_nothing_to_reserve(make_config):
    with pytest.raises(DeployError, match=r"limit is 10, 10 unreserved.*at most 0") as exc:
        limits.check_concurrency(make_config(CONCURRENCY="5"), FakeLambdaSettings(10, 10), False)
    assert "Service Quotas" in exc.value.next_step and "CONCURRENCY" in exc.value.next_step


def test_the_functions_own_reservation_counts_as_available(make_config):
    lam = FakeLambdaSettings(1000, 850, reserved=50)  # 50 of the 150 reserved are ours
    limits.check_concurrency(make_config(CONCURRENCY="800"), lam, False)  # 850 + 50 - 100
    with pytest.raises(DeployError, match="at most 800"):
        limits.check_concurrency(make_config(CONCURRENCY="801"), lam, False)
    limits.check_concurrency(make_config(CONCURRENCY="0"), FakeLambdaSettings(10, 10), False)


def test_too_much_concurrency_stops_the_deploy_before_any_stack(aws, make_config, log):
    aws.lam = FakeLambdaSettings(10, 10)
    cfg = make_config(CONCURRENCY="2")
    with pytest.raises(DeployError, match="CONCURRENCY=2 is more than this account allows"):
        deploy(cfg, aws, log)
    assert stacks.describe(aws.cfn, cfg.bootstrap_stack) is None


# --- sizes and names ----------------------------------------------------------------------


def _zip_of(unzipped: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/big.bin", b"\0" * unzipped)
    return buf.getvalue()


class _PinnedAws:
    """Lambda, S3 and CloudFormation fakes around one published layer version whose zip is
    in the artifact bucket under the key its description names."""

    def __init__(self, data: bytes):
        outer = self

        class Lam:
            def get_layer_version(self, LayerName, VersionNumber):
                return {"Description": "numpy==2 (layers/pandas/aaa.zip)",
                        "Content": {"Location": "s3://", "CodeSize": len(data)}}  # fmt: skip

        class S3:
            def download_fileobj(self, bucket, key, fileobj):
                outer.downloaded = (bucket, key)
                fileobj.write(data)

        class Cfn:
            def describe_stacks(self, StackName):
                return {"Stacks": [{"StackName": StackName, "StackStatus": "CREATE_COMPLETE"}]}

            def describe_stack_resources(self, StackName):
                return {"StackResources": [{"LogicalResourceId": "ArtifactBucket",
                                            "PhysicalResourceId": "art"}]}  # fmt: skip

        self.downloaded = None
        self.aws = Aws("us-east-1", "1" * 12, "aws", Cfn(), S3(), Lam(), None)


def _built(workspace, cfg, **sizes) -> list[layers.BuiltLayer]:
    built = layers.select(cfg.build_dir / "layers", cfg.runtime, cfg.arch)
    return [
        layers.BuiltLayer(b.name, b.position, b.zip_path, b.sha256, b.packages, sizes[b.name])
        for b in built
    ]


def test_the_size_check_counts_the_function_and_a_pinned_layers_real_size(
    make_config, workspace, tmp_path
):
    cfg = make_config()
    function_zip = tmp_path / "function.zip"
    function_zip.write_bytes(_zip_of(3 * 2**20))
    mib = 2**20
    built = _built(workspace, cfg, powertools=10 * mib, vader=10 * mib, pandas=225 * mib)
    pinned = {"pandas": "arn:aws:lambda:us-east-1:111111111111:layer:t-pandas:3"}

    # Built layers alone (245 MiB) and the function (3 MiB) fit...
    assert limits.check_unzipped(function_zip, built, {}, _PinnedAws(b"").aws, cfg) == 248 * mib
    # ...but the pinned pandas version is bigger than the built one.
    fake = _PinnedAws(_zip_of(240 * mib))
    with pytest.raises(DeployError, match=r"unzip to 263\.0 MiB") as exc:
        limits.check_unzipped(function_zip, built, pinned, fake.aws, cfg)
    assert "pandas (pinned) 240.0 MiB" in str(exc.value) and "function 3.0 MiB" in str(exc.value)
    assert fake.downloaded == ("art", "layers/pandas/aaa.zip")
    # And the function's own size tips a build that would fit without it.
    built = _built(workspace, cfg, powertools=10 * mib, vader=10 * mib, pandas=229 * mib)
    with pytest.raises(DeployError, match=r"function 3\.0 MiB"):
        limits.check_unzipped(function_zip, built, {}, fake.aws, cfg)


def test_layer_descriptions_fit_in_256_characters_whatever_the_name(make_config):
    packages = {f"package-{i}": "1.2.3" for i in range(40)}
    for name in ("pandas", "a" * 60, "b" * 97):
        layer = layers.BuiltLayer(name, 10, None, "f" * 64, packages)
        description = layerdescription.describe(layer.describe_packages(), layer.key)
        assert len(description) <= layers.MAX_DESCRIPTION, name
        assert len(layer.describe_packages()) <= layers.MAX_PACKAGES
        assert description.endswith(f" (layers/{name}/{'f' * 64}.zip)")  # the key stays whole
        assert layer.describe_packages().endswith("...")
    few = layers.BuiltLayer("vader", 20, None, "f" * 64, {"vaderSentiment": "3.3.2"})
    assert few.describe_packages() == "vaderSentiment==3.3.2"


def test_a_layer_name_too_long_for_its_stack_is_refused_before_any_change(make_config):
    cfg = make_config()
    built = [layers.BuiltLayer("x" * 130, 10, None, "f" * 64, {})]
    with pytest.raises(DeployError, match="too long a name"):
        limits.check_layers(cfg, built, ["sentiment"])


# --- log levels as deployed -----------------------------------------------------------------


@pytest.mark.parametrize(("level", "application"), [("DEBUG", "DEBUG"), ("WARNING", "INFO")])
def test_lambdas_log_level_follows_log_level_up_to_info(aws, make_config, log, level, application):
    cfg = make_config(LOG_LEVEL=level)
    deploy(cfg, aws, log)
    fn = describe_app(aws.cfn, cfg.app_stack, aws.lam)["function"]
    assert fn["environment"]["POWERTOOLS_LOG_LEVEL"] == level
    assert fn["logging"]["ApplicationLogLevel"] == application
    # The local Lambda service sets what Lambda sets from it (Powertools obeys it first).
    served = discover(aws.cfn, aws.lam).functions[fn["name"]]
    layout = SimpleNamespace(task=Path("/var/task"), opt=Path("/opt"),
                             python_path=lambda runtime, packages: [])  # fmt: skip
    runtime = SimpleNamespace(python="/usr/bin/python3", packages=Path("/var/runtime"))
    env = lambda_environment(served, layout, runtime, "stream", {})
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert env["AWS_LAMBDA_LOG_LEVEL"] == application


# --- destroy and the failure queue ----------------------------------------------------------


def test_destroy_saves_the_failure_queues_events_under_build(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    bucket = outputs["InputBucketName"]
    bodies = [_destination_record(bucket, f"input/{n}.csv") for n in ("a", "b")]
    for body in bodies:
        aws.sqs.send_message(QueueUrl=outputs["FailureQueueUrl"], MessageBody=body)
    log.clear()

    report = destroy(cfg, aws, log)

    assert report.deleted_stack
    saved = [json.loads(line) for line in report.saved_events.read_text().splitlines()]
    assert sorted(m["Body"] for m in saved) == sorted(bodies)
    assert report.saved_events.parent == cfg.build_dir / "failed-events"
    assert str(report.saved_events) in log.text and "2 event(s)" in log.text


def test_destroy_refuses_while_failed_events_are_in_flight(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    queue = outputs["FailureQueueUrl"]
    aws.sqs.send_message(QueueUrl=queue, MessageBody=_destination_record("b", "input/a.csv"))
    aws.sqs.receive_message(QueueUrl=queue, VisibilityTimeout=120)  # a redrive has it

    with pytest.raises(DeployError, match="being processed right now") as exc:
        destroy(cfg, aws, log)
    assert "make destroy" in exc.value.next_step
    assert stacks.describe(aws.cfn, cfg.app_stack) is not None  # nothing deleted


def test_local_destroy_keeps_data_although_aws_buckets_are_retain_except_on_create(
    aws, make_config, log
):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    deployed = aws.cfn.get_template(StackName=cfg.app_stack)["TemplateBody"]
    assert "DeletionPolicy: Retain\n" in deployed and "RetainExceptOnCreate" not in deployed
    for bucket in (outputs["InputBucketName"], outputs["OutputBucketName"]):
        aws.s3.put_object(Bucket=bucket, Key="input/a.csv", Body=b"text\nhi\n")

    report = destroy(cfg, aws, log)

    assert sorted(report.kept_buckets) == sorted(
        [outputs["InputBucketName"], outputs["OutputBucketName"]]
    )
    for bucket in report.kept_buckets:
        assert aws.s3.get_object(Bucket=bucket, Key="input/a.csv")["Body"].read()


# --- redrive with slow invocations ----------------------------------------------------------


class SlowLambda:
    """Each invoke takes `seconds`; keys containing 'bad' fail. Records every invocation."""

    def __init__(self, seconds: float):
        self.seconds, self.keys = seconds, []
        self.lock = threading.Lock()

    def invoke(self, FunctionName, InvocationType, Payload):
        key = json.loads(Payload)["Records"][0]["s3"]["object"]["key"]
        with self.lock:
            self.keys.append(key)
        time.sleep(self.seconds)
        if "bad" in key:
            body = {"errorType": "TransientAwsError", "errorMessage": "still failing"}
            return {"StatusCode": 200, "FunctionError": "Unhandled",
                    "Payload": io.BytesIO(json.dumps(body).encode())}  # fmt: skip
        return {"StatusCode": 200, "Payload": io.BytesIO(b"{}")}


@pytest.mark.slow
def test_redrive_invokes_every_event_exactly_once_when_invocations_are_slow(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    queue, bucket = outputs["FailureQueueUrl"], outputs["InputBucketName"]
    keys = ["input/good-1.csv", "input/bad-1.csv", "input/good-2.csv", "input/bad-2.csv",
            "input/good-3.csv"]  # fmt: skip
    for key in keys:
        aws.sqs.send_message(QueueUrl=queue, MessageBody=_destination_record(bucket, key))
    # Each invocation lasts 1.2 s and may last up to 2 s (the "timeout"): the whole run
    # (6 s) outlasts every message's visibility, which the old batch of ten did not survive.
    aws.lam = SlowLambda(1.2)

    report = redrive(cfg, aws, log, visibility=2)

    assert sorted(aws.lam.keys) == sorted(keys)  # each exactly once
    assert len(report.succeeded) == 3 and len(report.failed) == 2
    left = []
    deadline = time.monotonic() + 5
    while len(left) < 2 and time.monotonic() < deadline:
        got = aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        left += [m["Body"] for m in got.get("Messages", [])]
    assert sorted(json.loads(b)["requestPayload"]["Records"][0]["s3"]["object"]["key"]
                  for b in left) == ["input/bad-1.csv", "input/bad-2.csv"]  # fmt: skip


def test_a_message_seen_earlier_in_the_run_is_not_invoked_again(aws, make_config, log):
    cfg = make_config()
    outputs = deploy(cfg, aws, log).outputs
    queue, bucket = outputs["FailureQueueUrl"], outputs["InputBucketName"]
    aws.sqs.send_message(QueueUrl=queue, MessageBody=_destination_record(bucket, "input/bad.csv"))
    real = aws.sqs

    class Reappearing:
        """SQS whose first failed message comes back once (the run outlasted its hiding)."""

        def __init__(self):
            self.first = None
            self.replayed = False

        def receive_message(self, **kw):
            got = real.receive_message(**kw)
            if got.get("Messages") and self.first is None:
                self.first = got["Messages"][0]
            elif not got.get("Messages") and self.first and not self.replayed:
                self.replayed = True
                return {"Messages": [{**self.first, "ReceiptHandle": self.first["ReceiptHandle"]}]}
            return got

        def __getattr__(self, name):
            return getattr(real, name)

    aws.sqs = Reappearing()
    aws.lam = SlowLambda(0)
    report = redrive(cfg, aws, log)
    assert aws.sqs.replayed
    assert aws.lam.keys == ["input/bad.csv"] and report.failed == [f"s3://{bucket}/input/bad.csv"]
