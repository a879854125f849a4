"""Scoring engines behind one small interface.

`reference` is vaderSentiment's own `SentimentIntensityAnalyzer`; `fast` (vader_fast.py) is our
execution of the same model and returns exactly the same four floats for every text (proven by
tests/engine; docs/engine.md). The model (lexicons) always comes from the installed
vaderSentiment package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Scores = tuple[float, float, float, float]  # neg, neu, pos, compound

MODEL = "vaderSentiment 3.3.2"


class Scorer(Protocol):
    """An engine: texts in, VADER's four floats out."""

    name: str

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """Scores for each text, in order."""
        ...


class PendingScores(Protocol):
    """Scores of one submitted batch; `result()` blocks until they are ready."""

    def result(self) -> list[Scores]: ...


class BatchScorer(Protocol):
    """What a job submits batches of texts to (workers.InProcess or workers.ProcessPool): an
    engine run in this process or in worker processes. `workers` is 0 in process."""

    name: str
    workers: int

    def submit(self, texts: Sequence[str]) -> PendingScores: ...

    def healthy(self) -> bool: ...

    def close(self) -> None: ...


class ReferenceScorer:
    """vaderSentiment's own analyzer, one `polarity_scores` call per text."""

    name = "reference"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: Sequence[str]) -> list[Scores]:
        polarity = self._analyzer.polarity_scores
        out = []
        for text in texts:
            s = polarity(text)
            out.append((s["neg"], s["neu"], s["pos"], s["compound"]))
        return out


def _reference() -> Scorer:
    return ReferenceScorer()


def _fast() -> Scorer:
    from csv_sentiment.vader_fast import FastScorer

    return FastScorer()


# name -> factory; the settings validate SCORING_ENGINE against these keys.
ENGINES = {"reference": _reference, "fast": _fast}
# `fast` returns the reference's exact floats (tests/engine), ~5x faster and in linear time;
# SCORING_ENGINE=reference switches back to vaderSentiment's own analyzer.
DEFAULT_ENGINE = "fast"


def load_engine(name: str) -> Scorer:
    """Build the named engine (once per container: loading the lexicons takes ~50 ms)."""
    return ENGINES[name]()
