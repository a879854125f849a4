"""`make demo`: build, start the endpoint and the service, deploy, upload the example and show
what happened, then stop everything that was started."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from infra.local.prepare import CACHE, ROOT, STATE, app_outputs, build_and_deploy, interrupt
from infra.local.steps import StepFailed, Steps, fail, say

EXAMPLE = ROOT / "examples" / "reviews.csv"


# The demo lowers the fan-out threshold so that a few MB show a fan-out (1 MB ranges);
# FANOUT_THRESHOLD_MB / RANGE_MB in the environment (make demo FANOUT_THRESHOLD_MB=…) win.
DEMO_FANOUT = {"FANOUT_THRESHOLD_MB": "1", "RANGE_MB": "1"}
DEMO_BIG_BYTES = 3 * 1024 * 1024


def demo() -> int:
    steps = Steps(total=13)
    run_dir = STATE / "demo"
    shutil.rmtree(run_dir, ignore_errors=True)
    moto = service = api = None
    signal.signal(signal.SIGTERM, interrupt)
    for name, value in DEMO_FANOUT.items():
        os.environ.setdefault(name, value)
    try:
        moto, env = build_and_deploy(steps, run_dir)
        with steps.step("local Lambda service (template-driven, RIE + awslambdaric)"):
            from infra.local.invokeapi import InvokeApi
            from infra.local.service import LocalLambdaService

            service = LocalLambdaService(env, CACHE, run_dir=run_dir, say=say).start()
            # Where the endpoint's Step Functions interpreter sends its Lambda tasks.
            api = InvokeApi(service, port=moto.lambda_port).start()
            outputs = app_outputs(env)
            function = outputs["FunctionName"]
            if function not in service.served:
                raise StepFailed("service", f"{function} is not served: {service.problems}")
        with steps.step("upload examples/reviews.csv with an ordinary S3 client"):
            s3 = service.clients.s3
            key = "input/reviews.csv"
            s3.upload_file(str(EXAMPLE), outputs["InputBucketName"], key)
            say(f"s3://{outputs['InputBucketName']}/{key} ({EXAMPLE.stat().st_size} bytes)")
        with steps.step("wait for the S3 event to be delivered and processed"):
            if not service.wait_idle(timeout=240):
                raise StepFailed("wait", "no result within 240 s; see `make logs`")
            events = [e for e in service.events if e.function == function]
            if not events:
                raise StepFailed(
                    "wait",
                    "the upload produced no event; the notification "
                    "configuration did not match input/reviews.csv",
                )
            last = events[-1].attempts[-1]
            cold = f" (cold start: init {last.init_ms:.0f} ms)" if last.cold else ""
            say(
                f"{function}: {events[-1].outcome} after {len(events[-1].attempts)} attempt(s)"
                f"{cold}, duration {last.duration_ms or 0:.0f} ms"
            )
            if events[-1].outcome != "success":
                _print_logs(run_dir, function, events[-1].request_id)
                raise StepFailed("wait", f"the function failed: {last.error}")
        with steps.step("results"):
            _show_results(s3, outputs, key, run_dir, function, events[-1].request_id)
        with steps.step("the page the insights function drew from the run report"):
            from infra.local import insights

            insights.show(service, outputs, key.removeprefix("input/"))
        threshold = os.environ["FANOUT_THRESHOLD_MB"]
        with steps.step(
            f"a file above the fan-out threshold (FANOUT_THRESHOLD_MB={threshold}): byte "
            "ranges scored in parallel by Step Functions"
        ):
            _show_fanout(service, outputs, function)
        with steps.step("the analytics dataset: an Athena named query, run locally"):
            _show_label_share(env, s3, outputs, key)
    except StepFailed as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping what was started", file=sys.stderr)
        return 130
    finally:
        print(f"\n==> [{steps.total}/{steps.total}] stop the service and the endpoint", flush=True)
        if api:
            api.stop()
        if service:
            service.stop()
        if moto:
            moto.stop()
        print(
            f"    stopped; total {steps.elapsed():.0f}s. Logs of this run: {run_dir}/logs",
            flush=True,
        )
    return 0


def _show_results(s3: Any, outputs: dict, key: str, run_dir: Path, function: str, rid: str):
    out = outputs["OutputBucketName"]
    rel = key.removeprefix("input/")
    print("\n  where the output is:")
    for obj in s3.list_objects_v2(Bucket=out).get("Contents", []):
        print(f"    s3://{out}/{obj['Key']}  ({obj['Size']} bytes)")
    scored = s3.get_object(Bucket=out, Key=f"scored/{rel}")["Body"].read().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(scored)))
    print(f"\n  first rows of s3://{out}/scored/{rel} ({len(rows)} rows):")
    print(f"    {'id':>3}  {'review':<46} {'compound':>8}  sentiment")
    for row in rows[:8]:
        text = " ".join((row.get("review") or "").split())
        text = text if len(text) <= 45 else text[:44] + "…"
        print(
            f"    {row.get('id', ''):>3}  {text:<46} {row.get('compound', ''):>8}  "
            f"{row.get('sentiment', '')}"
        )
    counts = Counter(row.get("sentiment", "") for row in rows)
    print("\n  label counts: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    report = json.loads(s3.get_object(Bucket=out, Key=f"reports/{rel}.json")["Body"].read())
    print(f"\n  run report (s3://{out}/reports/{rel}.json):")
    for line in json.dumps(report, indent=2, ensure_ascii=False).splitlines():
        print("    " + line)
    print(f"\n  the function's log lines ({function}, request {rid}):")
    _print_logs(run_dir, function, rid)


def _show_fanout(service: Any, outputs: dict, function: str) -> None:
    """Upload a few MB (the example's rows, repeated), follow the execution the function
    starts, and show that the result is what one invocation writes."""
    from infra.local import executions

    s3, inp, out = service.clients.s3, outputs["InputBucketName"], outputs["OutputBucketName"]
    header, _, rows = EXAMPLE.read_bytes().partition(b"\n")
    body = header + b"\n" + rows * (DEMO_BIG_BYTES // len(rows) + 1)
    s3.put_object(Bucket=inp, Key="input/reviews-big.csv", Body=body)
    say(f"s3://{inp}/input/reviews-big.csv ({len(body)} bytes)")
    if not service.wait_idle(timeout=120):
        raise StepFailed("fan-out", "the upload was not handled within 120 s; see `make logs`")
    event = [e for e in service.events if e.function == function][-1]
    result = json.loads(event.attempts[-1].payload or b"{}").get("results", [{}])[0]
    if result.get("status") != "handed-off":
        raise StepFailed("fan-out", f"the function did not hand the file off: {result}")
    say(f"{function}: handed off ({result['reason']})")
    say(f"execution {result['execution_arn']}")
    sfn = executions.client(service.endpoint_env)
    status = executions.watch(sfn, result["execution_arn"], say,
                              names=("count ranges", "score ranges"))  # fmt: skip
    if status != "SUCCEEDED":
        raise StepFailed("fan-out", f"the execution ended {status}; see `make logs`")
    report = json.loads(s3.get_object(Bucket=out, Key="reports/reviews-big.csv.json")["Body"]
                        .read())  # fmt: skip
    fan = report["fanout"]
    say(f"s3://{out}/scored/reviews-big.csv: {report['rows']['total']} rows from "
        f"{fan['ranges']} ranges ({', '.join(f'{s:.1f}s' for s in fan['range_seconds'])}), "
        f"assembled in {fan['assemble_seconds']:.1f}s; labels "
        + ", ".join(f"{k} {v}" for k, v in report["labels"].items() if v))  # fmt: skip
    left = s3.list_objects_v2(Bucket=out, Prefix="tmp/").get("KeyCount", 0)
    say(f"temporary objects left under tmp/: {left}")


def _show_label_share(env: dict[str, str], s3: Any, outputs: dict, key: str) -> None:
    """One answer from the dataset: the named query an analyst starts from in Athena, run here
    by the local stand-in (infra/local/athena.py) over the demo file's rows (its run report
    names them), which the function wrote to analytics/."""
    from types import SimpleNamespace

    import boto3

    from infra.deploy.analytics import declared
    from infra.deploy.config import Config
    from infra.local import athena

    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    clients = SimpleNamespace(s3=s3, **{
        name: session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])
        for name, service in (("glue", "glue"), ("athena", "athena"), ("cfn", "cloudformation"))
    })  # fmt: skip
    app_stack = Config.from_env().app_stack  # STACK, as `make deploy` read it
    workgroup = declared(clients.cfn, app_stack)[1]["AnalyticsWorkGroupName"]
    report_key = f"reports/{key.removeprefix('input/')}.json"
    report = json.loads(
        s3.get_object(Bucket=outputs["OutputBucketName"], Key=report_key)["Body"].read()
    )
    rows_of = set(report["outputs"].get("analytics", []))
    name = "label share per day"
    try:
        columns, rows = athena.run_named_query(clients, workgroup, name, only=rows_of)
    except athena.QueryError as exc:
        raise StepFailed("analytics", f"the Athena query {name!r} failed locally: {exc}") from exc
    print(
        f"\n  label share of the demo file: Athena named query {name!r} (workgroup {workgroup}),"
        "\n  run locally: translated Trino -> DuckDB by sqlglot, over the file's rows in "
        "analytics/:"
    )
    print("    " + "  ".join(f"{c:<13}" for c in columns))
    for row in rows:
        print("    " + "  ".join(f"{v!s:<13}" for v in row))


def _print_logs(run_dir: Path, function: str, rid: str) -> None:
    from infra.local.logs import format_lines, read

    for line in format_lines(list(read(run_dir / "logs", function, rid))):
        print("    " + line)
