"""The scored CSV's text: every cell survives a round trip through Python's csv, pandas and a
spreadsheet-style reader, and neutralised cells keep their leading ' through all three."""

import csv
import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csv_sentiment.core import _NUMBER as NUMBER
from csv_sentiment.core import neutralise, output_header
from csv_sentiment.csvio import format_rows

FORMULA_START = "=+-@\t\r"


def spreadsheet_rows(text: str) -> list[list[str]]:
    """How Excel and LibreOffice split CSV text: outside quotes, CR, LF or CRLF ends a row; a
    field that starts with a quote is quoted until a lone quote, "" being one quote."""
    rows, row, field, i, n = [], [], [], 0, len(text)
    while i < n:
        if text[i] == '"' and not field:
            i += 1
            while i < n and not (text[i] == '"' and text[i + 1 : i + 2] != '"'):
                field.append(text[i])
                i += 2 if text[i] == '"' else 1
            i += 1  # the closing quote
            continue
        c = text[i]
        if c == ",":
            row.append("".join(field))
            field = []
        elif c in "\r\n":
            row.append("".join(field))
            rows.append(row)
            row, field = [], []
            if c == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
        else:
            field.append(c)
        i += 1
    if field or row:
        row.append("".join(field))
        rows.append(row)
    return rows


def readers(text: str) -> dict[str, list[list[str]]]:
    frame = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False,
                        na_filter=False, skip_blank_lines=False)  # fmt: skip
    return {
        "csv": list(csv.reader(io.StringIO(text, newline=""))),
        "pandas": frame.values.tolist(),
        "spreadsheet": spreadsheet_rows(text),
    }


HOSTILE = [
    ["\r=cmd|' /C calc'!A0", "plain"],
    ["a\rb", "c\nd", "e\r\nf"],
    ["=1+1", "+x", "-y", "@z", "\tt"],
    ["\r", "\n", '"', ",", ""],
    ['say "hi"\r', "x"],
]


@pytest.mark.parametrize("cells", HOSTILE)
def test_cells_with_cr_or_lf_round_trip_through_every_reader(cells):
    row = [neutralise(c) for c in cells]
    text = format_rows([row, ["next", "row", *[""] * (len(row) - 2)]])
    for name, rows in readers(text).items():
        assert rows[0] == row, name
        assert len(rows) == 2, name


def test_a_cr_formula_reaches_every_reader_with_its_quote():
    text = format_rows([[neutralise("\r=cmd|' /C calc'!A0"), "x"]])
    for name, rows in readers(text).items():
        assert rows == [["'\r=cmd|' /C calc'!A0", "x"]], name


def test_rows_without_cr_stay_minimally_quoted_and_floats_stay_unquoted():
    assert format_rows([["a", "b,c", 0.5]]) == 'a,"b,c",0.5\n'
    assert format_rows([["a\rb", "c", 0.5]]) == '"a\rb","c",0.5\n'


cell = st.text(alphabet=st.sampled_from(list("ab ,\"'\r\n\t=+-@1.é😀")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=5))
def test_any_neutralised_cells_round_trip_and_no_reader_sees_a_formula(rows):
    rows = [[neutralise(c) for c in row] for row in rows]
    text = format_rows(rows)
    for name, got in readers(text).items():
        assert got == rows, name
        for c in (c for row in got for c in row):
            # a cell that starts like a formula reaches the reader only if it is a number
            assert not c[:1] or c[0] not in FORMULA_START or NUMBER.fullmatch(c), (name, c)


@pytest.mark.parametrize("name", ['=HYPERLINK("x")', "+a", "-b", "@c", "\td", "\re"])
def test_header_cells_are_neutralised_like_data_cells(name):
    header = output_header([name, "text"])
    assert header[0] == "'" + name
    assert header[2:] == ["neg", "neu", "pos", "compound", "sentiment"]  # score names stay plain


def test_header_neutralisation_follows_the_setting():
    assert output_header(["=a"], neutralise_formulas=False)[0] == "=a"


def test_score_column_clashes_ignore_case():
    assert output_header(["NEG", "Sentiment", "text", "Vader_Sentiment"]) == [
        "NEG", "Sentiment", "text", "Vader_Sentiment",
        "vader_neg", "neu", "pos", "compound", "vader_vader_sentiment",
    ]  # fmt: skip
