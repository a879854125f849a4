"""The index's data, kept incrementally: one small state object, never a re-read of reports.

A new report costs the same whatever the number of reports before it: the state holds the
per-day aggregates (the trend), the totals and the latest files (at most PAGE_SIZE); when the
latest files fill a page, they are frozen into an immutable listing page and the state keeps
only its number. A file scored again replaces its entry (in the state, or in the frozen page
that holds it) and its old contribution is taken out of the aggregates. Pure: no I/O.
"""

from __future__ import annotations

import copy
from typing import TypedDict

STATE_VERSION = 1
PAGE_SIZE = 100  # files per listing page: bounds the state and every page
LABELS = ("positive", "negative", "neutral", "none", "rejected")


class Entry(TypedDict):
    rel: str
    date: str  # YYYY-MM-DD (UTC) the report was written
    rows: int
    scored: int
    labels: dict[str, int]
    compound_sum: float  # mean_compound × scored: sums add up across files
    mean_compound: float | None


class Day(TypedDict):
    files: int
    rows: int
    scored: int
    labels: dict[str, int]
    compound_sum: float


class State(TypedDict):
    version: int
    sequence: int  # bumped on every change: orders index.html writes
    files: int
    pages: int  # frozen listing pages 1..pages
    latest: list[Entry]  # newest last; the page being filled (number pages + 1)
    days: dict[str, Day]
    # A page that filled: its entries stay here until its listing is written (by the writer
    # of this state, or else by the next one: the content follows from the state alone).
    freezing: dict | None  # {"page": n, "entries": [...]}


def empty() -> State:
    return {"version": STATE_VERSION, "sequence": 0, "files": 0, "pages": 0, "latest": [],
            "days": {}, "freezing": None}  # fmt: skip


def entry_of(rel: str, date: str, report: dict) -> Entry:
    rows, labels = report["rows"], report["labels"]
    mean = report["mean_compound"]
    return {
        "rel": rel,
        "date": date,
        "rows": int(rows["total"]),
        "scored": int(rows["scored"]),
        "labels": {name: int(labels.get(name, 0)) for name in LABELS},
        "compound_sum": float(mean or 0.0) * int(rows["scored"]),
        "mean_compound": mean,
    }


def _apply(state: State, entry: Entry, sign: int) -> None:
    day = state["days"].setdefault(
        entry["date"],
        {"files": 0, "rows": 0, "scored": 0, "labels": dict.fromkeys(LABELS, 0),
         "compound_sum": 0.0},
    )  # fmt: skip
    day["files"] += sign
    day["rows"] += sign * entry["rows"]
    day["scored"] += sign * entry["scored"]
    day["compound_sum"] += sign * entry["compound_sum"]
    for name in LABELS:
        day["labels"][name] += sign * entry["labels"][name]
    if day["files"] <= 0:
        del state["days"][entry["date"]]


def add(state: State, entry: Entry, replaced: Entry | None = None) -> State:
    """The state after `entry`; a page that fills moves to `freezing`.

    `replaced`: the file's previous entry when it sits in a frozen page (the caller updates
    that page); a previous entry among the latest is found here."""
    new = copy.deepcopy(state)
    new["sequence"] += 1
    new["freezing"] = None  # the caller has written any pending listing page
    latest = new["latest"]
    in_latest = next((e for e in latest if e["rel"] == entry["rel"]), None)
    previous = in_latest or replaced
    if previous is not None:
        _apply(new, previous, -1)
    _apply(new, entry, +1)
    if in_latest is not None:
        latest[latest.index(in_latest)] = entry
        return new
    if replaced is not None:
        return new  # the caller replaces it in its frozen page
    new["files"] += 1
    latest.append(entry)
    if len(latest) >= PAGE_SIZE:
        new["pages"] += 1
        new["latest"] = []
        new["freezing"] = {"page": new["pages"], "entries": latest}
    return new


def replace_in_page(entries: list[Entry], entry: Entry) -> list[Entry]:
    return [entry if e["rel"] == entry["rel"] else e for e in entries]


def trend(state: State) -> list[tuple[str, Day]]:
    """The days in order (the trend over days)."""
    return sorted(state["days"].items())


def is_state(doc: object) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("version") == STATE_VERSION
        and isinstance(doc.get("latest"), list)
        and isinstance(doc.get("days"), dict)
    )
