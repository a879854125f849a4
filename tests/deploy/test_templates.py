"""What the templates promise, read statically: settings and metric names agree with the
function, least privilege, retained layer versions, no exports, a reason for every resource."""

from __future__ import annotations

import re

import pytest

from csv_insights import metrics as insights_metrics
from csv_sentiment import metrics
from csv_sentiment.settings import SPECS
from infra.deploy import contract, templates
from infra.deploy.config import TEMPLATES
from tests.paths import FUNCTION_DIR

NAMES = ("bootstrap", "layer", "app")


@pytest.fixture(scope="module")
def app() -> dict:
    return templates.load("app")[1]


def test_every_environment_variable_the_template_sets_is_a_function_setting(app):
    variables = app["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    known = {spec.env for spec in SPECS}
    assert set(variables) <= known, set(variables) - known
    required = {spec.env for spec in SPECS if spec.default is None}
    assert required <= set(variables)
    for name in ("INPUT_PREFIX", "TEXT_COLUMN", "POWERTOOLS_SERVICE_NAME",
                 "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):  # fmt: skip
        assert name in variables


def test_files_failed_alarm_uses_the_functions_metric_namespace_and_dimension(app):
    alarm = app["Resources"]["FilesFailedAlarm"]["Properties"]
    assert alarm["MetricName"] == {"Ref": "FilesFailedMetric"}
    assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
    assert alarm["Dimensions"] == [
        {"Name": {"Ref": "ServiceDimension"}, "Value": {"Ref": "ServiceName"}}
    ]
    env = app["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    # The function emits under the same parameters the alarm watches.
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    assert env["POWERTOOLS_SERVICE_NAME"] == {"Ref": "ServiceName"}
    # The deployer passes the values declared in metrics.py, and the defaults agree too.
    passed = contract.alarm_parameters(FUNCTION_DIR)
    declared = {
        "FilesFailedMetric": metrics.FILES_FAILED,
        "MetricsNamespace": metrics.DEFAULT_NAMESPACE,
        "ServiceName": metrics.DEFAULT_SERVICE,
        "ServiceDimension": metrics.SERVICE_DIMENSION,
        "InsightsServiceName": insights_metrics.DEFAULT_SERVICE,
        "ReportsRejectedMetric": insights_metrics.REPORTS_REJECTED,
    }
    assert passed == declared
    assert {k: app["Parameters"][k]["Default"] for k in declared} == declared


def _statements(app: dict) -> dict[str, dict]:
    policies = app["Resources"]["FunctionRole"]["Properties"]["Policies"]
    return {s["Sid"]: s for p in policies for s in p["PolicyDocument"]["Statement"]}


def _output_prefixes(statement: dict) -> list[str]:
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    return [r["Fn::Sub"].removeprefix("${OutputBucket.Arn}/").removesuffix("/*")
            for r in resources]  # fmt: skip


def test_role_grants_exactly_what_the_function_does_and_no_wildcard_action(app):
    statements = _statements(app)
    actions = {sid: sorted(s["Action"]) for sid, s in statements.items()}
    assert actions == {
        "ReadInputs": ["s3:GetObject", "s3:GetObjectVersion"],
        "WriteResults": ["s3:PutObject"],
        "AbortScoredUpload": ["s3:AbortMultipartUpload"],
        "ReadPreviousResults": ["s3:GetObject"],
        "RemoveStaleErrors": ["s3:DeleteObject"],
        "ReplaceDatasetRows": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject"],
        "MissingKeysAre404Not403": ["s3:ListBucket"],
        "OwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "FailureDestination": ["sqs:SendMessage"],
        "HandOffBigFiles": ["states:StartExecution"],
        "AttemptsOfBigFiles": ["states:DescribeExecution"],
        "FanoutTemporaryObjects": sorted(["s3:PutObject", "s3:GetObject", "s3:DeleteObject",
                                          "s3:AbortMultipartUpload"]),
        "BackfillRecords": ["s3:GetObject", "s3:PutObject"],
    }  # fmt: skip
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert not [a for acts in actions.values() for a in acts if "*" in a]
    # The whole input bucket, not only InputPrefix: make backfill scores what sits elsewhere.
    assert statements["ReadInputs"]["Resource"]["Fn::Sub"].endswith("-${AWS::Region}/*")
    # Each action only where the function performs it: it writes its four outputs, reads
    # the previous report and an existing error report, deletes only a stale error report,
    # and aborts only the scored CSV's multipart upload; it never reads what it scored. The
    # dataset's rows are replaced: aborted, checked and deleted under analytics/ only.
    assert _output_prefixes(statements["WriteResults"]) == [
        "scored", "reports", "errors", "analytics"
    ]  # fmt: skip
    assert _output_prefixes(statements["ReplaceDatasetRows"]) == ["analytics"]
    assert _output_prefixes(statements["ReadPreviousResults"]) == ["reports", "errors"]
    assert _output_prefixes(statements["RemoveStaleErrors"]) == ["errors"]
    assert _output_prefixes(statements["AbortScoredUpload"]) == ["scored"]
    # The fan-out: its temporary objects only, and its own state machine's executions.
    assert _output_prefixes(statements["FanoutTemporaryObjects"]) == ["tmp/fanout"]
    assert _output_prefixes(statements["BackfillRecords"]) == ["backfill"]
    fanout = ":stateMachine:${AWS::StackName}-fanout"
    assert statements["HandOffBigFiles"]["Resource"]["Fn::Sub"].endswith(fanout)


def test_trigger_is_object_created_under_the_prefix_for_csv_and_csv_gz(app):
    bucket = app["Resources"]["InputBucket"]
    configs = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    rules = [
        (c["Event"], {r["Name"]: r["Value"] for r in c["Filter"]["S3Key"]["Rules"]})
        for c in configs
    ]
    assert rules == [
        ("s3:ObjectCreated:*", {"prefix": {"Ref": "InputPrefix"}, "suffix": ".csv"}),
        ("s3:ObjectCreated:*", {"prefix": {"Ref": "InputPrefix"}, "suffix": ".csv.gz"}),
    ]
    # The cycle bucket -> permission -> function is broken by a built name, scoped twice.
    permission = app["Resources"]["InputInvokePermission"]["Properties"]
    assert bucket["DependsOn"] == "InputInvokePermission"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert bucket["Properties"]["BucketName"]["Fn::Sub"] in permission["SourceArn"]["Fn::Sub"]


def test_buckets_are_private_encrypted_tls_only_and_retained_except_on_a_failed_create(app):
    boot = templates.load("bootstrap")[1]
    buckets = {**app["Resources"], **boot["Resources"]}
    for name in ("InputBucket", "OutputBucket", "ArtifactBucket"):
        bucket = buckets[name]
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        assert props["BucketEncryption"], name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        # Kept when the stack is deleted; removed when its first create rolls back, so a
        # retry does not fail on "already exists".
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert bucket["UpdateReplacePolicy"] == "Retain", name
        policy = buckets[f"{name}Policy"]["Properties"]["PolicyDocument"]["Statement"][0]
        assert policy["Effect"] == "Deny"
        assert policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    output = app["Resources"]["OutputBucket"]["Properties"]["NotificationConfiguration"]
    assert output["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    # The only Lambda notification on the output bucket: new reports → the insights function
    # (never the scoring function: its own outputs must not trigger it).
    [insights] = output["LambdaConfigurations"]
    assert insights["Function"] == {"Fn::GetAtt": ["InsightsFunction", "Arn"]}


def test_the_local_variant_differs_only_in_retain_which_moto_knows():
    for name in NAMES:
        body = templates.load(name)[0]
        local = templates.load(name, local=True)[0]
        assert "RetainExceptOnCreate" not in local
        assert local == body.replace("RetainExceptOnCreate", "Retain")


def test_versioned_buckets_remove_orphaned_delete_markers(app):
    boot = templates.load("bootstrap")[1]
    for resources, name in ((app, "InputBucket"), (app, "OutputBucket"), (boot, "ArtifactBucket")):
        rules = resources["Resources"][name]["Properties"]["LifecycleConfiguration"]["Rules"]
        markers = [r for r in rules if r.get("ExpiredObjectDeleteMarker") is True]
        assert markers and markers[0]["Status"] == "Enabled", name
        # The markers become orphaned only once the versions they hide expire.
        assert any("NoncurrentVersionExpiration" in r for r in rules), name


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_ORDER = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}


def test_lambda_application_log_level_follows_log_level_but_never_above_info(app):
    assert tuple(app["Parameters"]["LogLevel"]["AllowedValues"]) == LEVELS
    logging = app["Resources"]["Function"]["Properties"]["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"  # ApplicationLogLevel needs it
    assert logging["ApplicationLogLevel"] == {
        "Fn::FindInMap": ["LogLevels", {"Ref": "LogLevel"}, "Application"]
    }
    mapped = {level: app["Mappings"]["LogLevels"][level]["Application"] for level in LEVELS}
    assert set(mapped.values()) <= set(_ORDER)  # Lambda's spelling (WARN, not WARNING)
    assert mapped["DEBUG"] == "DEBUG"  # LOG_LEVEL=DEBUG reaches CloudWatch
    # The EMF lines carry no level: Lambda files them under INFO, so a higher filter would
    # drop every metric and blind the FilesFailed alarm.
    assert all(_ORDER[value] <= _ORDER["INFO"] for value in mapped.values()), mapped


def test_try_it_says_to_upload_again_while_a_new_notification_takes_effect(app):
    try_it = app["Outputs"]["TryIt"]
    assert "upload" in try_it["Description"] and "again" in try_it["Description"]
    command = try_it["Value"]["Fn::Sub"]
    assert "grep . || echo" in command and "upload the file again" in command


def test_failures_go_to_an_encrypted_queue_with_bounded_retries(app):
    config = app["Resources"]["EventInvokeConfig"]["Properties"]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailureQueue", "Arn"]
    }
    assert app["Parameters"]["MaximumRetryAttempts"]["MaxValue"] == 2
    assert app["Parameters"]["MaximumEventAgeSeconds"]["MaxValue"] == 21600
    assert app["Resources"]["FailureQueue"]["Properties"]["SqsManagedSseEnabled"] is True


def test_layer_versions_are_retained_and_content_addressed():
    layer = templates.load("layer")[1]
    resource = layer["Resources"]["Layer"]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    assert resource["Properties"]["Content"]["S3Key"] == {"Ref": "ContentKey"}
    assert re.search(r"\[0-9a-f\]\{64\}", layer["Parameters"]["ContentKey"]["AllowedPattern"])


def test_layer_arns_reach_the_app_as_one_ordered_list_parameter_not_exports(app):
    assert app["Parameters"]["LayerArns"]["Type"] == "CommaDelimitedList"
    assert app["Resources"]["Function"]["Properties"]["Layers"] == {"Ref": "LayerArns"}
    for name in NAMES:
        body, tmpl = templates.load(name)
        assert "ImportValue" not in body
        assert not [o for o in tmpl.get("Outputs", {}).values() if "Export" in o], name


@pytest.mark.parametrize("name", NAMES)
def test_every_resource_has_a_one_line_comment_saying_why(name):
    lines = (TEMPLATES / f"{name}.yaml").read_text().splitlines()
    start = lines.index("Resources:")
    missing = []
    for i, line in enumerate(lines[start + 1 :], start + 1):
        if re.match(r"^[A-Za-z]", line):
            break  # the next top-level section
        if not re.match(r"^  [A-Za-z0-9]+:\s*$", line):
            continue
        one_line = lines[i - 1].startswith("  # Why: ") and not lines[i - 2].lstrip().startswith(
            "#"
        )
        if not one_line:
            missing.append(line.strip())
    assert not missing
