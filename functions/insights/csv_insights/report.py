"""Read a run report and check that it is one this function can draw (schema_version 2).

The full contract is schemas/run-report.schema.json (both functions' tests validate against
it); here only what the pages rely on is checked, with a message that says what was wrong and
what was expected, because a bad report must never reach the index.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

SCHEMA_VERSION = 2
REPORTS_PREFIX = "reports/"
PAGES_PREFIX = "insights/"
LABELS = ("positive", "negative", "neutral", "none", "rejected")


class ReportProblem(Exception):
    """A report that cannot be drawn: logged with its code and counted, never retried."""

    def __init__(self, code: str, message: str, expected: str):
        super().__init__(message)
        self.code, self.message, self.expected = code, message, expected

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "expected": self.expected}


def rel_of(key: str) -> str:
    """`reports/<rel>.json` → `<rel>`; anything else is not a run report."""
    if not key.startswith(REPORTS_PREFIX) or not key.endswith(".json") or key == "reports/.json":
        raise ReportProblem(
            "not_a_report",
            f"key {key[:300]!r} is not a run report key",
            "reports/<rel>.json (the bucket notification's prefix and suffix)",
        )
    return key[len(REPORTS_PREFIX) : -len(".json")]


def parse(body: bytes, key: str) -> dict:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportProblem(
            "malformed_report", f"{key[:300]} is not JSON ({exc})", "a JSON run report"
        ) from None
    if not isinstance(doc, dict):
        raise ReportProblem(
            "malformed_report", f"{key[:300]} holds a {type(doc).__name__}", "a JSON object"
        )
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportProblem(
            "unsupported_schema",
            f"{key[:300]} has schema_version {version!r}; this function draws version "
            f"{SCHEMA_VERSION} (version 1 has no histogram or extreme rows)",
            f"schema_version {SCHEMA_VERSION}: score the file again to refresh its report",
        )
    if doc.get("status") != "succeeded":
        raise ReportProblem(
            "not_succeeded",
            f"{key[:300]} has status {doc.get('status')!r}",
            "status 'succeeded' (failed runs write errors/, not reports/)",
        )
    _check(doc, key)
    return doc


def _check(doc: dict, key: str) -> None:
    problems = []
    rows = doc.get("rows")
    if not isinstance(rows, Mapping) or not all(
        _count(rows.get(k)) for k in ("total", "scored", "none", "rejected")
    ):
        problems.append("rows.total/scored/none/rejected must be counts")
    labels = doc.get("labels")
    if not isinstance(labels, Mapping) or not all(_count(labels.get(k)) for k in LABELS):
        problems.append("labels must count " + "/".join(LABELS))
    mean = doc.get("mean_compound")
    if mean is not None and not _number(mean, -1, 1):
        problems.append("mean_compound must be null or a number in [-1, 1]")
    hist = doc.get("compound_histogram")
    counts = hist.get("counts") if isinstance(hist, Mapping) else None
    if not isinstance(counts, list) or not counts or not all(_count(c) for c in counts):
        problems.append("compound_histogram.counts must be a list of counts")
    ext = doc.get("extremes")
    if not isinstance(ext, Mapping) or not all(
        isinstance(ext.get(side), list) and all(_row(r) for r in ext[side])
        for side in ("most_positive", "most_negative")
    ):
        problems.append("extremes.most_positive/most_negative must be lists of rows")
    if not isinstance(doc.get("text_column"), str):
        problems.append("text_column must be a string")
    if not isinstance(doc.get("source"), Mapping):
        problems.append("source must be an object")
    if problems:
        raise ReportProblem(
            "malformed_report",
            f"{key[:300]}: " + "; ".join(problems),
            "a run report as schemas/run-report.schema.json describes it",
        )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: object, low: float, high: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )


def _row(row: object) -> bool:
    return (
        isinstance(row, Mapping)
        and _count(row.get("row"))
        and _count(row.get("line"))
        and _number(row.get("compound"), -1, 1)
        and isinstance(row.get("text", ""), str)
    )
