"""`make demo`, `make local-up`, `make logs` and `make local-down` as a user runs them
(`python -m infra.local …`, what the Makefile calls), with their run state in a temporary
folder so that a developer's own `make local-up` is left alone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psutil
import pytest

from infra.local.prepare import isolated_env
from tests.paths import ROOT

pytestmark = pytest.mark.slow


def _local(command: str, state: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = isolated_env({"LOCAL_STATE_DIR": str(state), "STACK": "cmdtest"})
    return subprocess.run(
        [sys.executable, "-m", "infra.local", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _started_by(pid_dir: Path) -> list[int]:
    return [int(p.name) for p in pid_dir.glob("*")] if pid_dir.exists() else []


def test_make_demo_shows_the_pipeline_working_and_stops_everything(built_artifacts, tmp_path):
    done = _local("demo", tmp_path)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]
    headers = re.findall(r"^==> \[(\d+)/13\] ", out, re.M)
    assert headers == [str(i) for i in range(1, 14)]
    assert "s3://cmdtest-app-out-123456789012-us-east-1/scored/reviews.csv" in out
    assert (
        "first rows of" in out
        and "label counts: positive 22, negative 11, neutral 8, none 1" in out
    )
    assert '"status": "succeeded"' in out  # the run report
    # The fan-out: handed off, progress of the ranges, assembled, nothing left behind.
    assert "handed off (" in out and "[succeeded] score ranges: 4 done, 0 running" in out
    assert re.search(r"scored/reviews-big\.csv: \d+ rows from 4 ranges", out)
    assert "temporary objects left under tmp/: 0" in out
    share = out.split("label share of the demo file: Athena named query")[1]
    assert "run locally: translated Trino -> DuckDB by sqlglot" in share
    for label, count in (("positive", 22), ("negative", 11), ("neutral", 8), ("none", 1)):
        assert re.search(rf"\n    \S+ +{label} +{count} +{round(100 * count / 42, 2)}", share)
    assert re.search(r"START RequestId: \S+ Version: \$LATEST", out)
    assert re.search(r"REPORT RequestId: \S+\tInit Duration: [\d.]+ ms\tDuration", out)
    # Where the insights page is: its key, a presigned URL that opens it, a local copy.
    page = "s3://cmdtest-app-out-123456789012-us-east-1/insights/reviews.csv.html"
    assert page in out and "sentiment-app-insights" not in out  # the STACK's own function
    assert re.search(
        r"presigned URL \(while the endpoint runs\): http://127\.0\.0\.1:\d+/"
        r"cmdtest-app-out-[^ ]+/insights/reviews\.csv\.html\?\S*Signature=",
        out,
    )
    copy = re.search(r"a copy to open in a browser now: file://(\S+reviews\.csv\.html)", out)
    assert "<title>Sentiment of reviews.csv</title>" in Path(copy.group(1)).read_text()
    endpoint = re.search(r"deploy stacks cmdtest-\* to (http://127\.0\.0\.1:\d+)", out).group(1)
    port = int(endpoint.rsplit(":", 1)[1])
    assert not [
        c
        for c in psutil.net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
    ]
    assert _started_by(tmp_path / "demo" / "pids") == []


def test_local_up_leaves_it_running_until_local_down(built_artifacts, tmp_path):
    up = _local("up", tmp_path)
    running: list[int] = []
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
        state = json.loads((tmp_path / "up.json").read_text())
        assert f"aws s3 cp examples/reviews.csv s3://{state['input_bucket']}/input/" in up.stdout
        assert "make logs" in up.stdout and "make local-down" in up.stdout
        s3 = boto3.client(
            "s3",
            endpoint_url=state["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.upload_file(
            str(ROOT / "examples" / "reviews.csv"), state["input_bucket"], "input/from-a-test.csv"
        )
        deadline = time.monotonic() + 60
        while "Contents" not in s3.list_objects_v2(
            Bucket=state["output_bucket"], Prefix="reports/"
        ):
            assert time.monotonic() < deadline, "no output from the background service"
            time.sleep(0.3)
        logs = _local("logs", tmp_path).stdout
        assert "START RequestId:" in logs and "REPORT RequestId:" in logs
        running += [state["moto_pid"], state["service_pid"], *_started_by(tmp_path / "up" / "pids")]
        assert all(psutil.pid_exists(p) for p in running)
    finally:
        down = _local("down", tmp_path)
    assert down.returncode == 0 and "stopped:" in down.stdout
    time.sleep(0.3)
    alive = [
        p
        for p in running
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert not alive
    assert not (tmp_path / "up.json").exists()
