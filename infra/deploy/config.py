"""Deployer settings, read from the environment once and validated (typed, frozen)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.choices import (
    ARCHES,
    DEFAULT_ARCH,
    DEFAULT_ENGINE,
    DEFAULT_RUNTIME,
    ENGINES,
    LOG_LEVELS,
    RUNTIMES,
    WORKERS,
)
from infra.deploy.errors import DeployError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "infra" / "templates"
# Bucket names are "<STACK>-app-out-<account>-<region>" and must fit in 63 characters.
_STACK_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_LAYER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# ANALYTICS_TEXT's form; app.yaml's AnalyticsText AllowedPattern is the same (a test).
ANALYTICS_TEXT_PATTERN = r"^(full|none|[1-9][0-9]{0,5}|1000000)$"
_LAYER_ARN_RE = re.compile(r"^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")


@dataclass(frozen=True)
class Config:
    stack: str = "sentiment"
    runtime: str = DEFAULT_RUNTIME
    arch: str = DEFAULT_ARCH
    memory: int = 1024
    timeout: int = 900
    text_column: str = ""
    scoring_engine: str = DEFAULT_ENGINE
    scoring_workers: str = "1"
    analytics: str = "on"
    analytics_text: str = "full"
    alarm_email: str = ""
    concurrency: int = 0
    noncurrent_days: int = 30
    log_level: str = "INFO"
    fanout_threshold_mb: str = "auto"  # FANOUT_THRESHOLD_MB, RANGE_MB, FANOUT_MAX_CONCURRENCY:
    range_mb: int = 64  # the function's settings of the same names (csv_sentiment/settings.py)
    fanout_max_concurrency: int = 100
    pins: dict[str, str] = field(default_factory=dict)  # layer name -> version number or ARN
    empty_buckets: bool = False
    build_dir: Path = ROOT / "build"
    function_dir: Path = ROOT / "functions" / "sentiment"
    poll_seconds: float = 2.0

    @property
    def functions_dir(self) -> Path:
        """Every function folder lives beside the scoring function's (functions/<name>/)."""
        return self.function_dir.parent

    @property
    def bootstrap_stack(self) -> str:
        return f"{self.stack}-bootstrap"

    @property
    def app_stack(self) -> str:
        return f"{self.stack}-app"

    def layer_stack(self, name: str) -> str:
        return f"{self.stack}-layer-{name}"

    def layer_name(self, name: str) -> str:
        """The Lambda layer's own name (stable across its versions)."""
        return f"{self.stack}-{name}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Every variable validated; a bad one is a DeployError naming it and the expected form
        (docs/deploy.md lists them; a test checks the list)."""
        r = EnvReader(os.environ if environ is None else environ)
        d = cls()  # the defaults, declared once above
        concurrency = r.integer("CONCURRENCY", d.concurrency, 0, 100_000)
        return cls(
            stack=r.stack("STACK", d.stack),
            runtime=r.choice("RUNTIME", d.runtime, tuple(RUNTIMES)),
            arch=r.choice("ARCH", d.arch, tuple(ARCHES)),
            memory=r.integer("MEMORY", d.memory, 128, 10240),
            timeout=r.integer("TIMEOUT", d.timeout, 30, 900),
            text_column=r.text("TEXT_COLUMN"),
            scoring_engine=r.choice("SCORING_ENGINE", d.scoring_engine, ENGINES, lower=True),
            scoring_workers=r.workers("SCORING_WORKERS", d.scoring_workers),
            analytics=r.choice("ANALYTICS", d.analytics, ("on", "off"), lower=True),
            analytics_text=_analytics_text(r.text("ANALYTICS_TEXT").lower() or d.analytics_text),
            alarm_email=r.email("ALARM_EMAIL"),
            concurrency=concurrency,
            fanout_threshold_mb=r.auto_integer("FANOUT_THRESHOLD_MB", 1, 10_485_760),
            range_mb=r.integer("RANGE_MB", d.range_mb, 1, 4096),
            fanout_max_concurrency=_fanout_max_concurrency(r, concurrency),
            noncurrent_days=r.integer("NONCURRENT_DAYS", d.noncurrent_days, 1, 3650),
            log_level=r.choice("LOG_LEVEL", d.log_level, LOG_LEVELS, upper=True),
            pins=parse_pins(r.text("PIN_LAYERS")),
            empty_buckets=r.boolean("EMPTY_BUCKETS", d.empty_buckets),
            build_dir=r.path("BUILD_DIR", d.build_dir),
            function_dir=r.path("FUNCTION_DIR", d.function_dir),
            poll_seconds=r.seconds("DEPLOY_POLL_SECONDS", d.poll_seconds, 0.01, 60.0),
        )


class EnvReader:
    """Reads one variable at a time; empty means the default (as `make VAR=` passes it). A bad
    value is a DeployError naming the variable and the expected form (the local tooling's
    variables are read with it too)."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def text(self, name: str) -> str:
        return self._env.get(name, "").strip()

    @staticmethod
    def _fail(name: str, value: str, expected: str, example: str = "") -> DeployError:
        return DeployError(f"{name}={value!r} is invalid; expected {expected}", example)

    def stack(self, name: str, default: str) -> str:
        value = self.text(name) or default
        if not _STACK_RE.match(value):
            raise self._fail(
                name,
                value,
                "1-24 characters of a-z, 0-9 and '-', starting with a letter (it prefixes "
                "stack and bucket names)",
                f"set {name} to a short lowercase name, e.g. {name}=sentiment",
            )
        return value

    def choice(
        self, name: str, default: str, choices: tuple[str, ...], upper=False, lower=False
    ) -> str:
        given = self.text(name) or default
        value = given.upper() if upper else given.lower() if lower else given
        if value not in choices:
            raise self._fail(name, given, f"one of: {', '.join(choices)}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        expected = f"an integer from {low} to {high}"
        return int(self._number(name, default, low, high, int, expected))

    def seconds(self, name: str, default: float, low: float, high: float) -> float:
        expected = f"a number of seconds from {low:g} to {high:g}"
        return self._number(name, default, low, high, float, expected)

    def _number(
        self,
        name: str,
        default: float,
        low: float,
        high: float,
        parse: Callable[[str], float],
        expected: str,
    ) -> float:
        value = self.text(name)
        if not value:
            return default
        try:
            number = parse(value)
        except ValueError:
            number = math.nan
        if not low <= number <= high:  # also false for nan
            raise self._fail(name, value, expected)
        return number

    def workers(self, name: str, default: str) -> str:
        if self.text(name).lower() == "auto":
            return "auto"
        low, high = WORKERS
        return str(self.integer(name, int(default), low, high))

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in ("yes", "true", "1"):
            return True
        if value in ("no", "false", "0"):
            return False
        raise self._fail(name, value, "yes or no", f"e.g. {name}=yes")

    def email(self, name: str) -> str:
        value = self.text(name)
        if value and not re.match(r"^[^@\s]+@[^@\s]+$", value):
            raise self._fail(name, value, "an e-mail address, or empty for no alarm e-mails")
        return value

    def auto_integer(self, name: str, low: int, high: int) -> str:
        if self.text(name).lower() in ("", "auto"):
            return "auto"
        return str(self.integer(name, low, low, high))

    def path(self, name: str, default: Path) -> Path:
        return Path(self.text(name)) if self.text(name) else default


def _analytics_text(value: str) -> str:
    if not re.match(ANALYTICS_TEXT_PATTERN, value):
        expected = "full, none, or a number of characters from 1 to 1000000"
        raise EnvReader._fail("ANALYTICS_TEXT", value, expected, "e.g. ANALYTICS_TEXT=none")
    return value


def _fanout_max_concurrency(r: EnvReader, concurrency: int) -> int:
    """Unset, it follows a reserved concurrency down; set above it, it is an error (the ranges
    would be throttled)."""
    default = min(100, concurrency) if concurrency else 100
    value = r.integer("FANOUT_MAX_CONCURRENCY", default, 1, 10_000)
    if concurrency and value > concurrency:
        raise DeployError(
            f"FANOUT_MAX_CONCURRENCY={value} is above CONCURRENCY={concurrency}, the "
            "function's reserved concurrency: the ranges would be throttled",
            f"set FANOUT_MAX_CONCURRENCY to at most {concurrency}",
        )
    return value


def parse_pins(text: str) -> dict[str, str]:
    """`PIN_LAYERS="pandas=3,vader=arn:aws:lambda:…:layer:sentiment-vader:1"` → {name: pin}."""
    pins: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, pin = (s.strip() for s in item.partition("="))
        ok = sep and _LAYER_NAME_RE.match(name) and (pin.isdigit() or _LAYER_ARN_RE.match(pin))
        if not ok or (pin.isdigit() and int(pin) < 1):
            raise DeployError(
                f"PIN_LAYERS item {item!r} is invalid; expected <layer>=<version number> or "
                "<layer>=<layer version ARN>",
                'e.g. PIN_LAYERS="pandas=3" or PIN_LAYERS="pandas=3,vader=1"',
            )
        if name in pins:
            raise DeployError(f"PIN_LAYERS names layer {name!r} twice")
        pins[name] = pin
    return pins
