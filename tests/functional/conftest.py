"""Functional tier: the job and the handler end to end against moto server on loopback."""

from __future__ import annotations

import importlib
import logging
import os
import sys
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
def load_handler(aws_env, monkeypatch):
    """Import handler.py afresh with `env` set, as a new Lambda container would."""

    def load(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("handler", None)
        # Powertools keeps one logging.Logger per service name across imports, whose handler
        # still writes to the stdout of the test that first imported it; point it at this
        # test's stdout (capsys), whichever test ran before.
        service = os.environ.get("POWERTOOLS_SERVICE_NAME", "sentiment")
        for h in logging.getLogger(service).handlers:
            if isinstance(h, logging.StreamHandler):
                h.stream = sys.stdout
        return importlib.import_module("handler")

    yield load
    sys.modules.pop("handler", None)


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
