"""Glue, Athena and the analyst policy: the template's properties (moto's CloudFormation skips
Glue and Athena, so they are asserted here) and their creation in local mode through moto's Glue
and Athena APIs by `make deploy`'s code, then a named query answered by the local stand-in."""

from __future__ import annotations

import re

import boto3
import pytest

from csv_sentiment import analytics
from csv_sentiment.events import OUTPUT_PREFIXES
from infra.deploy import config, templates
from infra.deploy.errors import DeployError
from infra.deploy.pipeline import deploy


@pytest.fixture(scope="module")
def app() -> dict:
    return templates.load("app")[1]


def _of_type(app: dict, kind: str) -> dict[str, dict]:
    return {k: r["Properties"] for k, r in app["Resources"].items() if r["Type"] == kind}


def test_the_glue_table_is_the_datasets_shape_with_partition_projection(app):
    (table,) = _of_type(app, "AWS::Glue::Table").values()
    assert table["DatabaseName"] == {"Ref": "AnalyticsDatabase"}
    spec = table["TableInput"]
    storage = spec["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [
        (name, kind) for name, kind, _ in analytics.COLUMNS
    ]
    assert [(k["Name"], k["Type"]) for k in spec["PartitionKeys"]] == [
        (analytics.PARTITION, analytics.PARTITION_TYPE)
    ]
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"
    assert storage["Location"]["Fn::Sub"] == "s3://${OutputBucket}/" + analytics.PREFIX
    params = spec["Parameters"]
    assert params["projection.enabled"] == "true"  # no crawler, no MSCK REPAIR
    assert params["projection.upload_date.type"] == "date"
    assert params["projection.upload_date.format"] == "yyyy-MM-dd"
    assert params["projection.upload_date.range"]["Fn::Sub"].endswith(",NOW")
    assert params["storage.location.template"]["Fn::Sub"] == (
        "s3://${OutputBucket}/" + analytics.PREFIX + "upload_date=${!upload_date}/"
    )
    assert not _of_type(app, "AWS::Glue::Crawler")


def test_the_workgroup_caps_scans_and_keeps_results_private_and_encrypted(app):
    (group,) = _of_type(app, "AWS::Athena::WorkGroup").values()
    assert group["RecursiveDeleteOption"] is True  # make destroy removes it with its queries
    conf = group["WorkGroupConfiguration"]
    assert conf["EnforceWorkGroupConfiguration"] is True  # users cannot send results elsewhere
    assert conf["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaScanLimitBytes"}
    result = conf["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
    prefix = result["OutputLocation"]["Fn::Sub"].removeprefix("s3://${OutputBucket}/")
    assert prefix in OUTPUT_PREFIXES  # the recursion guard covers it
    bucket = app["Resources"]["OutputBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_named_queries_run_in_the_workgroup_on_the_database(app):
    queries = _of_type(app, "AWS::Athena::NamedQuery")
    assert len(queries) == 5
    for query in queries.values():
        assert query["Database"] == {"Ref": "AnalyticsDatabase"}
        assert query["WorkGroup"] == {"Ref": "AnalyticsWorkGroup"}


def test_the_analyst_policy_reads_the_dataset_and_uses_the_workgroup_only(app):
    (policy,) = _of_type(app, "AWS::IAM::ManagedPolicy").values()
    statements = policy["PolicyDocument"]["Statement"]
    actions = [a for s in statements for a in s["Action"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    assert not [a for a in actions if "*" in a]
    assert {a.split(":")[0] for a in actions} == {"athena", "glue", "s3"}
    s3_writes = {a for s in statements for a in s["Action"] if a == "s3:PutObject"}
    resources = [r for s in statements for r in _list(s["Resource"])]
    assert s3_writes and all("*" not in str(r) or _scoped(r) for r in resources)
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadTheDataset"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadTheDataset"]["Resource"]["Fn::Sub"].endswith("/analytics/*")
    assert by_sid["QueryResults"]["Resource"]["Fn::Sub"].endswith("/athena-results/*")
    assert app["Outputs"]["AnalystPolicyArn"]["Value"] == {"Ref": "AnalystPolicy"}


def _list(value):
    return value if isinstance(value, list) else [value]


def _scoped(resource) -> bool:
    """A wildcard only at the end of a prefix or table path of this stack's resources."""
    text = resource["Fn::Sub"] if isinstance(resource, dict) else resource
    return bool(
        re.search(r"/(analytics|athena-results)/\*$|table/\$\{AnalyticsDatabase\}/\*$", text)
    )


def test_the_function_gets_the_settings_and_the_deployer_validates_them(app):
    env = app["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert env["ANALYTICS"] == {"Ref": "Analytics"}
    assert env["ANALYTICS_TEXT"] == {"Ref": "AnalyticsText"}
    assert app["Parameters"]["AnalyticsText"]["AllowedPattern"] == config.ANALYTICS_TEXT_PATTERN
    assert app["Parameters"]["Analytics"]["AllowedValues"] == ["on", "off"]
    assert config.Config.from_env({"ANALYTICS_TEXT": "280"}).analytics_text == "280"
    with pytest.raises(DeployError, match=r"ANALYTICS_TEXT=.some.*full, none, or a number"):
        config.Config.from_env({"ANALYTICS_TEXT": "some"})
    with pytest.raises(DeployError, match="ANALYTICS='maybe'"):
        config.Config.from_env({"ANALYTICS": "maybe"})


@pytest.mark.slow
def test_local_deploy_creates_glue_and_athena_and_a_named_query_runs(aws, make_config, log):
    from infra.local import athena

    cfg = make_config()
    report = deploy(cfg, aws, log)
    assert "Glue and Athena created as app.yaml declares them" in log.text
    glue = boto3.client("glue", region_name=aws.region)
    athena_api = boto3.client("athena", region_name=aws.region)
    database = report.outputs["AnalyticsDatabaseName"]
    assert database == f"{cfg.app_stack}_analytics".replace("-", "_")
    assert report.outputs["AnalyticsTableName"] == "scores"
    table = glue.get_table(DatabaseName=database, Name="scores")["Table"]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert table["StorageDescriptor"]["Location"] == (
        f"s3://{report.outputs['OutputBucketName']}/{analytics.PREFIX}"
    )
    assert report.outputs["AnalyticsWorkGroupName"] == f"{cfg.app_stack}-analytics"
    group = athena_api.get_work_group(WorkGroup=report.outputs["AnalyticsWorkGroupName"])
    group = group["WorkGroup"]
    conf = group["Configuration"]
    assert conf["ResultConfiguration"]["OutputLocation"].endswith("/athena-results/")
    assert conf["BytesScannedCutoffPerQuery"] == 10737418240
    ids = athena_api.list_named_queries(WorkGroup=group["Name"])["NamedQueryIds"]
    assert len(ids) == 5

    # A second deploy brings them up to date instead of failing on "already exists".
    deploy(cfg, aws, log)
    assert len(athena_api.list_named_queries(WorkGroup=group["Name"])["NamedQueryIds"]) == 5

    class Clients:
        s3 = aws.s3

    Clients.glue, Clients.athena = glue, athena_api
    columns, rows = athena.run_named_query(Clients, group["Name"], "label share per day")
    assert columns[:2] == ["upload_date", "sentiment"] and rows == []  # nothing scored yet
    with pytest.raises(athena.QueryError, match="no named query 'nope'; it has: files with"):
        athena.run_named_query(Clients, group["Name"], "nope")
