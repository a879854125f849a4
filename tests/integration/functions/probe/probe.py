"""Purpose-built functions for the local service's tests (deployed through the same service).

`fail` always raises (async retries, then the on-failure destination); `slow` sleeps past its
timeout; `record` writes each S3 record it receives to OUTPUT_BUCKET (what was delivered);
`environment` returns what the function sees of its environment.
"""

import json
import os
import time
import urllib.parse

import boto3


def fail(event, context):
    print(json.dumps({"level": "INFO", "message": "failing on purpose"}))
    raise RuntimeError("probe failure: " + _keys(event))


def slow(event, context):
    print(json.dumps({"level": "INFO", "message": "sleeping past the timeout"}))
    time.sleep(float(os.environ.get("SLEEP_SECONDS", "30")))
    return {"slept": True}


def record(event, context):
    s3 = boto3.client("s3")
    for r in event.get("Records", []):
        name = urllib.parse.quote(r["s3"]["object"]["key"], safe="")
        body = json.dumps({"record": r, "request_id": context.aws_request_id})
        s3.put_object(
            Bucket=os.environ["OUTPUT_BUCKET"],
            Key=f"seen/{name}/{context.aws_request_id}",
            Body=body,
        )
    return {"records": len(event.get("Records", []))}


def environment(event, context):
    """What the function sees of its environment (names only for credentials)."""
    import sys

    return {
        "env": {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_SECRET", "AWS_SESSION"))
        },
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "function_name": context.function_name,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "sys_path": sys.path,
        "executable": sys.executable,
    }


def _keys(event):
    return ", ".join(r["s3"]["object"]["key"] for r in event.get("Records", []) if "s3" in r)
