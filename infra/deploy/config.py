"""Deployer settings, read from the environment once and validated (typed, frozen)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.deploy.errors import DeployError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "infra" / "templates"
RUNTIMES = ("python3.12", "python3.13")
ARCHES = ("x86_64", "arm64")
# Bucket names are "<STACK>-app-out-<account>-<region>" and must fit in 63 characters.
_STACK_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_LAYER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LAYER_ARN_RE = re.compile(r"^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")


@dataclass(frozen=True)
class Config:
    stack: str = "sentiment"
    runtime: str = "python3.12"
    arch: str = "x86_64"
    memory: int = 1024
    timeout: int = 900
    text_column: str = ""
    scoring_engine: str = "fast"
    scoring_workers: str = "1"
    alarm_email: str = ""
    concurrency: int = 0
    noncurrent_days: int = 30
    log_level: str = "INFO"
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
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            value = env.get(name, "").strip()
            return value or default

        stack = get("STACK", "sentiment")
        if not _STACK_RE.match(stack):
            raise DeployError(
                f"STACK={stack!r} is invalid; expected 1-24 characters of a-z, 0-9 and '-', "
                "starting with a letter (it prefixes stack and bucket names)",
                "set STACK to a short lowercase name, e.g. STACK=sentiment",
            )
        runtime = _choice("RUNTIME", get("RUNTIME", "python3.12"), RUNTIMES)
        arch = _choice("ARCH", get("ARCH", "x86_64"), ARCHES)
        log_level = _choice(
            "LOG_LEVEL", get("LOG_LEVEL", "INFO").upper(), ("DEBUG", "INFO", "WARNING", "ERROR")
        )
        email = get("ALARM_EMAIL", "")
        if email and not re.match(r"^[^@\s]+@[^@\s]+$", email):
            raise DeployError(f"ALARM_EMAIL={email!r} is not an e-mail address")
        return cls(
            stack=stack,
            runtime=runtime,
            arch=arch,
            memory=_integer("MEMORY", get("MEMORY", "1024"), 128, 10240),
            timeout=_integer("TIMEOUT", get("TIMEOUT", "900"), 30, 900),
            text_column=env.get("TEXT_COLUMN", "").strip(),
            scoring_engine=_choice(
                "SCORING_ENGINE", get("SCORING_ENGINE", "fast"), ("fast", "reference")
            ),
            scoring_workers=_workers(get("SCORING_WORKERS", "1")),
            alarm_email=email,
            concurrency=_integer("CONCURRENCY", get("CONCURRENCY", "0"), 0, 100_000),
            noncurrent_days=_integer("NONCURRENT_DAYS", get("NONCURRENT_DAYS", "30"), 1, 3650),
            log_level=log_level,
            pins=parse_pins(env.get("PIN_LAYERS", "")),
            empty_buckets=get("EMPTY_BUCKETS", "no").lower() in ("yes", "true", "1"),
            build_dir=Path(get("BUILD_DIR", str(ROOT / "build"))),
            function_dir=Path(get("FUNCTION_DIR", str(ROOT / "functions" / "sentiment"))),
            poll_seconds=float(get("DEPLOY_POLL_SECONDS", "2")),
        )


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DeployError(f"{name}={value!r} is invalid; expected one of: {', '.join(choices)}")
    return value


def _workers(value: str) -> str:
    if value == "auto":
        return value
    return str(_integer("SCORING_WORKERS", value, 1, 16))


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


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DeployError(f"{name}={value!r} is invalid; expected one of: {', '.join(choices)}")
    return value


def _integer(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise DeployError(f"{name}={value!r} is invalid; expected an integer from {low} to {high}")
    return number
