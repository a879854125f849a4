"""make backfill's CLI against moto server (the session's, with its Step Functions
interpreter): listing, starting, attaching and refusing, without the function."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

# Executions of this stay RUNNING for the length of a test, whatever the endpoint executes.
WAITING = json.dumps({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600,
                                                             "End": True}}})  # fmt: skip


@pytest.fixture
def clients(moto_server, monkeypatch):
    """S3 and Step Functions clients made as the CLI makes them (from the environment)."""
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3"), boto3.client("stepfunctions")


@pytest.fixture
def s3(clients):
    return clients[0]


@pytest.fixture
def sfn(clients):
    return clients[1]


@pytest.fixture
def bucket(s3):
    name = f"bf-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def state_machine(sfn):
    arn = sfn.create_state_machine(
        name=f"bf-{uuid.uuid4().hex[:8]}",
        definition=WAITING,
        roleArn="arn:aws:iam::123456789012:role/backfill",
    )["stateMachineArn"]
    yield arn
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, statusFilter="RUNNING"
    ):
        for e in page["executions"]:
            sfn.stop_execution(executionArn=e["executionArn"])
