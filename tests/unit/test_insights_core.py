"""The insights function's pure parts: report checks, the index state, the pages' text policy."""

from __future__ import annotations

import json

import pytest

from csv_insights import pages, report, state
from csv_insights.report import ReportProblem


def _report(**changes) -> dict:
    doc = {
        "schema_version": 2, "status": "succeeded",
        "source": {"bucket": "in", "key": "input/a.csv", "version_id": None, "etag": "e",
                   "size": 10},
        "outputs": {"scored": "scored/a.csv", "report": "reports/a.csv.json"},
        "rows": {"total": 3, "scored": 2, "none": 1, "rejected": 0},
        "labels": {"positive": 1, "negative": 1, "neutral": 0, "none": 1, "rejected": 0},
        "mean_compound": 0.1, "text_column": "text", "columns": 1,
        "compound_histogram": {"low": -1, "high": 1, "counts": [1] + [0] * 18 + [1]},
        "extremes": {"text_policy": "full", "max_chars": 280,
                     "most_positive": [{"row": 1, "line": 2, "compound": 0.9,
                                        "text": "a secret text", "truncated": True}],
                     "most_negative": [{"row": 2, "line": 3, "compound": -0.9,
                                        "text": "another one", "truncated": False}]},
    }  # fmt: skip
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\xff\xfe", "malformed_report"),
        (b"[1, 2]", "malformed_report"),
        (json.dumps(_report(schema_version=1)).encode(), "unsupported_schema"),
        (json.dumps({"schema_version": 2, "status": "failed"}).encode(), "not_succeeded"),
        (json.dumps(_report(rows={"total": -1})).encode(), "malformed_report"),
        (json.dumps(_report(mean_compound=7)).encode(), "malformed_report"),
        (json.dumps(_report(extremes={"most_positive": [{"row": 1}]})).encode(),
         "malformed_report"),
    ],
)  # fmt: skip
def test_reports_it_cannot_draw_are_named_with_what_was_expected(body, code):
    with pytest.raises(ReportProblem) as caught:
        report.parse(body, "reports/a.csv.json")
    assert caught.value.code == code
    assert caught.value.as_dict()["expected"]


def test_only_report_keys_have_a_page():
    assert report.rel_of("reports/dir/a b.csv.json") == "dir/a b.csv"
    for key in ("scored/a.csv", "reports/a.csv", "reports/.json", "errors/a.csv.json"):
        with pytest.raises(ReportProblem, match="not a run report key"):
            report.rel_of(key)


def test_state_freezes_a_full_page_and_keeps_day_aggregates(monkeypatch):
    monkeypatch.setattr(state, "PAGE_SIZE", 2)
    st = state.empty()
    doc = _report()
    for i, day in enumerate(["2026-01-02", "2026-01-01", "2026-01-02"]):
        st = state.add(st, state.entry_of(f"f{i}", day, doc))
        if i == 1:
            assert st["freezing"]["page"] == 1 and len(st["freezing"]["entries"]) == 2
            assert st["latest"] == []
    assert st["freezing"] is None and st["pages"] == 1 and st["files"] == 3
    assert [d for d, _ in state.trend(st)] == ["2026-01-01", "2026-01-02"]
    assert st["days"]["2026-01-02"]["rows"] == 6 and st["days"]["2026-01-02"]["files"] == 2
    assert st["days"]["2026-01-02"]["compound_sum"] == pytest.approx(0.4)


def test_a_replaced_entry_moves_its_numbers_between_days():
    st = state.add(state.empty(), state.entry_of("f", "2026-01-01", _report()))
    st = state.add(st, state.entry_of("f", "2026-01-05", _report(mean_compound=None)))
    assert list(st["days"]) == ["2026-01-05"] and st["files"] == 1
    assert st["days"]["2026-01-05"]["compound_sum"] == 0.0


@pytest.mark.parametrize(("policy", "note"), [("none", "Texts are not shown"),
                                              (5, "Texts cut to 5 characters")])  # fmt: skip
def test_the_page_follows_the_reports_text_policy(policy, note):
    doc = _report()
    doc["extremes"]["text_policy"] = policy
    if policy == "none":
        for side in ("most_positive", "most_negative"):
            for row in doc["extremes"][side]:
                del row["text"], row["truncated"]
    html = pages.file_page("a.csv", doc, "2026-01-01", "out")
    assert note in html
    assert ("a secret text" in html) is (policy != "none")
    if policy != "none":
        assert "a secret text…" in html  # a cut text says so
