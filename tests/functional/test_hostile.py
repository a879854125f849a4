"""Hostile and careless inputs end to end: the scored output is never wrong or dangerous, and
every such file gets a clear answer."""

import csv
import io


def test_a_bare_cr_in_a_cell_stays_in_its_cell_and_keeps_its_quote(harness):
    harness.put("input/cr.csv", b"id,text\n1,\"\r=cmd|' /C calc'!A0 great\"\n2,fine\n")
    assert harness.process("input/cr.csv")["status"] == "succeeded"
    text = harness.output("scored/cr.csv").decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 3
    assert rows[1][1] == "'\r=cmd|' /C calc'!A0 great"
    assert rows[2][:2] == ["2", "fine"]


def test_header_cells_are_neutralised_and_score_names_never_clash_by_case(harness):
    harness.put("input/h.csv", b"=HYPERLINK(1),text,NEG,Sentiment\n1,good,2,x\n")
    assert harness.process("input/h.csv")["status"] == "succeeded"
    assert harness.rows("scored/h.csv")[0] == [
        "'=HYPERLINK(1)", "text", "NEG", "Sentiment",
        "vader_neg", "neu", "pos", "compound", "vader_sentiment",
    ]  # fmt: skip
