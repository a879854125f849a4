"""Helpers for the analytics tests: the dataset as written, and uploads made to look older."""

from __future__ import annotations

import datetime as dt
import gzip
import json

from csv_sentiment import analytics


def dataset(harness) -> dict[str, list[dict]]:
    """Every dataset object in the output bucket, as parsed JSON lines."""
    found = {}
    for key in harness.listing():
        if key.startswith(analytics.PREFIX):
            lines = gzip.decompress(harness.output(key)).decode("ascii").splitlines()
            found[key] = [json.loads(line) for line in lines]
    return found


class ShiftedUploads:
    """An S3 client whose HeadObject reports uploads `days` earlier (moto stamps "now"), so a
    re-upload can land in another day's partition."""

    def __init__(self, s3, days: int):
        self._s3, self._days = s3, days

    def head_object(self, **kwargs):
        head = self._s3.head_object(**kwargs)
        head["LastModified"] -= dt.timedelta(days=self._days)
        return head

    def __getattr__(self, name):
        return getattr(self._s3, name)
