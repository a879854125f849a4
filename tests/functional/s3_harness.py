"""Helpers for the functional tier: canned events pointed at real objects, a harness that
uploads, processes and reads back, and fault injection at the HTTP layer."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import quote_plus

import boto3
from botocore.awsrequest import AWSResponse
from botocore.retries import standard

from csv_sentiment import s3io
from csv_sentiment.events import records
from csv_sentiment.job import Job
from csv_sentiment.settings import Settings

EVENTS = Path(__file__).resolve().parents[1] / "events"


def event_for(s3, bucket: str, keys: str | list[str], template: str = "put-simple.json") -> dict:
    """A canned real-format S3 event with one record per key, pointed at objects that exist
    (bucket, URL-encoded key, size, eTag and version filled in from HeadObject). The template
    must hold at least as many records as keys; the only event builder of the tests."""
    event = json.loads((EVENTS / template).read_text())
    keys = [keys] if isinstance(keys, str) else keys
    event["Records"] = event["Records"][: len(keys)]
    assert len(event["Records"]) == len(keys), f"{template} has too few records"
    for record, key in zip(event["Records"], keys, strict=True):
        head = s3.head_object(Bucket=bucket, Key=key)
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        obj = record["s3"]["object"]
        obj.update(key=quote_plus(key, safe="/"), size=head["ContentLength"],
                   eTag=head["ETag"].strip('"'))  # fmt: skip
        obj.pop("versionId", None)
        if head.get("VersionId") and head["VersionId"] != "null":
            obj["versionId"] = head["VersionId"]
    return event


def fresh_client():
    """A client like the function's (standard retries, 6 attempts) whose retries do not wait:
    fault-injection tests exercise the retry decisions, not the backoff delays."""
    client = boto3.client("s3", config=s3io.client_config())
    events = client.meta.events
    events.unregister("needs-retry.s3", unique_id="retry-config-s3")
    handler = standard.register_retry_handler(client, s3io.client_config().retries["max_attempts"])
    events.unregister("needs-retry.s3", unique_id="retry-config-s3")

    def retry_now(**kwargs):
        return 0 if handler.needs_retry(**kwargs) is not None else None

    events.register("needs-retry.s3", retry_now, unique_id="retry-config-s3")
    return client


class Harness:
    """Upload, process and read back, with settings built the way the handler builds them."""

    def __init__(self, s3, buckets, scorer):
        self.s3, self.buckets, self.scorer = s3, buckets, scorer
        self.env = {"OUTPUT_BUCKET": buckets["output"]}
        self.remaining_ms = lambda: 900_000

    def put(self, key: str, body: bytes, **extra) -> None:
        self.s3.put_object(Bucket=self.buckets["input"], Key=key, Body=body, **extra)

    def job(self, s3=None, **env) -> Job:
        settings = Settings.from_env({**self.env, **env})
        return Job(settings, s3 or self.s3, self.scorer, "req-test", self.remaining_ms)

    def process(self, key: str, s3=None, **env) -> dict:
        (ref,) = records(event_for(self.s3, self.buckets["input"], key))
        return self.job(s3, **env).process(ref)

    def output(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.buckets["output"], Key=key)["Body"].read()

    def rows(self, key: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.output(key).decode("utf-8"), newline="")))

    def json(self, key: str) -> dict:
        return json.loads(self.output(key))

    def listing(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.buckets["output"])
        return sorted(o["Key"] for o in listing.get("Contents", []))


def fail_requests(client, operation: str, status: int, code: str, times: int | None = None):
    """Fault injection at the HTTP layer: the next `times` calls (all, if None) of `operation`
    get `status`/`code` instead of reaching the endpoint; botocore's retries see it as real."""
    calls = {"n": 0}

    def respond(request, **_):
        calls["n"] += 1
        if times is not None and calls["n"] > times:
            return None
        body = (
            f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>injected</Message></Error>"
        ).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", respond)
    return calls


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body

    def read(self, *_):
        body, self._body = self._body, b""
        return body
