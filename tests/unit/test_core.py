import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from csv_sentiment.core import (
    RowScorer,
    label,
    neutralise,
    output_header,
    resolve_text_column,
)
from csv_sentiment.engine import ReferenceScorer
from csv_sentiment.errors import MalformedRow, TextColumnNotFound


def score(rows_scorer, scorer, rows, end_lines):
    """What the job does for one batch, in process: prepare, score the texts, finish."""
    batch = rows_scorer.prepare(rows, end_lines)
    return rows_scorer.finish(batch, scorer.score(batch.texts) if batch.texts else [])


@pytest.fixture(scope="module")
def scorer():
    return ReferenceScorer()


@pytest.mark.parametrize(
    ("compound", "expected"),
    [(0.05, "positive"), (0.0499, "neutral"), (-0.05, "negative"), (-0.0499, "neutral")],
)
def test_label_thresholds(compound, expected):
    assert label(compound) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-bad idea", "'-bad idea"),
        ("@user great", "'@user great"),
        ("\tindented", "'\tindented"),
        ("\rcarriage", "'\rcarriage"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("-1e5", "-1e5"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised_but_numbers_are_not(cell, expected):
    assert neutralise(cell) == expected


def test_score_columns_never_overwrite_input_columns():
    assert output_header(["neg", "text", "vader_neg", "sentiment"]) == [
        "neg", "text", "vader_neg", "sentiment",
        "vader_vader_neg", "neu", "pos", "compound", "vader_sentiment",
    ]  # fmt: skip


def test_text_column_from_setting_exact_then_case_insensitive():
    assert resolve_text_column(["id", "Body", "body"], [], "body") == 2
    assert resolve_text_column(["id", "Body"], [], "BODY") == 1


def test_unknown_configured_column_lists_the_columns():
    with pytest.raises(TextColumnNotFound) as err:
        resolve_text_column(["id", "body", "stars"], [], "review")
    assert str(err.value) == "column 'review' not found; columns are: id, body, stars"


def test_conventional_names_are_found_case_insensitively():
    assert resolve_text_column(["ID", "Tweet", "Comment"], [], "") == 2  # comment ranks first


def test_otherwise_the_only_non_numeric_column():
    rows = [["1", "so good", "4.5"], ["2", "meh", ""]]
    assert resolve_text_column(["id", "words", "stars"], rows, "") == 1


@pytest.mark.parametrize(
    ("rows", "why"),
    [([["1", "2"]], "no column holds text"), ([["a", "b"]], "2 columns hold text")],
)
def test_ambiguous_text_column_is_a_clear_error(rows, why):
    with pytest.raises(TextColumnNotFound) as err:
        resolve_text_column(["x", "y"], rows, "")
    assert why in str(err.value)
    assert "columns are: x, y" in str(err.value)


def test_rows_keep_order_and_values_and_get_the_reference_scores(scorer):
    vader = SentimentIntensityAnalyzer()
    rs = RowScorer(3, 1, max_text_chars=100, neutralise_formulas=True)
    rows = [["007", "I love it!", "NA"], ["2", "", "x"], ["3", "   "], ["4", "x" * 101, ""]]
    out = score(rs, scorer, rows, [2, 3, 4, 5])
    s = vader.polarity_scores("I love it!")
    assert out[0] == ["007", "I love it!", "NA", s["neg"], s["neu"], s["pos"], s["compound"],
                      "positive"]  # fmt: skip
    assert out[1][3:] == ["", "", "", "", "none"]
    assert out[2] == ["3", "   ", "", "", "", "", "", "none"]  # padded
    assert out[3][-1] == "rejected"
    assert rs.counts.total == 4 and rs.counts.scored == 1
    assert rs.counts.labels == {"positive": 1, "negative": 0, "neutral": 0, "none": 2,
                                "rejected": 1}  # fmt: skip


def test_a_row_longer_than_the_header_names_its_line(scorer):
    rs = RowScorer(2, 1, max_text_chars=100, neutralise_formulas=False)
    with pytest.raises(MalformedRow) as err:
        score(rs, scorer, [["1", "multi\nline"], ["2", "ok", "extra"]], [3, 4])  # end lines
    assert "line 4 has 3 fields but the header has 2" in str(err.value)


def test_a_too_long_first_row_is_named_after_a_multi_line_header(scorer):
    rs = RowScorer(2, 1, 100, False, header_end_line=2)
    with pytest.raises(MalformedRow, match="line 3 has 3 fields"):
        score(rs, scorer, [["1", "ok", "extra"]], [3])


def test_neutralisation_can_be_turned_off(scorer):
    rs = RowScorer(1, 0, max_text_chars=100, neutralise_formulas=False)
    assert score(rs, scorer, [["=1+1 great"]], [2])[0][0] == "=1+1 great"
