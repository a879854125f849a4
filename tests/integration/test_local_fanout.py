"""The fan-out state machine as deployed, executed by moto's Step Functions interpreter, every
step through the local Lambda service (real runtime, real layers, the built zip)."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.slow


def _wait(sfn, arn: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.5)
    raise AssertionError(f"{arn} still running after {timeout} s")


def test_a_multi_range_file_through_the_deployed_state_machine_is_byte_identical(
    local, corpus_path
):
    inp, out = local.outputs["InputBucketName"], local.outputs["OutputBucketName"]
    header, _, body = corpus_path.read_bytes().partition(b"\n")
    edge = 'x,e1,0,"spans\r\nlines, ""quoted"" caf\u00e9 \U0001f600"\n'.encode()
    data = header + b"\n" + body.rstrip(b"\n") + b"\n" + edge + body  # ~6.4 MB
    local.s3.put_object(Bucket=inp, Key="input/fan.csv", Body=data)
    local.wait()  # one invocation (far below the deployed threshold) scores it
    single = local.s3.get_object(Bucket=out, Key="scored/fan.csv")
    one_report = json.loads(local.s3.get_object(Bucket=out, Key="reports/fan.csv.json")["Body"]
                            .read())  # fmt: skip
    assert one_report["status"] == "succeeded" and "fanout" not in one_report

    from infra.local.executions import client

    sfn = client(local.endpoint)
    arn = local.outputs["FanoutStateMachineArn"]
    head = local.s3.head_object(Bucket=inp, Key="input/fan.csv")
    execution = sfn.start_execution(
        stateMachineArn=arn,
        name="itest-fan-1",
        input=json.dumps({  # what the function's hand-off sends, with 1 MB ranges
            "source": {"bucket": inp, "key": "input/fan.csv", "version_id": head["VersionId"],
                       "etag": head["ETag"].strip('"'), "size": head["ContentLength"]},
            "config": one_report["config"], "column_setting": "", "attempt": 1,
            "max_concurrency": 16, "range_bytes": 1024 * 1024, "reason": "integration test",
        }),
    )["executionArn"]  # fmt: skip
    done = _wait(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    fanned = local.s3.get_object(Bucket=out, Key="scored/fan.csv")
    assert fanned["VersionId"] != single["VersionId"]  # written again, by the fan-out
    assert fanned["Body"].read() == single["Body"].read()
    report = json.loads(local.s3.get_object(Bucket=out, Key="reports/fan.csv.json")["Body"]
                        .read())  # fmt: skip
    assert report["fanout"]["ranges"] == 7 and report["fanout"]["execution"] == execution
    assert report["rows"] == one_report["rows"] and report["labels"] == one_report["labels"]
    listing = local.s3.list_objects_v2(Bucket=out, Prefix="tmp/")
    assert listing.get("KeyCount", 0) == 0
    assert not local.s3.list_multipart_uploads(Bucket=out).get("Uploads")
    # Every step ran in the served function: plan, 7 counts, cut, 7 ranges, assemble.
    from infra.local.logs import read

    kinds = []
    for entry in read(local.service.run_dir / "logs", local.outputs["FunctionName"]):
        if '"fanout_kind"' in entry["message"] and "fan-out" in entry["message"]:
            kinds.append(json.loads(entry["message"])["fanout_kind"])
    assert sorted(set(kinds)) == sorted(
        f"sentiment.{k}/v1" for k in ("plan", "count", "cut", "range", "assemble")
    )
    assert kinds.count("sentiment.range/v1") == kinds.count("sentiment.count/v1") == 7
