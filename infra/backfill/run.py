"""`make backfill`: list → group → manifest → start (or attach) → watch → summary."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from infra.backfill import estimate, grouping, listing, watch
from infra.backfill import manifest as mf
from infra.deploy import stacks, templates
from infra.deploy.aws import Aws, connect
from infra.deploy.config import Config
from infra.deploy.errors import DeployError

Say = Callable[[str], None]
# The Map's MaxConcurrency when the deployed function does not declare FANOUT_MAX_CONCURRENCY:
# the local interpreter needs at least 16 (with fewer it recurses per item and stalls).
DEFAULT_CONCURRENCY = 16


@dataclass(frozen=True)
class Target:
    input_bucket: str
    output_bucket: str
    function: str
    state_machine: str
    memory: int
    arch: str
    concurrency: int


def find_target(cfg: Config, aws: Aws) -> Target:
    """The deployed app stack's buckets, function and backfill state machine."""
    _, template = templates.load("app")
    outputs = stacks.outputs_of(aws.cfn, cfg.app_stack, template)
    missing = [k for k in ("InputBucketName", "OutputBucketName", "FunctionName",
                           "BackfillStateMachineArn") if not outputs.get(k)]  # fmt: skip
    if missing:
        raise DeployError(
            f"the stack {cfg.app_stack} has no {', '.join(missing)} output",
            "deploy the app first: make layers deploy (same STACK and AWS_REGION)",
        )
    conf = aws.lam.get_function_configuration(FunctionName=outputs["FunctionName"])
    variables = (conf.get("Environment") or {}).get("Variables") or {}
    concurrency = int(variables.get("FANOUT_MAX_CONCURRENCY") or DEFAULT_CONCURRENCY)
    return Target(
        input_bucket=outputs["InputBucketName"],
        output_bucket=outputs["OutputBucketName"],
        function=outputs["FunctionName"],
        state_machine=outputs["BackfillStateMachineArn"],
        memory=int(conf.get("MemorySize") or cfg.memory),
        arch=(conf.get("Architectures") or [cfg.arch])[0],
        concurrency=concurrency,
    )


def start_or_attach(sfn: Any, t: Target, m: mf.Manifest, prefix: str, say: Say) -> str:
    """Start attempt n+1 of this manifest's run, or attach to its running attempt. Refuses
    while another backfill over an overlapping prefix runs (an object in both could be scored
    by both at once, before either has written its report)."""
    attempts = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=t.state_machine):
        for e in page["executions"]:
            parsed = mf.parse_name(e["name"])
            if parsed and parsed[0] == m.run_id:
                attempts[parsed[1]] = e
            elif e["status"] == "RUNNING":
                other = json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
                theirs = str(other.get("prefix", ""))
                if theirs.startswith(prefix) or prefix.startswith(theirs):
                    raise DeployError(
                        f"a backfill over the overlapping prefix {theirs!r} is running: "
                        f"{e['executionArn']}",
                        f"watch it to the end (make backfill EXECUTION={e['executionArn']}), "
                        "then run this one: it skips what that one scored",
                    )
    running = [e for e in attempts.values() if e["status"] == "RUNNING"]
    if running:
        say(f"attaching to the running backfill of the same objects: {running[0]['executionArn']}")
        return running[0]["executionArn"]
    attempt = max(attempts, default=0) + 1
    document = {
        "run": {"id": m.run_id, "attempt": attempt},
        "bucket": t.input_bucket,
        "prefix": prefix,
        "manifest": {"Bucket": t.output_bucket, "Key": m.key},
        "max_concurrency": t.concurrency,
    }
    arn = sfn.start_execution(
        stateMachineArn=t.state_machine,
        name=mf.execution_name(m.run_id, attempt),
        input=json.dumps(document),
    )["executionArn"]
    say(f"started {arn}" + (f" (attempt {attempt} for these objects)" if attempt > 1 else ""))
    return arn


def backfill(env: Mapping[str, str], say: Say = print, poll: float = 2.0) -> int:
    execution = env.get("EXECUTION", "").strip()
    prefix = "" if execution else listing.check_prefix(env.get("PREFIX", ""))
    dry_run = env.get("DRY_RUN", "").strip().lower() in ("1", "yes", "true")
    cfg = Config.from_env(env)
    aws = connect()
    sfn = boto3.client("stepfunctions", region_name=aws.region)
    t = find_target(cfg, aws)
    if execution:
        return _watch(sfn, aws.s3, t, execution, _total(sfn, aws.s3, execution), say, poll)

    found = listing.list_objects(aws.s3, t.input_bucket, prefix, listing.accepted_suffixes())
    say(
        f"s3://{t.input_bucket}/{prefix}: {len(found.objects):,} objects the function scores "
        f"({found.pages} listing page(s); {found.ignored:,} other objects ignored)"
    )
    if not found.objects:
        say("nothing to backfill")
        return 0
    groups = grouping.plan(found.objects, t.concurrency)
    if dry_run:
        measured = estimate.measured_throughput(aws.s3, t.output_bucket)
        rate, source = (
            (measured[0], f"median of {measured[1]} run reports of this deployment")
            if measured
            else (None, "")
        )
        for line in estimate.describe(
            estimate.project(groups, t.memory, t.arch, t.concurrency, rate, source)
        ):
            say(line)
        say("dry run: nothing started, nothing written")
        return 0
    m = mf.build(t.input_bucket, groups)
    mf.upload(aws.s3, t.output_bucket, m)
    say(f"manifest: s3://{t.output_bucket}/{m.key} ({m.groups:,} groups of up to "
        f"{max(len(g['objects']) for g in groups)} objects)")  # fmt: skip
    arn = start_or_attach(sfn, t, m, prefix, say)
    return _watch(sfn, aws.s3, t, arn, m.objects, say, poll)


def _watch(sfn: Any, s3: Any, t: Target, arn: str, total: int, say: Say, poll: float) -> int:
    try:
        say("Ctrl-C stops watching, not the backfill")
        execution = watch.watch(sfn, s3, t.output_bucket, arn, total, say, poll)
    except KeyboardInterrupt:
        say(f"stopped watching; the backfill goes on: {arn}")
        say(f"  watch it again: make backfill EXECUTION={arn}")
        return 130
    return watch.summary(execution, say)


def _total(sfn: Any, s3: Any, arn: str) -> int:
    document = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    where = document["manifest"]
    groups = json.loads(s3.get_object(Bucket=where["Bucket"], Key=where["Key"])["Body"].read())
    return sum(len(g["objects"]) for g in groups)
