"""Deploy every stack to moto server through the same code path as `make deploy`, and assert
from the deployed templates and parameters (what AWS acts on) plus what moto implements.

moto's CloudFormation attaches no layers, applies no bucket notification and skips
EventInvokeConfig and alarms, so those are read with `describe_app` (deployed_app.py) from the
deployed template and parameters; the function, role, buckets and queue are checked in moto
itself.
"""

from __future__ import annotations

import ast
import json

import boto3
import pytest

from csv_sentiment import metrics
from infra.cfn import deployed
from infra.deploy import stacks
from infra.deploy.errors import DeployError
from infra.deploy.pipeline import deploy
from tests.deploy import deploy_fakes as fakes
from tests.deploy.deployed_app import describe_app


def _versions(aws, layer_name: str) -> list[int]:
    pages = aws.lam.get_paginator("list_layer_versions").paginate(LayerName=layer_name)
    return sorted(v["Version"] for page in pages for v in page["LayerVersions"])


def _params(aws, stack: str) -> dict[str, str]:
    return stacks.parameters_of(stacks.describe(aws.cfn, stack))


def _events(aws, cfg) -> dict[str, int]:
    names = [cfg.bootstrap_stack, cfg.app_stack] + [cfg.layer_stack(n) for n in fakes.LAYERS]
    return {n: len(aws.cfn.describe_stack_events(StackName=n)["StackEvents"]) for n in names}


def test_first_deploy_creates_every_stack_and_the_function_as_declared(aws, make_config, log):
    cfg = make_config(TEXT_COLUMN="review", MEMORY="512", TIMEOUT="300", NONCURRENT_DAYS="7",
                      SCORING_WORKERS="auto")  # fmt: skip
    report = deploy(cfg, aws, log)

    expected = [cfg.bootstrap_stack] + [cfg.layer_stack(n) for n in fakes.LAYERS] + [cfg.app_stack]
    assert sorted(report.stacks) == sorted(expected)
    assert set(report.stacks.values()) == {"created"}
    assert "change set" in log.text and "Add     Function [AWS::Lambda::Function]" in log.text

    app = describe_app(aws.cfn, cfg.app_stack, aws.lam)
    fn = app["function"]
    assert fn["handler"] == "handler.lambda_handler"
    assert (fn["runtime"], fn["architectures"], fn["memory"], fn["timeout"]) == (
        "python3.12", ["x86_64"], 512, 300,
    )  # fmt: skip
    assert fn["logging"]["LogFormat"] == "JSON"
    # Layers by version ARN, in position order (powertools 10, vader 20, pandas 30).
    assert [layer["arn"].split(":")[-2:] for layer in fn["layers"]] == [
        [cfg.layer_name("powertools"), "1"], [cfg.layer_name("vader"), "1"],
        [cfg.layer_name("pandas"), "1"],
    ]  # fmt: skip
    built = {layer["name"]: layer for layer in json.loads(
        (cfg.build_dir / "layers" / "manifest.json").read_text())["layers"]}  # fmt: skip
    for layer, name in zip(fn["layers"], ["powertools", "vader", "pandas"], strict=True):
        assert layer["key"] == f"layers/{name}/{built[name]['sha256']}.zip"
        aws.s3.head_object(Bucket=layer["bucket"], Key=layer["key"])
    aws.s3.head_object(Bucket=fn["code"]["bucket"], Key=fn["code"]["key"])
    assert fn["code"]["key"] == report.code_key

    env = fn["environment"]
    outputs = report.outputs
    assert env == {
        "OUTPUT_BUCKET": outputs["OutputBucketName"],
        "INPUT_PREFIX": "input/",
        "TEXT_COLUMN": "review",
        "SCORING_ENGINE": "fast",
        "SCORING_WORKERS": "auto",
        "POWERTOOLS_SERVICE_NAME": metrics.DEFAULT_SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": metrics.DEFAULT_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "FANOUT_THRESHOLD_MB": "auto",
        "RANGE_MB": "64",
        "FANOUT_MAX_CONCURRENCY": "100",
        "FANOUT_STATE_MACHINE_ARN": f"arn:aws:states:{aws.region}:{aws.account}:stateMachine:"
        f"{cfg.app_stack}-fanout",
    }
    # moto implements the function itself: same handler, runtime and environment.
    live = aws.lam.get_function(FunctionName=outputs["FunctionName"])["Configuration"]
    assert live["Handler"] == "handler.lambda_handler" and live["Runtime"] == "python3.12"
    assert live["Environment"]["Variables"] == env
    assert live["Role"].split("/")[-1] == fn["role"].split("/")[-1]

    # The alarms watch what the function emits: parameters from metrics.py.
    params = _params(aws, cfg.app_stack)
    assert params["FilesFailedMetric"] == metrics.FILES_FAILED
    assert params["MetricsNamespace"] == metrics.DEFAULT_NAMESPACE
    assert params["ServiceDimension"] == metrics.SERVICE_DIMENSION
    res, template = deployed.resolver(aws.cfn, cfg.app_stack)
    rules = deployed.properties(res, template, "InputBucket")["LifecycleConfiguration"]["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": "7"}
    # Versioning as the template declares it (applied through S3 where moto's CFN skips it).
    for key in ("InputBucketName", "OutputBucketName"):
        assert aws.s3.get_bucket_versioning(Bucket=outputs[key])["Status"] == "Enabled"


def test_arm64_deploys_arm64_layers_and_function(aws, make_config, log, workspace):
    fakes.write_layers(workspace["build"], arch="arm64")  # beside the x86_64 ones
    cfg = make_config(ARCH="arm64")
    deploy(cfg, aws, log)
    fn = describe_app(aws.cfn, cfg.app_stack, aws.lam)["function"]
    assert fn["architectures"] == ["arm64"]
    for name in fakes.LAYERS:
        params = _params(aws, cfg.layer_stack(name))
        assert (params["Runtime"], params["Architecture"]) == ("python3.12", "arm64")
    manifest = json.loads((cfg.build_dir / "layers" / "manifest.json").read_text())
    arm = {e["name"]: e["sha256"] for e in manifest["layers"] if e["arch"] == "arm64"}
    assert [layer["key"] for layer in fn["layers"]] == [
        f"layers/{n}/{arm[n]}.zip" for n in ("powertools", "vader", "pandas")
    ]


def test_trigger_and_failure_handling_as_deployed(aws, make_config, log):
    cfg = make_config()
    report = deploy(cfg, aws, log)
    app = describe_app(aws.cfn, cfg.app_stack)
    function_arn = f"arn:aws:lambda:{aws.region}:{aws.account}:function:{app['function']['name']}"
    assert app["notification"] == [
        {"bucket": report.outputs["InputBucketName"], "events": ["s3:ObjectCreated:*"],
         "function_arn": function_arn, "filter": {"prefix": "input/", "suffix": suffix}}
        for suffix in (".csv", ".csv.gz")
    ]  # fmt: skip
    invoke = app["event_invoke_config"]
    assert invoke["maximum_retry_attempts"] == 2
    assert invoke["maximum_event_age_seconds"] == 21600
    assert invoke["on_failure"].endswith(report.outputs["FailureQueueUrl"].rsplit("/", 1)[-1])
    # moto implements the queue's encryption and the buckets' default encryption (versioning,
    # public access block and lifecycle only from the template: test_templates).
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=report.outputs["FailureQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert attrs["SqsManagedSseEnabled"] == "true"
    for key in ("InputBucketName", "OutputBucketName"):
        bucket = report.outputs[key]
        rules = aws.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_role_policy_as_moto_stores_it(aws, make_config, log):
    cfg = make_config()
    deploy(cfg, aws, log)
    app = describe_app(aws.cfn, cfg.app_stack)
    role = app["function"]["role"].split("/")[-1]
    iam = boto3.client("iam")
    doc = iam.get_role_policy(RoleName=role, PolicyName="score-csv")["PolicyDocument"]
    if isinstance(doc, str):  # moto returns the document as a Python literal
        doc = ast.literal_eval(doc)
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    inputs = f"{cfg.app_stack}-in-{aws.account}-{aws.region}"
    # The whole input bucket: make backfill scores objects outside the input prefix too.
    assert by_sid["ReadInputs"]["Resource"] == f"arn:aws:s3:::{inputs}/*"
    assert sorted(by_sid["ReadInputs"]["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    outputs = app["function"]["environment"]["OUTPUT_BUCKET"]
    assert by_sid["WriteResults"]["Resource"] == [
        f"arn:aws:s3:::{outputs}/{prefix}/*" for prefix in ("scored", "reports", "errors")
    ]
    # AWS's LogGroup Arn attribute ends with ":*", moto's does not.
    assert by_sid["FanoutTemporaryObjects"]["Resource"] == f"arn:aws:s3:::{outputs}/tmp/fanout/*"
    assert by_sid["BackfillRecords"]["Resource"] == f"arn:aws:s3:::{outputs}/backfill/*"
    log_group = by_sid["OwnLogs"]["Resource"].split(":log-group:")[1].removesuffix(":*")
    assert log_group == f"/aws/lambda/{cfg.app_stack}-score"
    assert by_sid["FailureDestination"]["Resource"] == app["event_invoke_config"]["on_failure"]
    actions = [a for s in doc["Statement"] for a in s["Action"]]
    assert not [a for a in actions if "*" in a]


def test_alarms_watch_the_functions_metrics_and_email_only_when_asked(aws, make_config, log):
    cfg = make_config(ALARM_EMAIL="ops@example.com", CONCURRENCY="5")
    deploy(cfg, aws, log)
    res, template = deployed.resolver(aws.cfn, cfg.app_stack)
    alarm = deployed.properties(res, template, "FilesFailedAlarm")
    # Resolved from the deployed template and parameters: what CloudWatch would watch.
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        metrics.DEFAULT_NAMESPACE, metrics.FILES_FAILED,
    )  # fmt: skip
    assert alarm["Dimensions"] == [
        {"Name": metrics.SERVICE_DIMENSION, "Value": metrics.DEFAULT_SERVICE}
    ]
    topic = deployed.properties(res, template, "AlarmTopic")
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": "ops@example.com"}]
    for name in ("FilesFailedAlarm", "FunctionErrorsAlarm", "FailureQueueAlarm"):
        assert deployed.properties(res, template, name)["AlarmActions"] == [res.ids["AlarmTopic"]]
    assert describe_app(aws.cfn, cfg.app_stack)["function"]["reserved_concurrency"] == 5

    quiet = make_config()  # same stack, no e-mail, no reserved concurrency
    deploy(quiet, aws, log)
    res, template = deployed.resolver(aws.cfn, cfg.app_stack)
    assert deployed.properties(res, template, "AlarmTopic") is None
    assert "AlarmActions" not in deployed.properties(res, template, "FilesFailedAlarm")
    assert describe_app(aws.cfn, cfg.app_stack)["function"]["reserved_concurrency"] is None


def test_identical_redeploy_changes_nothing(aws, make_config, log):
    cfg = make_config()
    first = deploy(cfg, aws, log)
    events = _events(aws, cfg)
    versions = {n: _versions(aws, cfg.layer_name(n)) for n in fakes.LAYERS}
    log.clear()

    second = deploy(cfg, aws, log)

    assert set(second.stacks.values()) == {"unchanged"}
    assert "nothing changed" in log.text and "change set" not in log.text
    assert "uploaded" not in log.text  # every zip was already there under its content hash
    assert second.layer_arns == first.layer_arns and second.code_key == first.code_key
    assert _events(aws, cfg) == events
    assert {n: _versions(aws, cfg.layer_name(n)) for n in fakes.LAYERS} == versions
    assert not second.published_locally


def test_code_only_change_updates_the_code_and_publishes_no_layer(aws, make_config, log, workspace):
    cfg = make_config()
    first = deploy(cfg, aws, log)
    versions = {n: _versions(aws, cfg.layer_name(n)) for n in fakes.LAYERS}
    with open(workspace["function"] / "handler.py", "a") as f:
        f.write("\n# a code-only change\n")

    second = deploy(cfg, aws, log)

    assert second.stacks[cfg.app_stack] == "updated"
    assert {second.stacks[cfg.layer_stack(n)] for n in fakes.LAYERS} == {"unchanged"}
    assert {n: _versions(aws, cfg.layer_name(n)) for n in fakes.LAYERS} == versions
    params = _params(aws, cfg.app_stack)
    assert params["CodeKey"] == second.code_key != first.code_key
    assert params["LayerArns"] == ",".join(first.layer_arns)
    fn = describe_app(aws.cfn, cfg.app_stack)["function"]
    assert fn["code"]["key"] == second.code_key
    aws.s3.head_object(Bucket=fn["code"]["bucket"], Key=second.code_key)


def test_one_layer_bump_publishes_one_version_and_changes_only_its_entry(
    aws, make_config, log, workspace
):
    cfg = make_config()
    first = deploy(cfg, aws, log)
    fakes.write_layers(workspace["build"], {"vader": "vaderSentiment==3.3.3"})

    second = deploy(cfg, aws, log)

    assert second.stacks[cfg.layer_stack("vader")] == "updated"
    others = [n for n in fakes.LAYERS if n != "vader"]
    assert {second.stacks[cfg.layer_stack(n)] for n in others} == {"unchanged"}
    assert _versions(aws, cfg.layer_name("vader")) == [1, 2]
    assert {n: _versions(aws, cfg.layer_name(n)) for n in others} == {n: [1] for n in others}
    pairs = zip(first.layer_arns, second.layer_arns, strict=True)
    changed = [i for i, (a, b) in enumerate(pairs) if a != b]
    assert changed == [1]  # vader sits at position 20: second of three
    assert second.layer_arns[1].endswith(f":{cfg.layer_name('vader')}:2")
    assert second.code_key == first.code_key
    deployed = describe_app(aws.cfn, cfg.app_stack, aws.lam)["function"]["layers"]
    assert [layer["arn"] for layer in deployed] == second.layer_arns
    vader_params = _params(aws, cfg.layer_stack("vader"))
    assert deployed[1]["key"] == vader_params["ContentKey"]
    assert "vadersentiment==3.3.3" in vader_params["Packages"].lower()


def test_pinning_a_previous_version_rolls_back_and_unpinning_restores(
    aws, make_config, log, workspace
):
    cfg = make_config()
    first = deploy(cfg, aws, log)
    fakes.write_layers(workspace["build"], {"pandas": "pandas==3.2.0"})
    bumped = deploy(cfg, aws, log)
    assert bumped.layer_arns[2].endswith(":2")

    pinned = deploy(make_config(PIN_LAYERS="pandas=1"), aws, log)

    assert pinned.layer_arns == first.layer_arns
    assert pinned.stacks[cfg.app_stack] == "updated"
    assert cfg.layer_stack("pandas") not in pinned.stacks  # left as is, nothing published
    assert _versions(aws, cfg.layer_name("pandas")) == [1, 2]
    layers = describe_app(aws.cfn, cfg.app_stack, aws.lam)["function"]["layers"]
    assert layers[2]["arn"] == first.layer_arns[2]
    assert layers[2]["key"] != _params(aws, cfg.layer_stack("pandas"))["ContentKey"]

    restored = deploy(cfg, aws, log)
    assert restored.layer_arns == bumped.layer_arns
    assert _versions(aws, cfg.layer_name("pandas")) == [1, 2]


def test_pinning_a_version_that_does_not_exist_lists_the_ones_that_do(
    aws, make_config, log, workspace
):
    cfg = make_config()
    deploy(cfg, aws, log)
    events = _events(aws, cfg)
    fakes.write_layers(workspace["build"], {"powertools": "aws-lambda-powertools==9"})
    with pytest.raises(DeployError, match=r"versions of .*-pandas: 1\n") as exc:
        deploy(make_config(PIN_LAYERS="pandas=7"), aws, log)
    assert "PIN_LAYERS=pandas=1" in exc.value.next_step
    assert _events(aws, cfg) == events  # refused before the powertools bump began


def test_pinning_an_unknown_layer_is_refused_before_any_change(aws, make_config, log):
    with pytest.raises(DeployError, match="unknown layers \\['numpy'\\]"):
        deploy(make_config(PIN_LAYERS="numpy=1"), aws, log)
    assert "change set" not in log.text


def test_layers_over_lambdas_unzipped_limit_are_refused_before_any_change(
    aws, make_config, log, workspace
):
    path = workspace["build"] / "layers" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["layers"][0]["unzipped_bytes"] = 251 * 2**20
    path.write_text(json.dumps(manifest))
    cfg = make_config()
    with pytest.raises(DeployError, match="250 MiB"):
        deploy(cfg, aws, log)
    assert stacks.describe(aws.cfn, cfg.bootstrap_stack) is None


def test_missing_layers_stop_the_deploy_before_aws_is_touched(aws, make_config, log, workspace):
    (workspace["build"] / "layers" / "manifest.json").unlink()
    cfg = make_config()
    with pytest.raises(DeployError) as exc:
        deploy(cfg, aws, log)
    assert "make layers" in exc.value.next_step
    assert stacks.describe(aws.cfn, cfg.bootstrap_stack) is None
