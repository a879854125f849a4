"""Read the CloudFormation templates (YAML with short-form intrinsics) as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.deploy.config import TEMPLATES


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
        import json

        return json.loads(body)
    return yaml.load(body, Loader=_CfnLoader)


def load(
    name: str, directory: Path = TEMPLATES, *, local: bool = False
) -> tuple[str, dict[str, Any]]:
    """(body, parsed) of infra/templates/<name>.yaml; `local` gives the local endpoint's
    variant (see for_local_endpoint)."""
    body = (directory / f"{name}.yaml").read_text()
    if local:
        body = for_local_endpoint(body)
    return body, parse(body)


def for_local_endpoint(body: str) -> str:
    """moto keeps on stack deletion only resources marked exactly `Retain` and does not know
    `RetainExceptOnCreate` (which AWS also honours on delete), so `make destroy` would lose a
    bucket's data on the local endpoint: there the buckets are marked `Retain`, which on delete
    means the same. Nothing else differs."""
    return body.replace("DeletionPolicy: RetainExceptOnCreate", "DeletionPolicy: Retain")
