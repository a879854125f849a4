"""What the templates must agree on with the functions: metric names, read from metrics.py.

Read with `ast`, not imported: the deployer must not import the function's package (or its
dependencies) to learn three constants.
"""

from __future__ import annotations

import ast
from pathlib import Path

from infra.deploy.errors import DeployError


def metric_constants(function_dir: Path, package: str = "csv_sentiment") -> dict[str, str]:
    path = function_dir / package / "metrics.py"
    try:
        tree = ast.parse(path.read_text(), str(path))
    except OSError as exc:
        raise DeployError(f"cannot read {path}: {exc}") from exc
    found: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value
    return found


def alarm_parameters(function_dir: Path) -> dict[str, str]:
    """App template parameters that must equal the function's own metric declarations."""
    c = metric_constants(function_dir)
    i = metric_constants(function_dir.parent / "insights", "csv_insights")
    try:
        return {
            "MetricsNamespace": c["DEFAULT_NAMESPACE"],
            "ServiceName": c["DEFAULT_SERVICE"],
            "ServiceDimension": c["SERVICE_DIMENSION"],
            "FilesFailedMetric": c["FILES_FAILED"],
            "InsightsServiceName": i["DEFAULT_SERVICE"],
            "ReportsRejectedMetric": i["REPORTS_REJECTED"],
        }
    except KeyError as exc:
        raise DeployError(f"a function's metrics.py no longer declares {exc}") from exc
