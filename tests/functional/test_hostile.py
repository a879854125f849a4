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


def assert_failed(harness, name, body, code, *fragments, **env):
    harness.put(f"input/{name}", body)
    report = harness.process(f"input/{name}", **env)
    assert report["status"] == "failed", report
    error = report["error"]
    assert error["code"] == code
    text = error["message"] + " " + error.get("expected", "")
    for fragment in fragments:
        assert fragment in text
    assert not [k for k in harness.listing() if k.startswith("scored/")]
    return error


def test_a_quote_never_closed_is_an_error_naming_where_it_opened(harness):
    body = b'id,text\n1,fine\n2,"never closed\n3,more\n4,rows\n'
    error = assert_failed(harness, "open.csv", body, "malformed_row",
                          "opened on line 3 is never closed", 'written twice ("")')  # fmt: skip
    assert error["line"] == 3


def test_a_quote_never_closed_in_a_big_file_names_its_line_too(harness):
    body = b'id,text\n1,"open\n' + b"2,row\n" * 2000
    assert_failed(harness, "open-big.csv", body, "limit_exceeded",
                  "or a quote opened on line 2 is never closed",
                  MAX_CELL_CHARS="1024")  # fmt: skip


def test_backslash_escaped_quotes_are_an_error_that_says_how_to_export(harness):
    body = b'id,text,stars\n1,"He said \\"great\\" and left",5\n'
    error = assert_failed(harness, "mysql.csv", body, "malformed_row", "line 2",
                          "FIELDS ESCAPED BY ''", "fputcsv")  # fmt: skip
    assert error["line"] == 2


def test_a_backslash_quote_before_the_delimiter_shifts_no_cell_silently(harness):
    body = b'id,text,stars\n1,"a 5\\", 6\\" screen",5\n'
    assert_failed(harness, "shift.csv", body, "malformed_row", "has 4 fields",
                  "backslash before a quote", "FIELDS ESCAPED BY ''")  # fmt: skip


def test_a_record_that_would_not_fit_in_memory_names_where_it_starts(harness):
    body = b'id,text\n1,ok\n2,"' + b'a\n","' * 400_000 + b'z"\n'  # 400,000 tiny fields
    error = assert_failed(harness, "fields.csv", body, "limit_exceeded",
                          "refused before it was parsed", "quote opened on line 3")  # fmt: skip
    assert error["line"] < 300_000  # before the record's 400,000 lines were all read


def test_giant_header_names_give_a_small_error_report_that_says_it_cut_them(harness):
    body = b"a" * 3_000_000 + b"," + b"b" * 3_000_000 + b"\n1,2\n"
    error = assert_failed(harness, "names.csv", body, "text_column_not_found",
                          "more characters)", MAX_CELL_CHARS="4000000")  # fmt: skip
    assert len(harness.output("errors/names.csv.json")) < 5_000
    assert len(error["columns"]) == 2 and len(error["columns"][0]) < 300


def test_keys_outside_the_prefix_are_scored_without_meeting_the_inside_ones(harness):
    harness.put("x.csv", b"text\nI love it\n")
    harness.put("input/x.csv", b"text\nI hate it\n")
    assert harness.process("x.csv")["outputs"]["scored"] == "scored/_outside/x.csv"
    assert harness.process("input/x.csv")["outputs"]["scored"] == "scored/x.csv"
    assert harness.rows("scored/_outside/x.csv")[1][-1] == "positive"
    assert harness.rows("scored/x.csv")[1][-1] == "negative"
    assert harness.process("x.csv")["status"] == "skipped"  # each has its own report


def test_a_key_whose_outputs_exceed_s3s_limit_gets_a_hashed_error_report_and_nothing_else(
    harness,
):
    key = "input/" + "r" * 1012  # 1,018 bytes: reports/<rel>.json would be 1,025
    harness.put(key, b"text\nfine\n")
    report = harness.process(key)
    assert report["status"] == "failed" and report["error"]["code"] == "limit_exceeded"
    assert "1,024" in report["error"]["message"] or "1024" in report["error"]["message"]
    (only,) = harness.listing()
    assert only.startswith("errors/_too-long/") and only == report["outputs"]["error"]
    assert harness.json(only)["source"]["key"] == key


class CountingScorer:
    """The in-process scorer, counting the batches submitted to it."""

    def __init__(self, inner):
        self.inner, self.batches = inner, []
        self.name, self.workers = inner.name, inner.workers

    def submit(self, texts):
        self.batches.append(len(texts))
        return self.inner.submit(texts)


def test_a_batch_ends_at_chunk_mb_of_parsed_rows_not_only_at_chunk_rows(harness):
    blob = "x" * 320_000  # ~1.3 MB parsed (4 bytes a character): more than CHUNK_MB=1
    harness.put("input/wide-rows.csv", ("id,blob,text\n" + f"1,{blob},so good\n" * 6).encode())
    harness.scorer = CountingScorer(harness.scorer)
    report = harness.process("input/wide-rows.csv", CHUNK_MB="1")
    assert report["rows"]["scored"] == 6
    assert harness.scorer.batches == [1] * 6  # one row a batch, though CHUNK_ROWS is 2000
    assert [r[1] for r in harness.rows("scored/wide-rows.csv")[1:]] == [blob] * 6
