"""The fast engine behind the `Scorer` interface the handler uses."""

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
