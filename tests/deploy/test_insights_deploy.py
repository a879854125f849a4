"""The insights function in the app template and the deployer: its own zip, its own list of
layers (layer.toml `functions`), the plots layer bumped on its own, the S3 notification on
reports/, least privilege, alarms, and the failure destination."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from csv_insights import metrics as insights_metrics
from infra.deploy import package, stacks
from infra.deploy.pipeline import FUNCTION_PARAMETERS, deploy
from tests.deploy import deploy_fakes as fakes
from tests.paths import ROOT

USERS = {"powertools": ["sentiment", "insights"], "vader": ["sentiment"],
         "pandas": ["insights"], "plots": ["insights"]}  # fmt: skip


def _real_layers(build: Path, plots: str = "matplotlib==1.0") -> None:
    """The fake manifest with the real layers' `functions` and a plots layer."""
    path = build / "layers" / "manifest.json"
    manifest = json.loads(path.read_text())
    data = fakes.layer_zip("plots", plots)
    (build / "layers" / "plots-python3.12-x86_64.zip").write_bytes(data)
    entries = [e for e in manifest["layers"] if e["name"] != "plots"]
    template = dict(entries[0])
    entries.append(template | {"name": "plots", "position": 40,
                               "zip": "plots-python3.12-x86_64.zip",
                               "sha256": hashlib.sha256(data).hexdigest(),
                               "packages": dict([plots.split("==")])})  # fmt: skip
    for e in entries:
        e["functions"] = USERS[e["name"]]
    path.write_text(json.dumps({"schema_version": 1, "layers": entries}))


def _params(aws, stack: str) -> dict[str, str]:
    return stacks.parameters_of(stacks.describe(aws.cfn, stack))


def _names(arns: str) -> list[str]:
    return [
        arn.split(":")[-2].rsplit("-", 1)[1] + ":" + arn.split(":")[-1] for arn in arns.split(",")
    ]


def test_each_function_gets_its_own_zip_and_layers_and_plots_bumps_alone(
    aws, make_config, log, workspace
):
    _real_layers(workspace["build"])
    cfg = make_config()
    first = deploy(cfg, aws, log)
    params = _params(aws, cfg.app_stack)
    assert _names(params["LayerArns"]) == ["powertools:1", "vader:1"]
    assert _names(params["InsightsLayerArns"]) == ["powertools:1", "pandas:1", "plots:1"]
    zips = cfg.build_dir / "functions"
    for name, (code_param, _) in FUNCTION_PARAMETERS.items():
        digest = hashlib.sha256((zips / f"{name}.zip").read_bytes()).hexdigest()
        assert params[code_param] == first.code_keys[name] == f"function/{digest}.zip"

    _real_layers(workspace["build"], plots="matplotlib==1.1")
    second = deploy(cfg, aws, log)
    changed = {name for name, action in second.stacks.items() if action != "unchanged"}
    assert changed == {cfg.layer_stack("plots"), cfg.app_stack}
    params = _params(aws, cfg.app_stack)
    assert _names(params["LayerArns"]) == ["powertools:1", "vader:1"]
    assert _names(params["InsightsLayerArns"]) == ["powertools:1", "pandas:1", "plots:2"]


def test_every_function_folder_has_its_template_parameters_and_handler():
    template = (ROOT / "infra" / "templates" / "app.yaml").read_text()
    from infra.deploy import templates

    _, app = templates.load("app")
    folders = [p.name for p in package.functions(ROOT / "functions")]
    assert sorted(folders) == sorted(FUNCTION_PARAMETERS)
    handlers = {}
    for spec in app["Resources"].values():
        if spec["Type"] == "AWS::Lambda::Function":
            props = spec["Properties"]
            handlers[props["Code"]["S3Key"]["Ref"]] = (props["Handler"], props["Layers"]["Ref"])
    for name, (code_param, layers_param) in FUNCTION_PARAMETERS.items():
        handler, layers = handlers[code_param]
        module = handler.split(".")[0]
        assert (ROOT / "functions" / name / f"{module}.py").is_file()
        assert layers == layers_param and code_param in app["Parameters"]
    assert "insights_handler.lambda_handler" in template


@pytest.fixture(scope="module")
def app():
    from infra.deploy import templates

    return templates.load("app")[1]


def test_reports_notify_the_insights_function_only(app):
    [config] = app["Resources"]["OutputBucket"]["Properties"]["NotificationConfiguration"][
        "LambdaConfigurations"
    ]
    rules = {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "reports/", "suffix": ".json"}
    assert config["Function"] == {"Fn::GetAtt": ["InsightsFunction", "Arn"]}
    assert app["Resources"]["OutputBucket"]["DependsOn"] == "InsightsInvokePermission"


def test_the_insights_role_reads_reports_and_writes_insights_only(app):
    policies = app["Resources"]["InsightsRole"]["Properties"]["Policies"]
    statements = {s["Sid"]: s for p in policies for s in p["PolicyDocument"]["Statement"]}
    assert statements["ReadReports"]["Action"] == ["s3:GetObject"]
    assert statements["ReadReports"]["Resource"]["Fn::Sub"].endswith("/reports/*")
    assert statements["WritePages"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert statements["WritePages"]["Resource"]["Fn::Sub"].endswith("/insights/*")
    actions = [a for s in statements.values() for a in s["Action"]]
    assert "s3:DeleteObject" not in actions and not any("*" in a for a in actions)


def test_insights_failures_are_retried_then_queued_and_alarmed(app):
    res = app["Resources"]
    config = res["InsightsEventInvokeConfig"]["Properties"]
    assert config["FunctionName"] == {"Ref": "InsightsFunction"}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailureQueue", "Arn"]
    }
    assert config["MaximumRetryAttempts"] == {"Ref": "MaximumRetryAttempts"}
    for alarm, metric in (("InsightsErrorsAlarm", "Errors"), ("InsightsDurationAlarm", "Duration")):
        props = res[alarm]["Properties"]
        assert props["Namespace"] == "AWS/Lambda" and props["MetricName"] == metric
        assert props["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": "InsightsFunction"}}
        ]
    rejected = res["ReportsRejectedAlarm"]["Properties"]
    assert rejected["MetricName"] == {"Ref": "ReportsRejectedMetric"}
    assert (
        app["Parameters"]["ReportsRejectedMetric"]["Default"] == insights_metrics.REPORTS_REJECTED
    )
    assert app["Parameters"]["InsightsServiceName"]["Default"] == insights_metrics.DEFAULT_SERVICE
    env = res["InsightsFunction"]["Properties"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == {"Ref": "InsightsServiceName"}
    assert env["MPLCONFIGDIR"] == "/tmp/matplotlib"  # the only writable place on Lambda
