"""Inputs for the insights tests: a CSV whose texts, column names and key are hostile, scored
by the real scoring job, so that the pages are drawn from a real schema_version 2 report."""

from __future__ import annotations

import csv
import io

SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'
TEXT_COLUMN = f"review {SCRIPT}"
OTHER_COLUMN = f"note {IMG}"
HOSTILE_KEY = f"input/{IMG} & <b>q</b>.csv"
ROWS = [
    ("I love this, it is wonderful and great!", "a"),
    (f"terrible, awful, the worst {SCRIPT}", IMG),
    (f"great value {IMG}", SCRIPT),
    ("", "blank text"),
    ("it arrived on tuesday", "neutral"),
    ("bad bad bad, horrible", "x"),
    ("excellent support, happy", "y"),
]


def hostile_csv() -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([OTHER_COLUMN, TEXT_COLUMN])
    for text, other in ROWS:
        writer.writerow([other, text])
    return buf.getvalue().encode()


def score(harness, key: str = HOSTILE_KEY, body: bytes | None = None) -> dict:
    """Upload and score with the real job; returns the report it wrote."""
    harness.put(key, body if body is not None else hostile_csv())
    report = harness.process(key, TEXT_COLUMN=TEXT_COLUMN)
    assert report["status"] == "succeeded", report
    return report
