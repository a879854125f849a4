"""Choices decided once for the whole project and read by the layer builder
(infra/layerbuild/config.py), the deployer (infra/deploy/config.py) and the local tooling; the
templates' AllowedValues are proven to agree by tests/deploy/test_choices.py.

The function's own choices (engine names, the workers range, log levels) are decided in its
settings (functions/sentiment/csv_sentiment); the deployer's copies below let `make deploy`
reject a bad value before anything is deployed, and the same test proves they agree.
"""

from __future__ import annotations

# Lambda's Python runtimes on Amazon Linux 2023 (glibc 2.34), with their interpreter version.
# Older runtimes (Amazon Linux 2, glibc 2.26) are out of scope.
RUNTIMES: dict[str, tuple[int, int]] = {
    "python3.12": (3, 12),
    "python3.13": (3, 13),
    "python3.14": (3, 14),
}
DEFAULT_RUNTIME = "python3.12"
# Lambda's architecture names -> the machine name used in wheel tags and by uname.
ARCHES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}
DEFAULT_ARCH = "x86_64"
MAX_LAYERS = 5  # Lambda's limit of layers per function

# Copies of the function's choices (csv_sentiment.engine.ENGINES, settings' SCORING_WORKERS
# range and log levels), proven equal by tests/deploy/test_choices.py.
ENGINES = ("fast", "reference")
DEFAULT_ENGINE = "fast"
WORKERS = (1, 16)  # SCORING_WORKERS: an integer in this range, or "auto"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
