"""Read the project's CloudFormation templates (infra/templates/*.yaml) as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.cfn.template import parse
from infra.deploy.config import TEMPLATES


def load(name: str, directory: Path = TEMPLATES) -> tuple[str, dict[str, Any]]:
    """(body, parsed) of infra/templates/<name>.yaml."""
    body = (directory / f"{name}.yaml").read_text()
    return body, parse(body)
