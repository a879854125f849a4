"""Read the project's CloudFormation templates (infra/templates/*.yaml) as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.cfn.template import parse
from infra.deploy.config import TEMPLATES


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
