"""`make backfill` end to end: the CLI as a user runs it, the backfill state machine executed
by the local Step Functions interpreter, its Lambda tasks served by the local service running
the deployed function under the real runtime."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from csv_sentiment.events import output_keys
from infra.endpoint import LOCAL_MODE_ENV
from infra.local import logs
from infra.local.prepare import isolated_env
from tests.paths import ROOT

pytestmark = pytest.mark.slow
ARCHIVE = "archive/2025/"
COUNT = 1_050  # past one listing page (1,000 keys) and past ItemReader-over-listing's limit


def backfill(local, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """`make backfill …` with the exports `make local-up` prints."""
    full = isolated_env({**local.endpoint, "STACK": local.stack, **env})
    return subprocess.run([sys.executable, "-m", "infra.backfill"], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def redeploy(local, **env: str) -> None:
    full = isolated_env({**local.endpoint, **LOCAL_MODE_ENV, "RUNTIME": local.runtime,
                         "STACK": local.stack, "DEPLOY_POLL_SECONDS": "0.2", **env})  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "infra.deploy", "deploy"], cwd=ROOT, env=full,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    local.service.refresh()


def put_many(local, keys: list[str], body=lambda k: f"id,review\n1,I love {k}\n2,awful\n") -> None:
    bucket = local.outputs["InputBucketName"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: local.s3.put_object(Bucket=bucket, Key=k, Body=body(k)), keys))


def outputs(key: str):
    """Where the function writes the results of `key` (the deployed INPUT_PREFIX is input/)."""
    return output_keys(key, "input/")


def scored_versions(local, source_prefix: str) -> dict[str, int]:
    """Versions of each scored object of the sources under `source_prefix`."""
    prefix = outputs(source_prefix).scored
    out: dict[str, int] = {}
    paginator = local.s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=local.outputs["OutputBucketName"], Prefix=prefix):
        for v in page.get("Versions", []):
            out[v["Key"]] = out.get(v["Key"], 0) + 1
    return out


def invocations(local) -> int:
    """The function's invocations so far (one REPORT line each in the service's logs)."""
    entries = logs.read(local.service.logs.folder, local.outputs["FunctionName"])
    return sum(1 for e in entries if e["message"].startswith("REPORT "))


def sfn_client(local):
    env = local.endpoint
    return boto3.client("stepfunctions", region_name=env["AWS_REGION"],
                        endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip


def executions(local) -> list[dict]:
    arn = local.outputs["BackfillStateMachineArn"]
    return sfn_client(local).list_executions(stateMachineArn=arn)["executions"]


@pytest.fixture(scope="module")
def local(local_of_its_own):
    """A service of this module's own: its thousand objects, fan-out and redeploys would
    disturb the other modules' listings and log counts."""
    return local_of_its_own


@pytest.fixture(scope="module")
def archive(local):
    keys = [f"{ARCHIVE}day-{i // 100:02d}/file-{i:04d}.csv" for i in range(COUNT)]
    put_many(local, keys)
    local.s3.put_object(Bucket=local.outputs["InputBucketName"], Key=f"{ARCHIVE}README.txt",
                        Body=b"not a CSV")  # fmt: skip
    return keys


def test_dry_run_lists_counts_and_projects_but_starts_nothing(local, archive):
    done = backfill(local, PREFIX=ARCHIVE, DRY_RUN="1")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"{COUNT:,} objects the function scores (2 listing page(s); 1 other objects" in out
    # FANOUT_MAX_CONCURRENCY is 100 by default: groups of ceil(1,050 / 100) = 11 objects.
    assert re.search(rf"would score {COUNT:,} objects, [\d.]+ MB, in 96 invocations", out)
    assert re.search(r"projected on AWS: \d+ s wall time, .* about \$\d+\.\d{4}", out)
    assert "dry run: nothing started, nothing written" in out
    assert executions(local) == []
    listed = local.s3.list_objects_v2(Bucket=local.outputs["OutputBucketName"], Prefix="backfill/")
    assert listed["KeyCount"] == 0
    assert scored_versions(local, ARCHIVE) == {}


def test_every_object_is_scored_exactly_once_then_a_second_run_scores_none(local, archive):
    before = invocations(local)
    done = backfill(local, PREFIX=ARCHIVE)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert re.search(
        r"started arn:aws:states:\S+:execution:itest-app-backfill:backfill-[0-9a-f]{20}-1", out
    )
    assert re.search(rf"done [\d,]+/{COUNT:,}: scored [\d,]+, skipped 0, failed 0 \| left", out)
    assert f"{COUNT:,} objects: scored {COUNT:,}" in out
    versions = scored_versions(local, ARCHIVE)
    assert sorted(versions) == sorted(outputs(k).scored for k in archive)
    assert set(versions.values()) == {1}  # each scored exactly once
    # 96 groups and the final count: tiny files share invocations.
    assert "(96 groups of up to 11 objects)" in out
    assert invocations(local) - before == 97

    again = backfill(local, PREFIX=ARCHIVE)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"{COUNT:,} objects: skipped {COUNT:,}" in again.stdout
    assert "nothing to score: every object already has a current result" in again.stdout
    assert re.search(r"backfill-[0-9a-f]{20}-2 \(attempt 2 for these objects\)", again.stdout)
    assert set(scored_versions(local, ARCHIVE).values()) == {1}


def test_a_failing_object_is_listed_with_its_error_report_while_the_rest_succeed(local):
    prefix = "archive/mixed/"
    put_many(local, [f"{prefix}ok-{i}.csv" for i in range(20)])
    local.s3.put_object(Bucket=local.outputs["InputBucketName"], Key=f"{prefix}bad.csv",
                        Body=b"id,review\n1,fine\n2,one,cell,too,many\n")  # fmt: skip
    done = backfill(local, PREFIX=prefix)
    assert done.returncode == 1, done.stdout + done.stderr
    out_bucket = local.outputs["OutputBucketName"]
    assert "21 objects: failed 1, scored 20" in done.stdout
    report = f"s3://{out_bucket}/{outputs(prefix + 'bad.csv').error}"
    assert re.search(rf"failed: {prefix}bad\.csv: line 3 .* \({re.escape(report)}\)", done.stdout)
    error = json.loads(local.s3.get_object(Bucket=out_bucket, Key=outputs(prefix + "bad.csv").error)
                       ["Body"].read())  # fmt: skip
    assert error["error"]["line"] == 3
    assert len(scored_versions(local, prefix)) == 20


def test_ctrl_c_stops_watching_not_the_work_and_says_how_to_watch_again(local):
    prefix = "archive/interrupted/"
    put_many(local, [f"{prefix}f-{i}.csv" for i in range(30)])
    full = isolated_env({**local.endpoint, "STACK": local.stack, "PREFIX": prefix})
    # SIGINT's default action, as in a terminal: a test run started in the background (`cmd &`
    # in a script) hands its children SIGINT ignored, and Python then never raises
    # KeyboardInterrupt.
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    cli = subprocess.Popen([sys.executable, "-m", "infra.backfill"], cwd=ROOT, env=full,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           preexec_fn=default_sigint)  # fmt: skip
    seen = []
    for line in cli.stdout:
        seen.append(line)
        if "Ctrl-C stops watching" in line:
            cli.send_signal(signal.SIGINT)
            break
    rest = cli.communicate(timeout=60)[0]
    assert cli.returncode == 130, "".join(seen) + rest
    arn = re.search(r"watch it again: make backfill EXECUTION=(\S+)", rest).group(1)
    assert "stopped watching; the backfill goes on" in rest
    watched = backfill(local, EXECUTION=arn)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "30 objects: scored 30" in watched.stdout


# Last: it deploys twice, and the local service retires the function's instances on each.
def big_csv(corpus_path, megabytes: float) -> bytes:
    """Real texts, `megabytes` of them, with the column TEXT_COLUMN=review names."""
    with open(corpus_path, newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    out, i = io.StringIO(), 0
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "review"])
    while out.tell() < megabytes * 2**20:
        w.writerow([i, texts[i % len(texts)]])
        i += 1
    return out.getvalue().encode()


def test_a_configuration_change_scores_again_and_a_big_object_is_fanned_out(local, corpus_path):
    prefix = "archive/config/"
    put_many(local, [f"{prefix}f-{i}.csv" for i in range(12)])
    first = backfill(local, PREFIX=prefix)
    assert "12 objects: scored 12" in first.stdout, first.stdout + first.stderr
    big = big_csv(corpus_path, 2.5)
    local.s3.put_object(
        Bucket=local.outputs["InputBucketName"], Key="archive/big/big.csv", Body=big
    )
    redeploy(local, TEXT_COLUMN="review", FANOUT_THRESHOLD_MB="1", RANGE_MB="1")
    try:
        again = backfill(local, PREFIX=prefix)
        assert "12 objects: scored 12" in again.stdout, again.stdout + again.stderr
        assert set(scored_versions(local, prefix).values()) == {2}

        fanned = backfill(local, PREFIX="archive/big/")
        assert fanned.returncode == 0, fanned.stdout + fanned.stderr
        assert "1 objects: handed-off 1" in fanned.stdout
        arn = re.search(r"handed off: archive/big/big\.csv: fan-out execution (\S+)", fanned.stdout)
        status = wait_for_execution(local, arn.group(1))
        assert status == "SUCCEEDED"
        scored = outputs("archive/big/big.csv").scored
        body = local.s3.get_object(Bucket=local.outputs["OutputBucketName"], Key=scored)
        body = body["Body"].read()
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert len(rows) == big.count(b"\n")  # every row, header once
        assert rows[0] == ["id", "review", "neg", "neu", "pos", "compound", "sentiment"]
    finally:
        redeploy(local)


def wait_for_execution(local, arn: str, timeout: float = 300) -> str:
    sfn = sfn_client(local)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(1)
    return "RUNNING"
