"""Fixtures for the differential tests: both engines, and a comparison that names mismatches."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest


@pytest.fixture(scope="session")
def reference() -> Callable[[Sequence[str]], list[tuple]]:
    from csv_sentiment.engine import ReferenceScorer

    return ReferenceScorer().score


@pytest.fixture(scope="session")
def fast() -> Callable[[Sequence[str]], list[tuple]]:
    from csv_sentiment.vader_fast import FastScorer

    return FastScorer().score


@pytest.fixture(scope="session")
def assert_identical(reference, fast) -> Callable[[Sequence[str]], None]:
    """Fail with the first mismatching texts (add them to regression_cases.jsonl).

    Equal under `==` and also in `repr`, which is what the scored CSV holds: that catches a
    -0.0 for 0.0 or an int for a float, which `==` would let through."""

    def check(texts: Sequence[str]) -> None:
        expected = reference(texts)
        got = fast(texts)
        assert len(got) == len(texts)
        bad = [
            (t, e, g)
            for t, e, g in zip(texts, expected, got, strict=True)
            if e != g or repr(e) != repr(g)
        ]
        shown = "\n".join(f"{t!r}: reference {e}, fast {g}" for t, e, g in bad[:5])
        assert not bad, f"{len(bad)} of {len(texts)} texts differ, e.g.:\n{shown}"

    return check
