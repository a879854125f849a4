"""`make redrive`: send the events waiting in the failure queue back to the function.

Each message is Lambda's on-failure destination record; its `requestPayload` is the original
S3 event. It is invoked synchronously, so the outcome is known: a success removes the
message, a failure leaves it in the queue (visible again at once) and is reported.

Each message is invoked exactly once per run: messages are received one at a time, each
hidden for longer than the invocation can last (the function's timeout plus a margin), so none
waits out its visibility while others are invoked; a failure is hidden until the run ends
(then made visible again), and a message seen earlier in the run is never invoked twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from infra.deploy import stacks
from infra.deploy.aws import Aws
from infra.deploy.config import Config
from infra.deploy.errors import DeployError

Say = Callable[[str], None]
VISIBILITY_MARGIN = 60  # seconds beyond the function's timeout: connection, queueing, cold start
MAX_VISIBILITY = 43_200  # SQS: 12 hours from the receive


@dataclass
class RedriveReport:
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def redrive(
    cfg: Config,
    aws: Aws,
    say: Say = print,
    max_messages: int = 1000,
    visibility: int | None = None,
) -> RedriveReport:
    """`visibility`: seconds a received message stays hidden while it is invoked (default:
    the function's timeout plus VISIBILITY_MARGIN; tests shorten it)."""
    name = cfg.app_stack
    if stacks.describe(aws.cfn, name) is None:
        raise DeployError(f"stack {name} does not exist", "run `make deploy` first")
    ids = stacks.physical_ids(aws.cfn, name)
    queue = ids["FailureQueue"]
    hide = visibility or cfg.timeout + VISIBILITY_MARGIN
    report = RedriveReport()
    kept: dict[str, str] = {}  # message id -> latest receipt handle, made visible at the end
    received = 0
    while received < max_messages:
        batch = aws.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1, VisibilityTimeout=hide
        ).get("Messages", [])
        if not batch:
            break
        message = batch[0]
        handle = message["ReceiptHandle"]
        if message["MessageId"] in kept:
            # Kept earlier in this run and visible again (the run outlasted its hiding):
            # not invoked twice; hidden again under its new receipt handle.
            kept[message["MessageId"]] = handle
            _hide_until_the_end(aws.sqs, queue, handle)
            continue
        received += 1
        label, payload = _payload(message)
        if payload is None:
            report.skipped.append(label)
            say(f"  skipped {label}: not a Lambda destination record")
            error = "skipped"
        else:
            try:
                error = _invoke(aws.lam, _target(message, ids), payload)
            except botocore.exceptions.ClientError as exc:  # throttled, function gone, …
                error = f"the invoke was refused: {exc}"
            if error is None:
                aws.sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
                report.succeeded.append(label)
                say(f"  ok      {label}")
                continue
            report.failed.append(label)
            say(f"  failed  {label}: {error}")
        kept[message["MessageId"]] = handle
        _hide_until_the_end(aws.sqs, queue, handle)
    for handle in kept.values():
        aws.sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
    if not received:
        say("the failure queue is empty: nothing to redrive")
        return report
    say(
        f"redrive: {len(report.succeeded)} succeeded (removed from the queue), "
        f"{len(report.failed)} failed again and {len(report.skipped)} skipped (left in the queue)"
    )
    return report


def _hide_until_the_end(sqs: Any, queue: str, handle: str) -> None:
    """Keep a failed or skipped message out of this run's later receives (SQS allows 12 hours
    from the receive; a run longer than that meets it again and skips it by its id)."""
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=MAX_VISIBILITY - 60
    )


def _payload(message: dict) -> tuple[str, dict | None]:
    try:
        record = json.loads(message["Body"])
        payload = record["requestPayload"]
    except (ValueError, KeyError, TypeError):
        return message.get("MessageId", "?"), None
    keys = [
        f"s3://{r['s3']['bucket']['name']}/{r['s3']['object']['key']}"
        for r in (payload.get("Records") or [])
        if isinstance(r, dict) and "s3" in r
    ]
    return (", ".join(keys) or message.get("MessageId", "?")), payload


def _target(message: dict, ids: dict[str, str]) -> str:
    """The function that failed (the record's requestContext.functionArn) if it is one of the
    app's functions (the scoring and the insights function share the queue), else the scorer."""
    try:
        arn = json.loads(message["Body"])["requestContext"]["functionArn"]
        name = arn.split(":function:", 1)[1].split(":", 1)[0]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return ids["Function"]
    return name if name in (ids.get("Function"), ids.get("InsightsFunction")) else ids["Function"]


def _invoke(lam: Any, function: str, payload: dict) -> str | None:
    """None on success, else the function's error in one line."""
    response = lam.invoke(
        FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(payload)
    )
    body = response["Payload"].read() if response.get("Payload") else b""
    if response.get("FunctionError") or response.get("StatusCode", 200) >= 300:
        try:
            detail = json.loads(body)
            return f"{detail.get('errorType', 'Error')}: {detail.get('errorMessage', '')}"
        except (ValueError, AttributeError):
            return body.decode("utf-8", "replace")[:300] or "function error"
    return None
