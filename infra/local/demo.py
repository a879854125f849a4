"""`make demo`: build, start the endpoint and the service, deploy, upload the example and show
what happened, then stop everything that was started."""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from infra.local.prepare import CACHE, ROOT, STATE, app_outputs, build_and_deploy, interrupt
from infra.local.steps import StepFailed, Steps, fail, say

EXAMPLE = ROOT / "examples" / "reviews.csv"


def demo() -> int:
    steps = Steps(total=11)
    run_dir = STATE / "demo"
    shutil.rmtree(run_dir, ignore_errors=True)
    moto = service = None
    signal.signal(signal.SIGTERM, interrupt)
    try:
        moto, env = build_and_deploy(steps, run_dir)
        with steps.step("local Lambda service (template-driven, RIE + awslambdaric)"):
            from infra.local.service import LocalLambdaService

            service = LocalLambdaService(env, CACHE, run_dir=run_dir, say=say).start()
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
    except StepFailed as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping what was started", file=sys.stderr)
        return 130
    finally:
        print(f"\n==> [{steps.total}/{steps.total}] stop the service and the endpoint", flush=True)
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


def _print_logs(run_dir: Path, function: str, rid: str) -> None:
    from infra.local.logs import format_lines, read

    for line in format_lines(list(read(run_dir / "logs", function, rid))):
        print("    " + line)
