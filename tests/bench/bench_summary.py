"""What the report's insights fields cost: csv_sentiment/summary.py against the scoring it rides on.

Prints, from one run on this machine: the time of the fast engine over the corpus in batches
of CHUNK_ROWS, the time of Summary.add over the same batches and scores, and the ratio (the
share of a scoring run the insights fields add; the rest of a run, reading and writing, is
not counted, so the real share is smaller). Both are timed batch by batch, alternately, so
that both see the same load on a shared machine.

    .venv/bin/python tests/bench/bench_summary.py [--copies 2]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "functions" / "sentiment"))
CORPUS = ROOT.parent / "shared" / "data" / "vader-icwsm2014" / "corpus.csv"
CHUNK_ROWS = 2000  # the scoring function's default batch


def main() -> None:
    from csv_sentiment.engine import load_engine
    from csv_sentiment.summary import Summary

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args()
    with CORPUS.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    texts = [f"{t} {c}" for c in range(args.copies) for t in texts]
    engine = load_engine("fast")
    summary = Summary()
    scoring = adding = 0.0
    line = 1
    for start in range(0, len(texts), CHUNK_ROWS):
        batch = texts[start : start + CHUNK_ROWS]
        began = time.perf_counter()
        scores = engine.score(batch)
        scoring += time.perf_counter() - began
        ends = list(range(line + 1, line + 1 + len(batch)))
        line = ends[-1]
        began = time.perf_counter()
        summary.add([""] * len(batch), batch, scores, ends)
        adding += time.perf_counter() - began
    assert sum(summary.histogram()["counts"]) == len(texts)
    print(f"corpus x{args.copies}: {len(texts):,} texts in batches of {CHUNK_ROWS}")
    print(f"  fast engine     {scoring:8.3f} s  ({len(texts) / scoring:,.0f} rows/s)")
    print(f"  Summary.add     {adding:8.3f} s  ({len(texts) / adding:,.0f} rows/s)")
    print(f"  ratio           {adding / scoring:8.2%} of the scoring time")


if __name__ == "__main__":
    main()
