"""Metric names of the insights function, declared once (the alarms in app.yaml use them).

Namespace and dimension are the scoring function's (csv_sentiment/metrics.py); the service
dimension tells the two functions apart.
"""

DEFAULT_SERVICE = "insights"

PAGES_WRITTEN = "PagesWritten"
REPORTS_REJECTED = "ReportsRejected"  # malformed, missing or old-schema reports: not drawn
INDEX_CONFLICTS = "IndexConflicts"  # concurrent index updates that had to re-read the state
RENDER_DURATION = "RenderDuration"

ALL = (PAGES_WRITTEN, REPORTS_REJECTED, INDEX_CONFLICTS, RENDER_DURATION)
