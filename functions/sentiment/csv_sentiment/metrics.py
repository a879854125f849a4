"""Metric names, declared once.

The handler emits them (CloudWatch Embedded Metric Format through Powertools Metrics) and the
alarms in infra/templates/app.yaml refer to the same names with the `service` dimension; a
test checks that the two agree.
"""

DEFAULT_NAMESPACE = "SentimentPipeline"
DEFAULT_SERVICE = "sentiment"
SERVICE_DIMENSION = "service"  # Powertools adds it to every metric

FILES_SCORED = "FilesScored"
FILES_FAILED = "FilesFailed"
FILES_SKIPPED = "FilesSkipped"
FILES_HANDED_OFF = "FilesHandedOff"  # to the fan-out state machine (too big for one invocation)
FILES_SUPERSEDED = "FilesSuperseded"  # an event for a version that is no longer current
EVENTS_MALFORMED = "EventsMalformed"
RECURSION_REFUSED = "RecursionRefused"
ROWS_SCORED = "RowsScored"
ROWS_NONE = "RowsNone"
ROWS_REJECTED = "RowsRejected"
BYTES_READ = "BytesRead"
DURATION = "ScoringDuration"

ALL = (
    FILES_SCORED,
    FILES_FAILED,
    FILES_SKIPPED,
    FILES_HANDED_OFF,
    FILES_SUPERSEDED,
    EVENTS_MALFORMED,
    RECURSION_REFUSED,
    ROWS_SCORED,
    ROWS_NONE,
    ROWS_REJECTED,
    BYTES_READ,
    DURATION,
)
