"""The run report's one JSON Schema (schemas/run-report.schema.json), for both functions' tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "run-report.schema.json"


@cache
def validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(report: dict) -> list[str]:
    """Every way the report breaks the schema ([] if it is valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator().iter_errors(report)
    ]
