"""Typed settings, read from the environment and validated once, at cold start.

A missing or invalid value raises `SettingsError` naming the variable and the expected form.
`SPECS` is the single description of every variable: the README's settings table is checked
against it by a test, and the deploy template passes the same names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from csv_sentiment.engine import DEFAULT_ENGINE, ENGINES, MODEL
from csv_sentiment.errors import SettingsError
from csv_sentiment.memory import check_fits
from csv_sentiment.metrics import DEFAULT_NAMESPACE, DEFAULT_SERVICE

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Spec:
    env: str
    default: str | None  # None: required
    expected: str  # the expected form, quoted in error messages
    doc: str


SPECS: tuple[Spec, ...] = (
    Spec("OUTPUT_BUCKET", None, "an S3 bucket name",
         "Bucket that receives scored/, reports/ and errors/."),
    Spec("TEXT_COLUMN", "", "a column name, or empty to auto-detect",
         "Column to score. Empty: a column named text/review/comment/body/message/content/tweet "
         "(case-insensitive), else the only non-numeric column. Per file: object metadata "
         "`text-column` overrides it."),
    Spec("INPUT_PREFIX", "input/", "a key prefix such as 'input/' (may be empty)",
         "Prefix stripped from the source key to name the outputs."),
    Spec("SCORING_ENGINE", DEFAULT_ENGINE, "one of: " + ", ".join(sorted(ENGINES)),
         "`fast` (bit-identical port) or `reference` (vaderSentiment's own analyzer)."),
    Spec("SCORING_WORKERS", "1", "an integer from 1 to 16, or auto",
         "Worker processes that score while the main process reads and writes; 1 scores in "
         "process; `auto`: the vCPUs the memory size gives (one per 1,769 MB, at most 6)."),
    Spec("CHUNK_ROWS", "2000", "an integer from 1 to 100000",
         "Most rows scored per batch."),
    Spec("CHUNK_MB", "8", "an integer from 1 to 256",
         "Most memory the parsed rows of one batch may take (up to 4 bytes a character, ~56 "
         "a field): a batch ends at CHUNK_ROWS rows or this, whichever comes first."),
    Spec("MAX_TEXT_CHARS", "100000", "an integer from 1 to 10000000",
         "Longer texts are not scored: the row gets sentiment `rejected`; the file still "
         "succeeds."),
    Spec("MAX_CELL_CHARS", "2097152", "an integer from 1024 to 67108864",
         "Largest cell (any column) accepted; a larger one is a permanent error naming its line. "
         "A row (record) may take at most 8 x this many bytes to parse."),
    Spec("MAX_COLUMNS", "1000", "an integer from 1 to 100000", "Most columns accepted in a file."),
    Spec("MAX_INPUT_MB", "10240", "an integer from 1 to 1048576",
         "Most decompressed megabytes read from one file (bounds gzip bombs)."),
    Spec("PART_SIZE_MB", "8", "an integer from 5 to 512",
         "Multipart upload part size of the scored CSV."),
    Spec("TIME_MARGIN_SECONDS", "20", "an integer from 1 to 600",
         "Stop this long before the invocation's timeout, abort, and write an error report."),
    Spec("NEUTRALISE_FORMULAS", "true", "true or false",
         "Prefix `'` to non-numeric cells starting with = + - @ tab or CR (spreadsheet formula "
         "injection, OWASP)."),
    Spec("ENCODING_FALLBACK", "cp1252",
         "a text encoding name such as cp1252 or latin-1 (not hex, base64…), or 'none'",
         "Used when a file without BOM is not UTF-8 in its first 64 KiB; the report names it."),
    Spec("FANOUT_THRESHOLD_MB", "auto", "an integer from 1 to 10485760, or auto",
         "Files larger than this go to the fan-out state machine (byte ranges scored in "
         "parallel, see [Bigger files](#bigger-files-fan-out)); a file that runs out of time "
         "goes there too. `auto`: what one invocation scores in half the time it has, at the "
         "measured 9.6 MB/s per vCPU."),
    Spec("RANGE_MB", "64", "an integer from 1 to 4096",
         "Size of the byte ranges a fanned-out file is cut into (cut at record boundaries)."),
    Spec("FANOUT_MAX_CONCURRENCY", "100", "an integer from 1 to 10000",
         "Ranges (and `make backfill`'s groups) scored at once (the Distributed Map's "
         "MaxConcurrency); at most the reserved concurrency when one is set."),
    Spec("FANOUT_STATE_MACHINE_ARN", "", "a Step Functions state machine ARN, or empty",
         "Set by the template; empty turns the fan-out off (a big file then stops cleanly at "
         "the time margin)."),
    Spec("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE, "a service name",
         "Service name in logs and the `service` metric dimension."),
    Spec("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE, "a CloudWatch namespace",
         "CloudWatch metrics namespace."),
    Spec("POWERTOOLS_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR", "Log level."),
)  # fmt: skip

_SPEC_BY_ENV = {s.env: s for s in SPECS}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_NOT_CHARSETS = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}


@dataclass(frozen=True)
class Settings:
    output_bucket: str
    text_column: str
    input_prefix: str
    scoring_engine: str
    scoring_workers: int
    chunk_rows: int
    chunk_bytes: int
    max_text_chars: int
    max_cell_chars: int
    max_columns: int
    max_input_bytes: int
    part_size_bytes: int
    time_margin_ms: int
    neutralise_formulas: bool
    encoding_fallback: str | None
    fanout_threshold_mb: int | None  # None: auto
    range_bytes: int
    fanout_max_concurrency: int
    fanout_state_machine_arn: str
    service_name: str
    metrics_namespace: str
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        r = _Reader(env)
        settings = cls(
            output_bucket=r.bucket("OUTPUT_BUCKET"),
            text_column=r.text("TEXT_COLUMN").strip(),
            input_prefix=r.text("INPUT_PREFIX"),
            scoring_engine=r.choice("SCORING_ENGINE", ENGINES),
            scoring_workers=r.workers("SCORING_WORKERS", env),
            chunk_rows=r.integer("CHUNK_ROWS", 1, 100_000),
            chunk_bytes=r.integer("CHUNK_MB", 1, 256) * _MIB,
            max_text_chars=r.integer("MAX_TEXT_CHARS", 1, 10_000_000),
            max_cell_chars=r.integer("MAX_CELL_CHARS", 1024, 64 * _MIB),
            max_columns=r.integer("MAX_COLUMNS", 1, 100_000),
            max_input_bytes=r.integer("MAX_INPUT_MB", 1, 1024 * 1024) * _MIB,
            part_size_bytes=r.integer("PART_SIZE_MB", 5, 512) * _MIB,
            time_margin_ms=r.integer("TIME_MARGIN_SECONDS", 1, 600) * 1000,
            neutralise_formulas=r.boolean("NEUTRALISE_FORMULAS"),
            encoding_fallback=r.encoding("ENCODING_FALLBACK"),
            fanout_threshold_mb=r.auto_integer("FANOUT_THRESHOLD_MB", 1, 10 * _MIB),
            range_bytes=r.integer("RANGE_MB", 1, 4096) * _MIB,
            fanout_max_concurrency=r.integer("FANOUT_MAX_CONCURRENCY", 1, 10_000),
            fanout_state_machine_arn=r.state_machine_arn("FANOUT_STATE_MACHINE_ARN"),
            service_name=r.text("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE,
            metrics_namespace=r.text("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
            log_level=r.choice("POWERTOOLS_LOG_LEVEL", _LOG_LEVELS, upper=True),
        )  # fmt: skip
        check_fits(settings, env)
        return settings

    @property
    def record_limit_bytes(self) -> int:
        """Most memory one parsed record may take: a cell of MAX_CELL_CHARS 4-byte characters
        twice over, plus MAX_COLUMNS fields (csvio.RecordBudget counts it)."""
        return 8 * self.max_cell_chars + 56 * self.max_columns

    def scoring_config(self, text_column_setting: str) -> dict[str, object]:
        """What decides the output bytes: a source already scored with the same ETag and this
        configuration is a duplicate delivery."""
        return {
            "model": MODEL,
            "engine": self.scoring_engine,
            "text_column_setting": text_column_setting,
            "neutralise_formulas": self.neutralise_formulas,
            "max_text_chars": self.max_text_chars,
            "encoding_fallback": self.encoding_fallback,
        }


class _Reader:
    """Reads one variable at a time, falling back to its documented default."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def _raw(self, name: str) -> str:
        spec = _SPEC_BY_ENV[name]
        value = self._env.get(name)
        if value is None or (value.strip() == "" and spec.default is not None):
            if spec.default is None:
                raise SettingsError(
                    f"{name} is not set; expected {spec.expected}", expected=spec.expected,
                    variable=name,
                )  # fmt: skip
            return spec.default
        return value

    def _fail(self, name: str, value: str) -> SettingsError:
        spec = _SPEC_BY_ENV[name]
        return SettingsError(
            f"{name}={value!r} is invalid; expected {spec.expected}",
            expected=spec.expected,
            variable=name,
        )

    def text(self, name: str) -> str:
        return self._raw(name)

    def bucket(self, name: str) -> str:
        value = self._raw(name).strip()
        ok = 3 <= len(value) <= 63 and all(c.islower() or c.isdigit() or c in ".-" for c in value)
        if not ok:
            raise self._fail(name, value)
        return value

    def integer(self, name: str, low: int, high: int) -> int:
        value = self._raw(name).strip()
        try:
            number = int(value)
        except ValueError:
            raise self._fail(name, value) from None
        if not low <= number <= high:
            raise self._fail(name, value)
        return number

    def workers(self, name: str, env: Mapping[str, str]) -> int:
        value = self._raw(name).strip().lower()
        if value == "auto":
            from csv_sentiment.workers import auto_workers

            return auto_workers(env)
        return self.integer(name, 1, 16)

    def auto_integer(self, name: str, low: int, high: int) -> int | None:
        if self._raw(name).strip().lower() == "auto":
            return None
        return self.integer(name, low, high)

    def state_machine_arn(self, name: str) -> str:
        value = self._raw(name).strip()
        if value and not re.fullmatch(
            r"arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]{1,80}", value
        ):
            raise self._fail(name, value)
        return value

    def boolean(self, name: str) -> bool:
        value = self._raw(name).strip().lower()
        if value in ("true", "1", "yes", "on"):
            return True
        if value in ("false", "0", "no", "off"):
            return False
        raise self._fail(name, value)

    def choice(self, name: str, choices, upper: bool = False) -> str:
        value = self._raw(name).strip()
        value = value.upper() if upper else value.lower()
        if value not in choices:
            raise self._fail(name, value)
        return value

    def encoding(self, name: str) -> str | None:
        import codecs

        value = self._raw(name).strip()
        if value.lower() in ("none", "off", "false"):
            return None
        try:
            info = codecs.lookup(value)
        except LookupError:
            raise self._fail(name, value) from None
        # hex, base64, rot13, zlib… are codecs too, but bytes-to-bytes or str-to-str: they
        # would pass here and fail on the first file; the escape codecs would rewrite texts.
        if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
            raise self._fail(name, value)
        return info.name
