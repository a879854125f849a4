"""The scoring engines alone: reference (vaderSentiment's `polarity_scores`) vs fast.

Prints, from one run on this machine and this Python: rows/s of each engine on the corpus x10
(each copy's texts made unique with a trailing number token, so no cache of whole texts can
win), the ratio, the number of differing results (must be 0), then the long-text timings:
"the good movie was bad " repeated (upstream issue #110). The reference is quadratic there, so
it is timed on shorter repeats only (the full 6,900 repeats would take it ~40 s); its time at
6,900 is extrapolated from the longest one.

    .venv/bin/python tests/bench/bench_engine.py [--copies 10] [--rounds 2]
    .venv/bin/python tests/bench/bench_engine.py --against main [--rounds 5]

`--against REV` compares instead the fast engine of this work tree with the one committed at
REV (its vader_fast.py, loaded from `git show`), for a change that must not slow it down: the
two alternate slice by slice in each round, and the median over the rounds of new/old rows/s
is the figure (the issue's rule: old and new in one session, median of 5). Its rows/s are per
second of the process's CPU time, so time spent waiting for a core does not count.

On a shared machine the load changes within seconds, so the engines alternate on slices of
1,000 texts (who goes first alternates too) and each engine's time is the sum over its slices:
both see the same conditions. The ratio is over all `--rounds`; each round starts the fast
engine from a fresh instance (an empty token memo, as in a new container).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "functions" / "sentiment"))
CORPUS = ROOT.parent / "shared" / "data" / "vader-icwsm2014" / "corpus.csv"
LONG_UNIT = "the good movie was bad "
LONG_REPEATS = 6_900  # 158 k characters
REFERENCE_REPEATS = (345, 690, 1_380)  # 1/20, 1/10, 1/5 of the long cell
CHUNK = 1_000  # texts per timed slice; the engines alternate slice by slice


def corpus_copies(copies: int) -> list[str]:
    with CORPUS.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return [f"{t} {c}" for c in range(copies) for t in texts]


def timed(fn, *args, clock=time.perf_counter) -> tuple[float, object]:
    start = clock()
    out = fn(*args)
    return clock() - start, out


def alternate(engines: dict, texts: list[str], clock=time.perf_counter):
    """Seconds each engine spent on `texts`, taking turns slice by slice (who goes first
    alternates too), and how many results differ between the two."""
    spent = dict.fromkeys(engines, 0.0)
    differ = 0
    order = list(engines.items())
    for k, start in enumerate(range(0, len(texts), CHUNK)):
        part = texts[start : start + CHUNK]
        out = []
        for name, engine in order if k % 2 else order[::-1]:
            dt, scores = timed(engine.score, part, clock=clock)
            spent[name] += dt
            out.append(scores)
        differ += sum(a != b or repr(a) != repr(b) for a, b in zip(*out, strict=True))
    return spent, differ


def fast_engine_at(rev: str) -> type:
    """The FastScorer class of vader_fast.py as committed at `rev`."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:functions/sentiment/csv_sentiment/vader_fast.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="bench_engine_")) / "vader_fast_base.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("vader_fast_base", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.FastScorer


def against(rev: str, texts: list[str], rounds: int) -> None:
    from csv_sentiment.vader_fast import FastScorer

    base = fast_engine_at(rev)
    ratios = []
    differ = 0
    for r in range(rounds):
        # Fresh instances each round: empty token memos, as in a new container. CPU time, not
        # wall time: on a shared machine, time spent waiting for a core is noise here.
        engines = {"old": base(), "new": FastScorer()}
        spent, d = alternate(engines, texts, clock=time.process_time)
        differ += d
        ratios.append(spent["old"] / spent["new"])
        print(
            f"  round {r + 1}: old {len(texts) / spent['old']:9,.0f} rows/s, "
            f"new {len(texts) / spent['new']:9,.0f} rows/s, new/old {ratios[-1]:.3f}"
        )
    print(f"median new/old rows/s over {rounds} rounds: {statistics.median(ratios):.3f}")
    print(f"differing results: {differ}")


def main() -> None:
    from csv_sentiment.engine import MODEL, load_engine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=None, help="default 2, or 5 with --against")
    parser.add_argument("--against", metavar="REV", help="compare the fast engine with REV's")
    args = parser.parse_args()

    texts = corpus_copies(args.copies)
    print(
        f"Python {platform.python_version()}, {MODEL}, corpus x{args.copies}: {len(texts):,} texts"
    )
    if args.against:
        print(f"fast engine: this work tree (new) vs {args.against} (old)")
        against(args.against, texts, args.rounds or 5)
        return
    args.rounds = args.rounds or 2

    reference = load_engine("reference")
    totals = {"reference": 0.0, "fast": 0.0}
    differ = 0
    for r in range(args.rounds):
        fast = load_engine("fast")  # a fresh instance: an empty token memo, as on a cold start
        spent, d = alternate({"reference": reference, "fast": fast}, texts)
        differ += d
        for name in totals:
            totals[name] += spent[name]
        ratio = spent["reference"] / spent["fast"]
        print(
            f"  round {r + 1}: reference {spent['reference']:6.2f} s, "
            f"fast {spent['fast']:5.2f} s, {ratio:.2f}x"
        )

    print(f"\n{'engine':12} {'rows/s':>10} {'vs reference':>13}")
    for name in ("reference", "fast"):
        rate = len(texts) * args.rounds / totals[name]
        print(f"{name:12} {rate:>10,.0f} {totals['reference'] / totals[name]:>12.2f}x")
    print(f"differing results: {differ}")

    print(f'\nlong text: "{LONG_UNIT.strip()} " x N, one cell')
    print(f"{'N':>6} {'chars':>9} {'reference ms':>13} {'fast ms':>9}")
    fast = load_engine("fast")
    ref_ms = 0.0
    for n in (*REFERENCE_REPEATS, LONG_REPEATS):
        cell = [LONG_UNIT * n]
        fast_ms = min(timed(fast.score, cell)[0] for _ in range(5)) * 1000
        if n in REFERENCE_REPEATS:
            t, expected = timed(reference.score, cell)
            ref_ms = t * 1000
            assert fast.score(cell) == expected, f"long text x{n}: results differ"
            shown = f"{ref_ms:13,.0f}"
        else:
            longest = REFERENCE_REPEATS[-1]
            shown = f"~{ref_ms * (n / longest) ** 2:12,.0f}"
        print(f"{n:>6} {len(cell[0]):>9,} {shown} {fast_ms:>9.1f}")
    print("(~: extrapolated as quadratic from the longest reference run; identical results")
    print(" checked on every repeat the reference ran)")


if __name__ == "__main__":
    main()
