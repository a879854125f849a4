"""The most memory the settings' byte bounds let one invocation take, checked at cold start.

Every buffer that grows with the input is bounded in bytes: the read-ahead, one decoded chunk,
one record (Settings.record_limit_bytes, counted while it is parsed), the batches in flight
(CHUNK_MB, plus the record that crosses it), and the output parts (PART_SIZE_MB). What they can
add up to at worst is compared with the function's memory size at cold start, so settings that
could not fit fail there, naming the variables, instead of a file being killed for memory and
retried with no error report. The fixed figures are measured (`make bench`, hostile inputs).

Only the standard library and the package's own small modules are imported here (s3io takes
its buffer sizes from this module, not the other way round): `make deploy` runs this arithmetic
in an interpreter without site-packages (infra/deploy/memory.py) to refuse a MEMORY that the
function would refuse at every cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from csv_sentiment.errors import SettingsError

if TYPE_CHECKING:
    from csv_sentiment.settings import Settings

_MIB = 1024 * 1024
READ_CHUNK = 1024 * 1024  # s3io reads the source in chunks of this many bytes
UPLOADS_IN_FLIGHT = 3  # s3io's parts uploading at once: one slow part does not stall scoring
BASE_MB = 130  # interpreter, boto3, Powertools, the engine with its word memos full
WORKER_MB = 90  # each worker process (SCORING_WORKERS > 1): interpreter and engine
READ_BYTES = 10 * READ_CHUNK + 4 * READ_CHUNK  # read-ahead and inflate; one decoded chunk
# A batch's parsed rows, then its output rows as text, joined and encoded: up to 4 times the
# parsed rows' bytes when every character takes 4 bytes (measured with emoji cells).
BATCH_COPIES = 4


def peak_mb(settings: Settings) -> dict[str, float]:
    """The worst case, part by part, in MB."""
    batch = settings.chunk_bytes + settings.record_limit_bytes
    in_flight = 2 * settings.scoring_workers if settings.scoring_workers > 1 else 1
    workers = settings.scoring_workers if settings.scoring_workers > 1 else 0
    parts = {
        "process": BASE_MB,
        "reading": READ_BYTES / _MIB,
        "batches (CHUNK_MB, MAX_CELL_CHARS)": BATCH_COPIES * batch * in_flight / _MIB,
        "csv field buffer (MAX_CELL_CHARS)": 4 * settings.max_cell_chars / _MIB,
        "output parts (PART_SIZE_MB)": (UPLOADS_IN_FLIGHT + 2) * settings.part_size_bytes / _MIB,
        "worker processes (SCORING_WORKERS)": workers * WORKER_MB + workers * batch * 2 / _MIB,
    }
    return {name: round(mb, 1) for name, mb in parts.items()}


def check_fits(settings: Settings, environ: Mapping[str, str]) -> None:
    """Refuse, at cold start, settings whose bounds add up to more than the memory size."""
    memory = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if not memory.isdigit():
        return  # not in Lambda (tests, benchmarks): nothing to compare with
    parts = peak_mb(settings)
    total = sum(parts.values())
    if total <= int(memory):
        return
    detail = ", ".join(f"{name} {mb:.0f}" for name, mb in parts.items() if mb)
    raise SettingsError(
        f"the settings' memory bounds add up to {total:.0f} MB at worst ({detail}), more than "
        f"the function's {memory} MB",
        expected="lower CHUNK_MB, MAX_CELL_CHARS, PART_SIZE_MB or SCORING_WORKERS, or a larger "
        "memory size",
        variable="CHUNK_MB, MAX_CELL_CHARS, PART_SIZE_MB, SCORING_WORKERS",
    )
