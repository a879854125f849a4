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


class SentimentError(Exception):
    """Base class: `code` is stable and goes into reports, logs and metrics."""

    code = "error"

    def __init__(self, message: str, *, expected: str | None = None, **details: object):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.details = details

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.expected:
            out["expected"] = self.expected
        out.update(self.details)
        return out


class SettingsError(SentimentError):
    """A missing or invalid setting: fails the cold start, naming the variable."""

    code = "invalid_setting"


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


class LimitExceeded(InputError):
    code = "limit_exceeded"


class TimeBudgetExceeded(InputError):
    """The file cannot finish within this invocation: permanent for this file and these
    settings (a retry would stop at the same place)."""

    code = "time_budget_exceeded"


class SourceGone(InputError):
    """The source object (or version) no longer exists: nothing to score."""

    code = "source_gone"


class TransientError(SentimentError):
    """Throttling, 5xx, resets, timeouts after the client's own retries: raise, Lambda retries."""

    code = "transient"


class ConfigurationError(SentimentError):
    """Access denied, a missing bucket: raise so it alarms and lands in the failure queue."""

    code = "configuration"
