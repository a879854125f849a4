"""The shapes of what a job returns and writes, declared once (as Powertools declares its batch
types): the run report (`reports/<rel>.json`), the error report (`errors/<rel>.json`) and the
results the handler puts in the invocation result. The JSON files are these dicts as written.
"""

from __future__ import annotations

from typing import Literal, NotRequired, Protocol, TypedDict

# The one JSON Schema of both: schemas/run-report.schema.json. Version 2 added the fields the
# insights pages need (compound_histogram, extremes: csv_sentiment/summary.py).
SCHEMA_VERSION = 2


class SourceLike(Protocol):
    """An S3 event's object reference or a HeadObject result: either names the source."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int


class Source(TypedDict):
    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int


class RowCounts(TypedDict):
    total: int
    scored: int
    none: int
    rejected: int


class ScoredOutputs(TypedDict):
    scored: str
    report: str
    # The analytics dataset's keys of this run (none with ANALYTICS=off); added after the
    # report is built, before it is written (job.py).
    analytics: NotRequired[list[str]]


class ErrorOutputs(TypedDict):
    error: str


class Histogram(TypedDict):
    """Scored rows per compound bin of equal width over [low, high]."""

    low: int
    high: int
    counts: list[int]


class ExtremeRow(TypedDict, total=False):
    row: int  # data row number, 1 = the first row after the header
    line: int  # the input line the row starts on
    compound: float
    text: str  # absent when the text policy is none
    truncated: bool


class Extremes(TypedDict):
    text_policy: str | int  # full, none or a number of characters
    max_chars: int
    most_positive: list[ExtremeRow]
    most_negative: list[ExtremeRow]


class RunReport(TypedDict):
    """`reports/<rel>.json`: written last, its presence means success."""

    schema_version: int
    status: Literal["succeeded"]
    source: Source
    outputs: ScoredOutputs
    rows: RowCounts
    labels: dict[str, int]
    mean_compound: float | None
    text_column: str
    columns: int
    encoding: str
    encoding_fallback_used: bool
    delimiter: str
    compressed: bool
    bytes_read: int
    bytes_written: int
    duration_seconds: float
    rows_per_second: float | None
    model: str
    config: dict[str, object]
    request_id: str
    compound_histogram: Histogram
    extremes: Extremes


class ErrorReport(TypedDict):
    """`errors/<rel>.json`: a permanent input error, what was expected, how far it got."""

    schema_version: int
    status: Literal["failed"]
    error: dict[str, object]
    source: Source
    outputs: ErrorOutputs
    duration_seconds: float
    model: str
    request_id: str


class SkippedResult(TypedDict):
    """A duplicate delivery: nothing read or written."""

    status: Literal["skipped"]
    reason: str
    source: Source
    outputs: dict[str, str]


class SupersededResult(TypedDict):
    """An event for a version that is no longer the key's current one: nothing written."""

    status: Literal["superseded"]
    reason: str
    source: Source


class HandedOffResult(TypedDict):
    """Too big for one invocation: an execution of the fan-out state machine scores it."""

    status: str  # "handed-off"
    execution_arn: str
    attempt: int
    started: bool  # False: that attempt was already running or done (a duplicate event)
    reason: str
    source: Source


Result = RunReport | ErrorReport | SkippedResult | SupersededResult | HandedOffResult


def source_of(obj: SourceLike) -> Source:
    return {
        "bucket": obj.bucket,
        "key": obj.key,
        "version_id": obj.version_id,
        "etag": obj.etag,
        "size": obj.size,
    }
