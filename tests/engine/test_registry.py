"""The fast engine behind the `Scorer` interface the handler uses."""

from pathlib import Path

import pytest

from csv_sentiment import vader_fast
from csv_sentiment.engine import ENGINES, load_engine


def test_fast_and_reference_are_both_selectable():
    assert {"fast", "reference"} <= set(ENGINES)
    assert load_engine("fast").name == "fast"
    assert load_engine("reference").name == "reference"


def test_fast_scores_a_batch_in_order_as_tuples_of_four_floats():
    texts = ["good", "", "bad movie", "good"]
    scores = load_engine("fast").score(texts)
    assert scores == load_engine("reference").score(texts)
    assert all(type(s) is tuple and len(s) == 4 for s in scores)
    assert all(type(x) is float for s in scores for x in s)
    assert scores[0] == scores[3] != scores[2]


def test_fast_scores_an_empty_batch():
    assert load_engine("fast").score([]) == []


def test_function_package_ships_no_copy_of_the_lexicons():
    package = Path(vader_fast.__file__).parent.parent
    assert not [p.name for p in package.rglob("*lexicon*")]


def test_fast_engine_refuses_a_lexicon_with_an_empty_word(monkeypatch):
    # Its "" shortcut for neighbours that no rule looks at is exact only without such a word.
    lexicon, emojis = vader_fast.load_lexicons()
    monkeypatch.setattr(vader_fast, "load_lexicons", lambda: ({**lexicon, "": 1.0}, emojis))
    with pytest.raises(ValueError, match="empty word"):
        vader_fast.FastScorer()


def test_fast_engine_refuses_an_ascii_emoji(monkeypatch):
    # ASCII texts skip the emoji pass, which is exact only while no emoji is ASCII.
    lexicon, emojis = vader_fast.load_lexicons()
    monkeypatch.setattr(vader_fast, "load_lexicons", lambda: (lexicon, {**emojis, "x": "ex"}))
    with pytest.raises(ValueError, match="ASCII emoji"):
        vader_fast.FastScorer()


def test_fast_is_the_default_engine():
    from csv_sentiment.engine import DEFAULT_ENGINE

    assert DEFAULT_ENGINE == "fast"
