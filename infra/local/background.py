"""`make local-up`, `make local-down`, `make logs`: the endpoint and the service left running
in the background (own process groups, recorded in .local/up.json) and stopped again."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from infra.endpoint import LOCAL_CREDENTIALS, LOCAL_MODE_ENV
from infra.local.invokeapi import InvokeApi
from infra.local.prepare import (
    CACHE,
    ROOT,
    STATE,
    app_outputs,
    build_and_deploy,
    interrupt,
    isolated_env,
)
from infra.local.steps import StepFailed, Steps, fail, say

UP_DIR = STATE / "up"
UP_FILE = STATE / "up.json"


def up() -> int:
    if UP_FILE.exists() and _alive(json.loads(UP_FILE.read_text())):
        print("already running:")
        _usage(json.loads(UP_FILE.read_text()))
        return 0
    steps = Steps(total=6)
    shutil.rmtree(UP_DIR, ignore_errors=True)
    moto = None
    signal.signal(signal.SIGTERM, interrupt)
    try:
        moto, env = build_and_deploy(steps, UP_DIR)
        with steps.step("local Lambda service, in the background"):
            log = open(UP_DIR / "service.log", "ab")  # noqa: SIM115
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "infra.local",
                    "serve",
                    "--endpoint",
                    moto.url,
                    "--run-dir",
                    str(UP_DIR),
                    "--lambda-port",
                    str(moto.lambda_port),
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=isolated_env(),
                start_new_session=True,
            )
            deadline = time.monotonic() + 180
            while not (UP_DIR / "ready").exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (UP_DIR / "service.log").read_text()[-1500:]
                    _kill_group(proc.pid)
                    raise StepFailed("service", f"the service did not start:\n{tail}")
                time.sleep(0.2)
            say((UP_DIR / "service.log").read_text().strip().replace("\n", "\n    "))
            outputs = app_outputs(env)
            state = {
                "endpoint": moto.url,
                "moto_pid": moto.process.pid,
                "service_pid": proc.pid,
                "input_bucket": outputs["InputBucketName"],
                "output_bucket": outputs["OutputBucketName"],
                "function": outputs["FunctionName"],
                "state_machine": outputs.get("FanoutStateMachineArn", ""),
                "lambda_endpoint": (UP_DIR / "ready").read_text().strip(),
            }
            UP_FILE.write_text(json.dumps(state, indent=2))
    except StepFailed as exc:
        if moto:
            moto.stop()
        return fail(exc)
    except KeyboardInterrupt:
        if moto:
            moto.stop()
        print("\ninterrupted; stopped what was started", file=sys.stderr)
        return 130
    print(f"\nrunning (set up in {steps.elapsed():.0f}s):")
    _usage(state)
    return 0


def _usage(state: dict) -> None:
    url, inp, out = state["endpoint"], state["input_bucket"], state["output_bucket"]
    exported = {**LOCAL_CREDENTIALS, **LOCAL_MODE_ENV}
    creds = " ".join(f"{k}={v}" for k, v in exported.items() if k != "AWS_SESSION_TOKEN")
    print(f"""
  endpoint:  {url}   (moto server; any client with AWS_ENDPOINT_URL={url})
  function:  {state["function"]}   served by the local Lambda service

  score a file:
    export {creds} AWS_ENDPOINT_URL={url}
    aws s3 cp examples/reviews.csv s3://{inp}/input/reviews.csv
    aws s3 ls --recursive s3://{out}/
    aws s3 cp s3://{out}/scored/reviews.csv -
    aws s3 presign s3://{out}/insights/reviews.csv.html   (its page; index: insights/index.html)
  (or without the export: aws --endpoint-url {url} s3 cp …)

  function logs:   make logs   (or, with AWS CLI v2: aws logs tail /aws/lambda/{state["function"]})
  redeploy:        make deploy, after the export above (the service picks up the change)
  backfill:        make backfill PREFIX=archive/ (DRY_RUN=1 first), after the export above
  Lambda API:      AWS_ENDPOINT_URL_LAMBDA={state["lambda_endpoint"]} (invoke the served functions;
                   e.g. `AWS_ENDPOINT_URL_LAMBDA=… make redrive` after the export above)
  big files:       above FANOUT_THRESHOLD_MB a file goes to the state machine
                   {state.get("state_machine", "")}
                   (`aws stepfunctions list-executions --state-machine-arn …` shows its runs;
                   make local-up FANOUT_THRESHOLD_MB=1 RANGE_MB=1 to see it with a few MB)
  stop:            make local-down
""")


def down() -> int:
    if not UP_FILE.exists():
        print("nothing is running (no .local/up.json)")
        return 0
    state = json.loads(UP_FILE.read_text())
    stopped = []
    if _owned(state["service_pid"], "infra.local"):
        _kill_group(state["service_pid"])
        stopped.append(f"local Lambda service (pid {state['service_pid']})")
    for pid_file in (UP_DIR / "pids").glob("*"):
        pid = int(pid_file.name)
        if _owned(pid, "aws-lambda-rie"):
            _kill_group(pid)
            stopped.append(f"RIE instance (pid {pid})")
        pid_file.unlink(missing_ok=True)
    if _owned(state["moto_pid"], "moto_server"):
        _kill_group(state["moto_pid"])
        stopped.append(f"moto server {state['endpoint']} (pid {state['moto_pid']})")
    UP_FILE.unlink()
    print("stopped: " + ("; ".join(stopped) if stopped else "nothing was still running"))
    return 0


def _owned(pid: int, marker: str) -> bool:
    """The pid is still the process we started (not a reused pid)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _alive(state: dict) -> bool:
    return _owned(state["service_pid"], "infra.local") and _owned(state["moto_pid"], "moto_server")


def _kill_group(pid: int) -> None:
    """By pid, not through a Popen: `down` stops what an earlier `up` process started."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def serve(endpoint: str, run_dir: Path, lambda_port: int = 0) -> int:
    """The background service of `make local-up` (stopped by SIGTERM from `make local-down`).
    Its Lambda API listens on `lambda_port`, where the endpoint's Step Functions interpreter
    sends its Lambda tasks."""
    from infra.local.service import LocalLambdaService

    env = {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    service = LocalLambdaService(env, CACHE, run_dir=run_dir, say=lambda s: print(s, flush=True))
    signal.signal(signal.SIGTERM, interrupt)
    api = None
    try:
        service.start()
        api = InvokeApi(service, port=lambda_port).start()
        (run_dir / "ready.tmp").write_text(api.url)
        os.replace(run_dir / "ready.tmp", run_dir / "ready")  # whole, or not at all
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if api:
            api.stop()
        service.stop()
        (run_dir / "ready").unlink(missing_ok=True)
    return 0


def logs(function: str | None) -> int:
    from infra.local.logs import format_lines, read

    run_dir = UP_DIR if UP_FILE.exists() else STATE / "demo"
    entries = list(read(run_dir / "logs", function))
    if not entries:
        hint = "upload a CSV as `make local-up` showed" if UP_FILE.exists() else "run `make demo`"
        print(f"no function logs yet in {run_dir / 'logs'} ({hint})")
        return 0
    print(f"function logs from {run_dir / 'logs'}:")
    for line in format_lines(entries):
        print(line)
    return 0
