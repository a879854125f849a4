"""Glue and Athena for a local endpoint: moto's CloudFormation skips these resources, so the
deployer creates them from the deployed app template through moto's Glue and Athena APIs, the
way it applies the buckets' versioning (pipeline.py) and the way `sam local` reads a template.
On AWS, CloudFormation creates them and this module is not used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from infra.cfn import deployed

Say = Callable[[str], None]
_ORDER = (  # what a resource's Ref means, and the order: referenced resources first
    ("AWS::Glue::Database", lambda p: p["DatabaseInput"]["Name"]),
    ("AWS::Athena::WorkGroup", lambda p: p["Name"]),
    ("AWS::Glue::Table", lambda p: f"{p['DatabaseName']}.{p['TableInput']['Name']}"),
    ("AWS::Athena::NamedQuery", lambda p: p["Name"]),
)
# WorkGroupConfiguration fields the Athena API takes as integers or booleans (CFN passes text).
_INTEGERS = ("BytesScannedCutoffPerQuery",)
_BOOLEANS = ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled")


def declared(cfn: Any, stack_name: str) -> tuple[list[tuple[str, dict]], dict[str, str]]:
    """The deployed stack's Glue and Athena resources as (type, resolved properties), in the
    order they can be created, and the stack outputs that name them (what CloudFormation would
    report; moto reports none for resources it skipped)."""
    res, template = deployed.resolver(cfn, stack_name)
    found: list[tuple[str, dict]] = []
    for kind, name_of in _ORDER:
        for logical_id, spec in template["Resources"].items():
            if spec["Type"] != kind:
                continue
            props = deployed.properties(res, template, logical_id)
            if props is None:
                continue
            found.append((kind, props))
            # Later resources !Ref this one: give it the name CloudFormation's Ref returns.
            res.ids[logical_id] = name_of(props).rsplit(".", 1)[-1]
    outputs = {
        key: res.ids[spec["Value"]["Ref"]]
        for key, spec in template.get("Outputs", {}).items()
        if isinstance(spec.get("Value"), dict)
        and template["Resources"].get(spec["Value"].get("Ref"), {}).get("Type") in dict(_ORDER)
    }
    return found, outputs


def create_locally(aws: Any, stack_name: str, say: Say, glue=None, athena=None) -> dict[str, str]:
    """Create (or bring up to date) every Glue database and table, Athena workgroup and named
    query the deployed stack declares; returns the outputs that name them."""
    glue = glue or boto3.client("glue", region_name=aws.region)
    athena = athena or boto3.client("athena", region_name=aws.region)
    found, outputs = declared(aws.cfn, stack_name)
    for kind, props in found:
        _CREATE[kind](glue, athena, props)
    if found:
        say(
            f"  {aws.local_endpoint}: Glue and Athena created as app.yaml declares them "
            f"({len(found)} resources; moto's CloudFormation skips them)"
        )
    return outputs


def _database(glue, _athena, props: dict) -> None:
    try:
        glue.create_database(DatabaseInput=props["DatabaseInput"])
    except glue.exceptions.AlreadyExistsException:
        glue.update_database(
            Name=props["DatabaseInput"]["Name"], DatabaseInput=props["DatabaseInput"]
        )


def _table(glue, _athena, props: dict) -> None:
    try:
        glue.create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
    except glue.exceptions.AlreadyExistsException:
        glue.update_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])


def _workgroup(_glue, athena, props: dict) -> None:
    config = dict(props.get("WorkGroupConfiguration", {}))
    for key in _INTEGERS:
        if key in config:
            config[key] = int(config[key])
    for key in _BOOLEANS:
        if key in config:
            config[key] = str(config[key]).lower() == "true"
    names = {w["Name"] for w in athena.list_work_groups()["WorkGroups"]}
    if props["Name"] in names:
        athena.delete_work_group(WorkGroup=props["Name"], RecursiveDeleteOption=True)
    athena.create_work_group(
        Name=props["Name"], Description=props.get("Description", ""), Configuration=config
    )


def _named_query(_glue, athena, props: dict) -> None:
    """moto has no DeleteNamedQuery: an identical query is kept, a changed one is created
    again under the same name (the local stand-in runs the newest of a name)."""
    workgroup = props.get("WorkGroup", "primary")
    wanted = {k: props.get(k, "") for k in ("Name", "Description", "Database", "QueryString")}
    for query_id in athena.list_named_queries(WorkGroup=workgroup).get("NamedQueryIds", []):
        query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
        if {k: query.get(k, "") for k in wanted} == wanted:
            return
    athena.create_named_query(**wanted, WorkGroup=workgroup)


_CREATE = {
    "AWS::Glue::Database": _database,
    "AWS::Glue::Table": _table,
    "AWS::Athena::WorkGroup": _workgroup,
    "AWS::Athena::NamedQuery": _named_query,
}
