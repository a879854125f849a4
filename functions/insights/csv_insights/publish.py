"""One new run report → its page `insights/<rel>.html` and an updated `insights/index.html`.

The index costs the same per report whatever came before: one small state object read and
written with a conditional write (retried on a conflict), at most one listing page of
PAGE_SIZE files, and the index page drawn from the state alone. Reports are never re-read.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, datetime

from csv_insights import pages, report, state, store
from csv_insights.report import PAGES_PREFIX, ReportProblem

STATE_KEY = PAGES_PREFIX + "_index/state.json"
INDEX_KEY = PAGES_PREFIX + "index.html"
_PAGE_STATE = PAGES_PREFIX + "_index/pages/{}.json"
_LISTING = PAGES_PREFIX + "index-{}.html"
_RESERVED = re.compile(r"^(index(-\d+)?|_index(/.*)?)$")  # the index's own keys
PAGE_META = "index-page"  # on a file's page: the listing page that holds its entry
MAX_CONFLICTS = 25  # concurrent writers: each conflict means another report got in first
BACKOFF_SECONDS = 0.05  # the first wait after a conflict is up to this long, then doubles


class BrokenState(RuntimeError):
    """The index state cannot be read: raised (retried, then the failure queue), never
    overwritten, so that a bad write can be undone from the bucket's versions."""


def publish(s3, bucket: str, key: str) -> dict:
    rel = report.rel_of(key)
    if _RESERVED.match(rel):
        raise ReportProblem(
            "reserved_name",
            f"the page of {key[:300]!r} would replace the index's own {PAGES_PREFIX}{rel}",
            "an input file named other than index, index-<n> or _index/…",
        )
    got = store.get(s3, bucket, key)
    if got.body is None:
        raise ReportProblem(
            "missing_report",
            f"s3://{bucket}/{key[:300]} no longer exists",
            "the report named by the event (it was deleted or overwritten since)",
        )
    doc = report.parse(got.body, key)
    when = got.last_modified or datetime.now(UTC)
    date = when.astimezone(UTC).date().isoformat()
    html = pages.file_page(rel, doc, date, bucket).encode()
    page_key = f"{PAGES_PREFIX}{rel}.html"
    entry = state.entry_of(rel, date, doc)
    new, located, conflicts = _update_index(s3, bucket, entry, page_key)
    store.put(s3, bucket, page_key, html, store.HTML, metadata={PAGE_META: str(located)})
    _write_index(s3, bucket, new)
    return {"rel": rel, "page": page_key, "bytes": len(html), "files": new["files"],
            "listing_page": located, "conflicts": conflicts}  # fmt: skip


def _load_state(read: store.Read) -> state.State:
    if read.body is None:
        return state.empty()
    try:
        doc = json.loads(read.body)
    except ValueError:
        doc = None
    if not state.is_state(doc):
        raise BrokenState(
            f"{STATE_KEY} is not an index state (version {state.STATE_VERSION}); restore its "
            "previous version (the output bucket is versioned) or delete it to start a new index"
        )
    return doc


def _update_index(s3, bucket: str, entry: state.Entry, page_key: str):
    """Apply `entry` to the state; returns (new state, its listing page, conflicts seen)."""
    before = store.head(s3, bucket, page_key)
    was_on = int((before.metadata or {}).get(PAGE_META, "0") or 0)
    for conflicts in range(MAX_CONFLICTS):
        read = store.get(s3, bucket, STATE_KEY)
        current = _load_state(read)
        if current.get("freezing"):
            _write_listing(s3, bucket, current["freezing"])
        frozen = 0 < was_on <= current["pages"]
        replaced = _frozen_entry(s3, bucket, was_on, entry["rel"]) if frozen else None
        new = state.add(current, entry, replaced)
        try:
            store.put_json(s3, bucket, STATE_KEY, new, expect=read)
        except store.Conflict:
            _back_off(conflicts)
            continue
        if new["freezing"]:
            _write_listing(s3, bucket, new["freezing"])
        if replaced is not None:
            _replace_in_listing(s3, bucket, was_on, entry)
            return new, was_on, conflicts
        return new, new["pages"] + (0 if new["freezing"] else 1), conflicts
    raise RuntimeError(f"{STATE_KEY}: {MAX_CONFLICTS} conflicting writers in a row; retrying")


def _back_off(conflicts: int) -> None:
    """Many writers at once (a backfill with unreserved concurrency): wait a random, growing
    while, so that they stop colliding instead of retrying in step."""
    time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** min(conflicts, 5)))


def _frozen_entry(s3, bucket: str, page: int, rel: str) -> state.Entry | None:
    read = store.get(s3, bucket, _PAGE_STATE.format(page))
    entries = json.loads(read.body) if read.body else []
    return next((e for e in entries if e["rel"] == rel), None)


def _write_listing(s3, bucket: str, freezing: dict) -> None:
    """A filled page: its entries and its HTML. The same state gives the same bytes, so a
    second writer of the same page changes nothing."""
    number, entries = freezing["page"], freezing["entries"]
    store.put_json(s3, bucket, _PAGE_STATE.format(number), entries)
    html = pages.listing_page(number, entries).encode()
    store.put(s3, bucket, _LISTING.format(number), html, store.HTML)


def _replace_in_listing(s3, bucket: str, number: int, entry: state.Entry) -> None:
    """A file scored again whose entry sits in a frozen page: that page is rewritten."""
    key = _PAGE_STATE.format(number)
    for _ in range(MAX_CONFLICTS):
        read = store.get(s3, bucket, key)
        entries = state.replace_in_page(json.loads(read.body) if read.body else [], entry)
        try:
            store.put_json(s3, bucket, key, entries, expect=read)
        except store.Conflict:
            continue
        store.put(s3, bucket, _LISTING.format(number), pages.listing_page(number, entries).encode(),
                  store.HTML)  # fmt: skip
        return
    raise RuntimeError(f"{key}: {MAX_CONFLICTS} conflicting writers in a row; retrying")


def _write_index(s3, bucket: str, new: state.State) -> None:
    """index.html from this state, unless a newer state's index is already there: the
    sequence number in its metadata orders writers that finish out of order."""
    html = pages.index_page(new).encode()
    for _ in range(MAX_CONFLICTS):
        there = store.head(s3, bucket, INDEX_KEY)
        if int((there.metadata or {}).get("sequence", "0") or 0) >= new["sequence"]:
            return
        try:
            store.put(s3, bucket, INDEX_KEY, html, store.HTML, expect=there,
                      metadata={"sequence": str(new["sequence"])})  # fmt: skip
            return
        except store.Conflict:
            continue
