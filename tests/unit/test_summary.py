"""The report's insights fields: compound histogram and the extreme rows, batch by batch."""

from __future__ import annotations

import json
import random

import pytest

from csv_sentiment.summary import KEEP, MAX_TEXT_CHARS, Summary, policy_of


def feed(summary: Summary, rows: list[tuple[str, float | None]], batch: int, lines_per_row=1):
    """rows: (text, compound) or (text, None) for an unscored row; one line per row unless told."""
    line = summary.header_end_line
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        kinds = ["" if c is not None else "none" for _, c in part]
        texts = [t for t, c in part if c is not None]
        scores = [(0.0, 1.0, 0.0, c) for _, c in part if c is not None]
        ends = []
        for _ in part:
            line += lines_per_row
            ends.append(line)
        summary.add(kinds, texts, scores, ends)


def test_histogram_counts_every_scored_row_in_its_bin():
    s = Summary()
    feed(s, [("a", -1.0), ("b", -0.95), ("c", 0.0), ("d", 0.049), ("e", 1.0), ("f", None)], 4)
    counts = s.histogram()["counts"]
    assert len(counts) == 20 and sum(counts) == 5
    assert counts[0] == 2 and counts[10] == 2 and counts[19] == 1  # 1.0 is in the last bin


@pytest.mark.parametrize("batch", [1, 7, 2000])
def test_extremes_equal_a_full_sort_whatever_the_batch_size(batch):
    rng = random.Random(batch)
    rows = [
        (f"text {i}", None if rng.random() < 0.1 else round(rng.uniform(-1, 1), 2))
        for i in range(500)
    ]
    s = Summary(header_end_line=1)
    feed(s, rows, batch, lines_per_row=2)
    scored = [(i + 1, c) for i, (_, c) in enumerate(rows) if c is not None]
    want_top = sorted(scored, key=lambda rc: (-rc[1], rc[0]))[:KEEP]
    want_bottom = sorted(scored, key=lambda rc: (rc[1], rc[0]))[:KEEP]
    ext = s.extremes()
    assert [(r["row"], r["compound"]) for r in ext["most_positive"]] == want_top
    assert [(r["row"], r["compound"]) for r in ext["most_negative"]] == want_bottom
    for r in ext["most_positive"] + ext["most_negative"]:
        assert r["line"] == 2 * r["row"]  # header on line 1, each row two lines
        assert r["text"] == f"text {r['row'] - 1}" and r["truncated"] is False


def test_ties_keep_the_earliest_rows():
    s = Summary(keep=2)
    feed(s, [("a", 0.5), ("b", 0.5), ("c", 0.5)], 1)
    assert [r["row"] for r in s.extremes()["most_positive"]] == [1, 2]


def test_text_policy_none_leaves_no_text_and_a_number_cuts_it():
    long = "x" * (MAX_TEXT_CHARS + 5)
    hidden = Summary(policy="none")
    feed(hidden, [(long, 0.9)], 1)
    assert "text" not in hidden.extremes()["most_positive"][0]
    cut = Summary(policy=3)
    feed(cut, [("abcdef", 0.9)], 1)
    assert cut.extremes()["most_positive"][0] | {} == {
        "row": 1, "line": 2, "compound": 0.9, "text": "abc", "truncated": True,
    }  # fmt: skip
    full = Summary()
    feed(full, [(long, 0.9)], 1)
    row = full.extremes()["most_positive"][0]
    assert len(row["text"]) == MAX_TEXT_CHARS and row["truncated"] is True


def test_text_policy_follows_the_text_limit_setting():
    assert (policy_of(None), policy_of(0), policy_of(40)) == ("full", "none", 40)


def test_no_scored_rows_gives_empty_extremes():
    s = Summary()
    feed(s, [("", None), (" ", None)], 2)
    ext = s.extremes()
    assert ext["most_positive"] == [] and ext["most_negative"] == []


@pytest.mark.parametrize("cuts", [[1], [130, 131, 400], [250]])
def test_summaries_of_consecutive_parts_merge_into_the_whole_files(cuts):
    """Fan-out ranges: each part summarised alone (its own start line), then merged."""
    rng = random.Random(len(cuts))
    rows = [(f"t{i}", None if i % 9 == 0 else round(rng.uniform(-1, 1), 1)) for i in range(500)]
    whole = Summary(header_end_line=1)
    feed(whole, rows, 64)
    parts, start, line = [], 0, 1
    for end in [*cuts, len(rows)]:
        part = Summary(header_end_line=line)
        feed(part, rows[start:end], 64)
        parts.append(json.loads(json.dumps(part.partial())))  # as stored between the steps
        line += end - start
        start = end
    merged = Summary.merged(parts)
    assert merged.histogram() == whole.histogram()
    assert merged.extremes() == whole.extremes()
