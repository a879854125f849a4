"""Dry-run projection: wall time and cost of a backfill on AWS, from measured throughput and
public prices (us-east-1, on-demand, as published on the AWS pricing pages in 2026)."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from typing import Any

from infra.backfill.listing import function_constant

# Measured by tests/bench/bench_handler.py (README, Performance): 70,149 rows/s on a 32.3 MB
# file of 237,030 rows with one full core, i.e. ~9.6 MB/s; Lambda gives a full vCPU at 1,769 MB
# and CPU in proportion to memory below that.
FULL_VCPU_BYTES_PER_SECOND = 9.6e6
FULL_VCPU_MB = 1769
# Per object besides scoring, for an object never scored before: the source's GET (its
# headers tell what a HEAD would) and three PUTs (scored CSV, analytics rows, run report), at
# S3's usual 10-20 ms first-byte latency (the group's listings settle the duplicate check and
# the stale error report, and a listing per batch that the sources are still current;
# tests/functional/test_group_requests.py counts them).
PER_OBJECT_SECONDS = 0.055
GETS_PER_OBJECT, PUTS_PER_OBJECT = 1, 3
# The child execution's start, the invoke, the group's two listings and its record's PUT.
PER_GROUP_SECONDS = 0.3
REQUESTS_PER_GROUP = 3  # LIST reports/, LIST errors/, PUT the group record
# Objects committed after one ListObjectVersions (csv_sentiment.objects.BATCH_OBJECTS).
BATCH_OBJECTS = function_constant("BATCH_OBJECTS")
PRICES = {
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "lambda_request": 0.20 / 1e6,
    "sfn_transition": 0.025 / 1000,  # standard workflows; Distributed Map children included
    "s3_get": 0.0004 / 1000,  # GET, HEAD
    "s3_put": 0.005 / 1000,  # PUT, LIST
}
TRANSITIONS_PER_GROUP = 3  # child start, the task, child end
TRANSITIONS_PER_RUN = 5


@dataclass
class Projection:
    objects: int
    bytes: int
    groups: int
    concurrency: int
    bytes_per_second: float
    throughput_source: str
    work_seconds: float
    wall_seconds: float
    cost: dict[str, float]

    @property
    def total_cost(self) -> float:
        return sum(self.cost.values())


def project(
    groups: list[dict],
    memory_mb: int,
    arch: str,
    concurrency: int,
    bytes_per_second: float | None = None,
    source: str = "",
) -> Projection:
    if bytes_per_second is None:
        bytes_per_second = FULL_VCPU_BYTES_PER_SECOND * min(1.0, memory_mb / FULL_VCPU_MB)
        source = f"README benchmark scaled to {memory_mb} MB"
    group_seconds = [
        PER_GROUP_SECONDS
        + sum(PER_OBJECT_SECONDS + o["size"] / bytes_per_second for o in g["objects"])
        for g in groups
    ]
    work = sum(group_seconds)
    lanes = max(1, min(concurrency, len(groups)))
    # Greedy lanes: the total spread over the lanes, but never less than the longest group.
    wall = max(work / lanes, max(group_seconds, default=0.0))
    objects = sum(len(g["objects"]) for g in groups)
    size = sum(o["size"] for g in groups for o in g["objects"])
    invocations = len(groups) + 1
    batches = sum(math.ceil(len(g["objects"]) / BATCH_OBJECTS) for g in groups)
    cost = {
        "lambda compute": work * memory_mb / 1024 * PRICES["lambda_gb_second"][arch],
        "lambda requests": invocations * PRICES["lambda_request"],
        "step functions": (TRANSITIONS_PER_RUN + TRANSITIONS_PER_GROUP * len(groups))
        * PRICES["sfn_transition"],
        "s3 requests": objects
        * (GETS_PER_OBJECT * PRICES["s3_get"] + PUTS_PER_OBJECT * PRICES["s3_put"])
        + (math.ceil(objects / 1000) + REQUESTS_PER_GROUP * len(groups) + 1 + batches)
        * PRICES["s3_put"],
    }
    return Projection(objects, size, len(groups), concurrency, bytes_per_second, source, work,
                      wall, cost)  # fmt: skip


def measured_throughput(s3: Any, output_bucket: str, sample: int = 50) -> tuple[float, int] | None:
    """Median bytes/s of this deployment's own run reports (files ≥ 1 MB), if there are some."""
    rates = []
    page = s3.list_objects_v2(Bucket=output_bucket, Prefix="reports/", MaxKeys=sample)
    for item in page.get("Contents", ()):
        try:
            report = json.loads(s3.get_object(Bucket=output_bucket, Key=item["Key"])["Body"].read())
        except ValueError:
            continue
        read, seconds = report.get("bytes_read") or 0, report.get("duration_seconds") or 0
        if report.get("status") == "succeeded" and read >= 2**20 and seconds > 0:
            rates.append(read / seconds)
    return (statistics.median(rates), len(rates)) if len(rates) >= 3 else None


def describe(p: Projection) -> list[str]:
    size = f"{p.bytes / 1e6:,.1f} MB" if p.bytes < 1e10 else f"{p.bytes / 1e9:,.1f} GB"
    return [
        f"  would score {p.objects:,} objects, {size}, in {p.groups:,} invocations "
        f"(groups) at most {p.concurrency} at a time",
        f"  throughput: {p.bytes_per_second / 1e6:.1f} MB/s per invocation ({p.throughput_source})",
        f"  projected on AWS: {_duration(p.wall_seconds)} wall time, "
        f"{_duration(p.work_seconds)} of Lambda work, about ${p.total_cost:.4f}",
        "    " + ", ".join(f"{k} ${v:.4f}" for k, v in p.cost.items()),
    ]


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
