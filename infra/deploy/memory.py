"""MEMORY must hold the scoring function's worst case, checked before any stack changes.

At cold start the function refuses settings whose byte bounds add up to more than its memory
size (csv_sentiment/memory.py), so a MEMORY below that would deploy a function that fails every
invocation. The figures are the function's own: memory_probe.py runs csv_sentiment's settings
and memory modules in a Python without site-packages, so the deployer neither copies them nor
imports the function's third-party packages (nor keeps its modules in this process). The app
template's MemorySize MinValue is a floor for the default settings; it applies too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.choices import WORKERS
from infra.deploy import templates
from infra.deploy.config import Config
from infra.deploy.errors import DeployError

PROBE = Path(__file__).with_name("memory_probe.py")


def worst_case(cfg: Config, low: int, high: int) -> dict[str, Any]:
    """The function's worst case at MEMORY for the deployer's SCORING_WORKERS, and the sizes
    from low to high MB that fit (see the probe)."""
    args = [cfg.function_dir, cfg.memory, cfg.scoring_workers, WORKERS[1], low, high]
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(PROBE), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise DeployError(
            f"cannot compute the function's memory needs from "
            f"{cfg.function_dir}/csv_sentiment/memory.py: {done.stderr.strip()[-2000:]}",
            "memory.py and the modules it imports must load with the standard library alone",
        )
    return json.loads(done.stdout)


def memory_range() -> tuple[int, int]:
    """The app template's MemorySize MinValue and MaxValue."""
    param = templates.load("app")[1]["Parameters"]["MemorySize"]
    return int(param["MinValue"]), int(param["MaxValue"])


def check(cfg: Config, say: Callable[[str], None]) -> None:
    floor, high = memory_range()
    found = worst_case(cfg, floor, high)
    workers = cfg.scoring_workers
    if workers == "auto":
        workers = f"auto, {found['workers']} at MEMORY={cfg.memory}"
    needed = max(floor, found["needed"])
    if cfg.memory >= needed:
        worst = f"worst case {found['needed']} MB of MEMORY={cfg.memory}"
        say(f"memory:   {worst} (SCORING_WORKERS={workers}; csv_sentiment/memory.py)")
        return
    parts = ", ".join(f"{name} {mb:.0f}" for name, mb in found["parts"].items() if mb)
    if found["needed"] > cfg.memory:
        why = (
            f"MEMORY={cfg.memory} cannot hold the scoring function's worst case of "
            f"{found['needed']} MB at SCORING_WORKERS={workers} ({parts}; "
            "csv_sentiment/memory.py): it would refuse its settings at every cold start"
        )
    else:
        why = (
            f"MEMORY={cfg.memory} is below {floor} MB, the smallest memory size the app "
            "template allows (MemorySize MinValue: the function's worst case at its default "
            "settings, rounded up)"
        )
    raise DeployError(why, _fix(cfg, found, floor))


def _fix(cfg: Config, found: dict[str, Any], floor: int) -> str:
    """MEMORY sizes that fit (with auto the need grows with the size, hence "or more" only
    for a fixed SCORING_WORKERS), and the most workers that fit the MEMORY given."""
    options = []
    if found["fits_from"] is not None:
        more = "" if cfg.scoring_workers == "auto" else " or more"
        options.append(f"MEMORY={max(floor, found['fits_from'])}{more}")
    elif found["fits_below"] is not None:
        options.append(f"MEMORY={found['fits_below']}")
    if cfg.memory >= floor and found["most_workers"]:
        options.append(f"SCORING_WORKERS={found['most_workers']}")
    if not options:
        return "no MEMORY fits these settings: lower the function's byte bounds (README, Limits)"
    return "deploy with " + " or ".join(options)
