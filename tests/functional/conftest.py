"""Functional tier: the job and the handler end to end against moto server on loopback."""

from __future__ import annotations

import uuid

import boto3
import pytest

from csv_sentiment import s3io
from csv_sentiment.engine import load_engine
from csv_sentiment.workers import InProcess
from tests.functional.s3_harness import Harness


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return moto_server.env()


@pytest.fixture
def s3(aws_env):
    return boto3.client("s3", config=s3io.client_config())


@pytest.fixture
def buckets(s3):
    suffix = uuid.uuid4().hex[:10]
    names = {"input": f"in-{suffix}", "output": f"out-{suffix}"}
    for name in names.values():
        s3.create_bucket(Bucket=name)
    return names


@pytest.fixture(scope="session")
def reference_scorer():
    return InProcess(load_engine("reference"))


@pytest.fixture
def harness(s3, buckets, reference_scorer):
    return Harness(s3, buckets, reference_scorer)
