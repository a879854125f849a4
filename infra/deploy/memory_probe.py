"""The function's own worst case (csv_sentiment/memory.py) for the settings `make deploy`
passes, printed as JSON. Run by infra/deploy/memory.py as
`python -I -S memory_probe.py FUNCTION_DIR MEMORY WORKERS MAX_WORKERS LOWEST_MB HIGHEST_MB`.

An interpreter without site-packages: importing one of the function's third-party packages
would fail here, so the deployer can only ever run the function's standard-library arithmetic.
Only the standard library is imported besides the function's package.
"""

from __future__ import annotations

import functools
import json
import math
import sys


def main(
    function_dir: str, memory: int, workers_setting: str, max_workers: int, low: int, high: int
) -> dict[str, object]:
    sys.path.insert(0, function_dir)
    from csv_sentiment.memory import peak_mb
    from csv_sentiment.settings import Settings
    from csv_sentiment.workers import lambda_vcpus

    # The app template sets no other byte bound: the function's defaults (settings.SPECS) apply.
    def parts(workers: int) -> dict[str, float]:
        env = {"OUTPUT_BUCKET": "memory-probe", "SCORING_WORKERS": str(workers)}
        return peak_mb(Settings.from_env(env))

    @functools.cache
    def needed(workers: int) -> int:
        return math.ceil(sum(parts(workers).values()))

    def workers_at(mb: int) -> int:
        return lambda_vcpus(mb) if workers_setting == "auto" else int(workers_setting)

    workers = workers_at(memory)
    fitting = [n for n in range(1, max_workers + 1) if needed(n) <= memory]
    # With auto the worker count grows with the memory size: the nearest sizes the template
    # allows that fit, at or above MEMORY and below it, are searched for (one sum per count).
    sizes = range(low, high + 1)
    fits_from = next((mb for mb in sizes if mb >= memory and needed(workers_at(mb)) <= mb), None)
    below = (mb for mb in reversed(sizes) if mb < memory and needed(workers_at(mb)) <= mb)
    return {
        "workers": workers,
        "parts": parts(workers),
        "needed": needed(workers),
        "most_workers": max(fitting, default=0),
        "fits_from": fits_from,
        "fits_below": next(below, None),
    }


if __name__ == "__main__":
    function_dir, memory, workers, *numbers = sys.argv[1:]
    print(json.dumps(main(function_dir, int(memory), workers, *map(int, numbers))))
