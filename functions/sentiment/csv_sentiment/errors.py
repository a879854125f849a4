"""The function's error hierarchy.

Permanent input errors end in an error report and a normal return (Lambda must not retry a
file that can never succeed); transient and configuration errors are raised so that Lambda's
async retries, the on-failure destination and the alarms apply. Messages are templated with
the bad value and what was expected.
"""

from __future__ import annotations

# Said wherever strict parsing meets a file exported with backslash-escaped quotes.
BACKSLASH_QUOTES_ADVICE = (
    'if the file was exported with backslash-escaped quotes (\\" as MySQL and PHP write), '
    "export it again with doubled quotes as RFC 4180 says (MySQL: FIELDS ESCAPED BY ''; PHP: "
    "fputcsv(..., escape: ''); pandas: to_csv(doublequote=True))"
)


QUOTED_CHARS = 200  # most characters of one input value (a column name, a key) quoted
QUOTED_ITEMS = 50  # most input values (columns) listed
_MESSAGE_CHARS = 4000  # a message, whatever it quotes: reports and log lines stay small


def clip(text: str, limit: int = QUOTED_CHARS) -> str:
    """Untrusted text as quoted in a message, report or log line: at most `limit` characters,
    and saying so when cut (a header of two 20 M-character names must not make a 45 MB
    report)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def clip_all(values: list[str], items: int = QUOTED_ITEMS) -> list[str]:
    """At most `items` values, each clipped, and a last item saying how many were left out."""
    out = [clip(str(v)) for v in values[:items]]
    if len(values) > items:
        out.append(f"… and {len(values) - items} more")
    return out


class SentimentError(Exception):
    """Base class: `code` is stable and goes into reports, logs and metrics. The message and
    details are bounded here too, whatever the raiser quoted."""

    code = "error"

    def __init__(self, message: str, *, expected: str | None = None, **details: object):
        message = clip(message, _MESSAGE_CHARS)
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.details = {k: _bounded(v) for k, v in details.items()}

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.expected:
            out["expected"] = self.expected
        out.update(self.details)
        return out


class SettingsError(SentimentError):
    """A missing or invalid setting: fails the cold start, naming the variable."""

    code = "invalid_setting"


class MalformedEvent(SentimentError):
    """Permanent: the invocation's event (or one of its records) is not an S3 event as AWS
    sends it. Logged and returned, never retried: the same event would fail the same way."""

    code = "malformed_event"


class InputError(SentimentError):
    """Permanent: the input file can never be scored as it is. Reported, not retried."""

    code = "invalid_input"


class EmptyInput(InputError):
    code = "empty_input"


class NotCsv(InputError):
    code = "not_csv"


class DecodeFailed(InputError):
    code = "undecodable"


class TextColumnNotFound(InputError):
    code = "text_column_not_found"


class MalformedRow(InputError):
    code = "malformed_row"


class InvalidMetadata(InputError):
    code = "invalid_metadata"


class LimitExceeded(InputError):
    code = "limit_exceeded"


class TimeBudgetExceeded(InputError):
    """The file cannot finish within this invocation: permanent for this file and these
    settings (a retry would stop at the same place)."""

    code = "time_budget_exceeded"


class SourceGone(InputError):
    """The source object (or version) no longer exists: nothing to score."""

    code = "source_gone"


class Superseded(SentimentError):
    """The event's version of the source is no longer the current one: a newer upload
    replaced it (and its own event scores it). Skipped, logged, counted; nothing written."""

    code = "superseded"


class TransientError(SentimentError):
    """Throttling, 5xx, resets, timeouts after the client's own retries: raise, Lambda retries."""

    code = "transient"


class ConfigurationError(SentimentError):
    """Access denied, a missing bucket: raise so it alarms and lands in the failure queue."""

    code = "configuration"


def _bounded(value: object) -> object:
    if isinstance(value, str):
        return clip(value, _MESSAGE_CHARS)
    if isinstance(value, list):
        return clip_all(value)
    return value
