"""Parse a CloudFormation template body (YAML with short-form intrinsics, or JSON) as data."""

from __future__ import annotations

import json
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that maps `!Ref x` to {"Ref": x} and `!Sub …` to {"Fn::Sub": …}."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def parse(body: str) -> dict[str, Any]:
    if body.lstrip().startswith("{"):
        return json.loads(body)
    return yaml.load(body, Loader=_CfnLoader)
