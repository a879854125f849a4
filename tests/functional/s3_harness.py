"""Helpers for the functional tier: canned events pointed at real objects, a harness that
uploads, processes and reads back, and fault injection at the HTTP layer."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from botocore.awsrequest import AWSResponse

from csv_sentiment.events import records
from csv_sentiment.job import Job
from csv_sentiment.settings import Settings

EVENTS = Path(__file__).resolve().parents[1] / "events"


def event_for(s3, bucket: str, key: str, template: str = "put-simple.json") -> dict:
    """A canned real-format S3 event, pointed at an object that exists (size, eTag filled in)."""
    from urllib.parse import quote_plus

    event = json.loads((EVENTS / template).read_text())
    head = s3.head_object(Bucket=bucket, Key=key)
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj.update(key=quote_plus(key, safe="/"), size=head["ContentLength"],
               eTag=head["ETag"].strip('"'))  # fmt: skip
    if head.get("VersionId"):
        obj["versionId"] = head["VersionId"]
    event["Records"] = [record]
    return event


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

    def listing(self, results_only: bool = False) -> list[str]:
        """The output bucket's keys (`results_only`: without the analytics dataset)."""
        listing = self.s3.list_objects_v2(Bucket=self.buckets["output"])
        keys = sorted(o["Key"] for o in listing.get("Contents", []))
        return [k for k in keys if not (results_only and k.startswith("analytics/"))]


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
