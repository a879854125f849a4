"""The analytics dataset written by the deployed function under the real runtime, queried with
the named queries from the endpoint's Athena and the table from its Glue (both created by
`make deploy`'s code from the template), run by the local stand-in: answers equal the reports."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from types import SimpleNamespace

import boto3
import pytest

from infra.deploy.analytics import declared
from infra.local import athena

pytestmark = pytest.mark.slow


def _clients(local) -> SimpleNamespace:
    env = local.endpoint
    session = boto3.Session(
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    names = {"glue": "glue", "athena": "athena", "cfn": "cloudformation"}
    made = {k: session.client(v, endpoint_url=env["AWS_ENDPOINT_URL"]) for k, v in names.items()}
    return SimpleNamespace(s3=local.s3, **made)


def _reports(local) -> list[dict]:
    out = local.outputs["OutputBucketName"]
    pages = local.s3.get_paginator("list_objects_v2").paginate(Bucket=out, Prefix="reports/")
    reports = []
    for page in pages:
        for obj in page.get("Contents", []):
            body = local.s3.get_object(Bucket=out, Key=obj["Key"])["Body"].read()
            reports.append(json.loads(body))
    return [r for r in reports if r.get("status") == "succeeded"]


def test_named_queries_over_the_deployed_functions_rows_equal_the_reports(local):
    body = (
        "id,review\n1,I love it\n2,\n3,This is terrible and sad\n4," + "y" * 100_001 + "\n"
    ).encode()
    local.s3.put_object(
        Bucket=local.outputs["InputBucketName"], Key="input/analytics.csv", Body=body
    )
    local.wait()
    [event] = local.events_for(local.outputs["FunctionName"], "input/analytics.csv")
    assert event.outcome == "success", event.attempts[-1].error
    clients = _clients(local)
    workgroup = declared(clients.cfn, "itest-app")[1]["AnalyticsWorkGroupName"]  # STACK=itest
    reports = _reports(local)
    assert any(r["source"]["key"] == "input/analytics.csv" for r in reports)

    _, rows = athena.run_named_query(clients, workgroup, "label share per day")
    per_day: dict[str, Counter] = defaultdict(Counter)
    for r in reports:
        day = r["outputs"]["analytics"][0].split("upload_date=")[1].split("/")[0]
        per_day[day].update({k: v for k, v in r["labels"].items() if v})
    assert {(d, label): n for d, label, n, _ in rows} == {
        (d, label): n for d, labels in per_day.items() for label, n in labels.items()
    }

    _, rows = athena.run_named_query(clients, workgroup, "mean compound per file")
    by_key = {key: (n, scored, mean) for _, key, n, scored, mean in rows}
    for r in reports:
        n, scored, mean = by_key[r["source"]["key"]]
        assert (n, scored) == (r["rows"]["total"], r["rows"]["scored"])
        assert mean == pytest.approx(r["mean_compound"], abs=1e-6)

    _, rows = athena.run_named_query(
        clients, workgroup, "files with the most blank or rejected rows"
    )
    assert {key: (blank, rejected) for _, key, _, blank, rejected in rows} == {
        r["source"]["key"]: (r["rows"]["none"], r["rows"]["rejected"])
        for r in reports
        if r["rows"]["none"] + r["rows"]["rejected"]
    }
    assert ("input/analytics.csv", 1, 1) in {(k, b, j) for _, k, _, b, j in rows}

    _, rows = athena.run_named_query(clients, workgroup, "most negative texts of the last 7 days")
    compounds = [c for _, _, _, c, _ in rows]
    assert compounds == sorted(compounds) and all(c <= -0.05 for c in compounds)
    assert ("input/analytics.csv", 4, "This is terrible and sad") in {
        (k, line, text) for _, k, line, _, text in rows
    } or len(rows) == 50
