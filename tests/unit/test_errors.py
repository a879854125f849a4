"""Errors quote untrusted input bounded: reports and log lines stay small and say what was cut."""

from csv_sentiment.core import resolve_text_column
from csv_sentiment.errors import QUOTED_CHARS, InputError, TextColumnNotFound, clip, clip_all


def test_clip_says_how_much_was_cut():
    assert clip("short") == "short"
    assert clip("x" * 1000) == "x" * QUOTED_CHARS + f"… ({1000 - QUOTED_CHARS} more characters)"


def test_clip_all_bounds_the_number_of_values():
    out = clip_all([str(i) for i in range(80)])
    assert len(out) == 51 and out[-1] == "… and 30 more"


def test_a_header_of_giant_names_gives_a_small_error():
    header = ["a" * 20_000_000, "b" * 20_000_000]
    try:
        resolve_text_column(header, [["x", "y"]], "")
    except TextColumnNotFound as exc:
        size = len(str(exc.as_dict()))
        assert size < 2_000
        assert "(19999800 more characters)" in exc.message
    else:
        raise AssertionError("expected TextColumnNotFound")


def test_any_message_and_detail_is_bounded_whatever_the_raiser_quoted():
    exc = InputError("m" * 100_000, expected="e", value="v" * 100_000, names=["n"] * 1000)
    assert len(exc.message) < 4_100 and len(exc.details["value"]) < 4_100
    assert len(exc.details["names"]) == 51
