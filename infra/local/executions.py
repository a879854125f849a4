"""Follow a Step Functions execution: its status and, for each Distributed Map run, how many
items are done, running and failed (DescribeMapRun, which AWS and moto's interpreter both
answer). Used by `make demo` to show a fan-out's progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

_FINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def client(endpoint_env: dict[str, str]) -> Any:
    """A Step Functions client for the local endpoint (its credentials, never a profile's)."""
    import boto3

    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint_env["AWS_ENDPOINT_URL"],
        region_name=endpoint_env.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=endpoint_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=endpoint_env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=endpoint_env.get("AWS_SESSION_TOKEN"),
    )


def progress(sfn: Any, execution_arn: str) -> tuple[str, list[dict[str, int]]]:
    """(execution status, item counts of each map run in start order)."""
    status = sfn.describe_execution(executionArn=execution_arn)["status"]
    runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    counts = []
    for run in sorted(runs, key=lambda r: r.get("startDate") or 0):
        items = sfn.describe_map_run(mapRunArn=run["mapRunArn"]).get("itemCounts", {})
        counts.append({k: int(items.get(k, 0)) for k in ("total", "succeeded", "running",
                                                          "failed", "pending")})  # fmt: skip
    return status, counts


def describe(counts: dict[str, int]) -> str:
    return (
        f"{counts['succeeded']} done, {counts['running']} running, {counts['failed']} failed "
        f"of {counts['total']}"
    )


def watch(
    sfn: Any,
    execution_arn: str,
    say: Callable[[str], None],
    names: tuple[str, ...] = (),
    timeout: float = 600,
    poll: float = 0.5,
) -> str:
    """Print each change of progress until the execution ends; returns its final status.
    `names` labels the map runs in order (e.g. "count ranges", "score ranges")."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status, counts = progress(sfn, execution_arn)
        lines = [
            f"{names[i] if i < len(names) else f'map run {i + 1}'}: {describe(c)}"
            for i, c in enumerate(counts)
        ]
        shown = (status, lines[-1] if lines else "")
        if shown != last:
            say(f"[{status.lower()}] {lines[-1] if lines else 'planning'}")
            last = shown
        if status in _FINAL:
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(poll)
