"""Errors raised while a fan-out range is read name the FILE's lines and byte offsets, the
ones one reading of the whole file names (tests/functional/test_fanout.py proves the same
against one real invocation, through the state machine). No I/O: the ranges are cut and read
from bytes in memory with the function's own code."""

from __future__ import annotations

import pytest

from csv_sentiment import fanout, ranges
from csv_sentiment.errors import InputError
from csv_sentiment.settings import Settings

RECORD = 64  # every good record (and the header) is 64 bytes, so the cut is known
RANGE_BYTES = 4096
HEADER = "dataset,id,human_mean,text"
# A record may take 8 x 1024 + 56 x 10 bytes: 8,752.
_ENV = {"MAX_CELL_CHARS": "1024", "MAX_COLUMNS": "10", "CHUNK_ROWS": "7"}
SETTINGS = Settings.from_env({"OUTPUT_BUCKET": "out-bucket", **_ENV})
PLAN = {
    "encoding": {"codec": "utf-8", "name": "utf-8", "fallback": False},
    "delimiter": ",",
    "header": HEADER.split(","),
    "header_end_line": 1,
    "text_index": 3,
}


def _line(text: str) -> bytes:
    line = f"x,{text}".encode()
    return line + b" " * (RECORD - 1 - len(line)) + b"\n"


def _file(bad: bytes, records: int = 300) -> tuple[bytes, int]:
    """A file whose line 130 is `bad`: raw range 2 starts at byte 8,192 (line 129), so the cut
    starts the third range just after line 129's LF, with `bad` as its first record."""
    lines = [(HEADER + " " * (RECORD - 1 - len(HEADER)) + "\n").encode()]
    lines += [_line(f"{i},0,good review number {i}") for i in range(1, records)]
    lines[129] = bad
    # Raw ranges are equal parts of the file: padded to a multiple of RANGE_BYTES, each part is
    # RANGE_BYTES long, so raw range 2 starts at byte 8,192 whatever `bad`'s length.
    pad = -(len(b"".join(lines))) % RANGE_BYTES
    pad += RANGE_BYTES if pad < 16 else 0
    lines.append(b"x,pad,0," + b" " * (pad - 9) + b"\n")
    return b"".join(lines), 130


def _read(data: bytes, item: ranges.Range) -> None:
    """What a range step does with its bytes, without S3: parse, check, and prepare rows."""
    chunks = [data[i : min(i + 700, item.end)] for i in range(item.start, item.end, 700)]
    records, rows = fanout.open_range(chunks, PLAN, item, SETTINGS)
    for chunk, ends in fanout._batches(records, item):
        rows.prepare(chunk, ends)


def _error(data: bytes, items: list[ranges.Range]) -> tuple[int, dict]:
    for item in items:
        try:
            _read(data, item)
        except InputError as exc:
            return item.index, exc.as_dict()
    raise AssertionError("no error")


def _cut(data: bytes) -> list[ranges.Range]:
    raw = ranges.raw_ranges(len(data), RANGE_BYTES)
    return ranges.cut([ranges.count(r, [data[r.start : r.end]]) for r in raw], len(data))


BAD = {
    # a quoted cell of five lines of 100 commas: the record's parsed form passes 8,752 bytes
    # on its second line (4 bytes a character, 56 a delimiter)
    "record_too_big": (b'x,big,0,"' + b"\n".join([b"," * 100] * 5) + b'"\n', "limit_exceeded"),
    "multi_line_cell_too_big": (
        b'x,big,0,"' + b"\n".join([b"y" * 50] * 22) + b'"\n',
        "limit_exceeded",
    ),
    "too_many_fields": (b"x,bad,0,too,many,fields\n", "malformed_row"),
    "text_after_a_quote": (b'x,q,0,"quoted" then more\n', "malformed_row"),
    "cell_too_big": (b"x,c,0," + b"z" * 1100 + b"\n", "limit_exceeded"),
    "nul_character": (b"x,n,0,a\x00b\n", "not_csv"),
    "undecodable_byte": (b"x,u,0,caf\xe9\n", "undecodable"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_an_error_in_the_third_range_names_the_files_own_line(kind):
    bad, code = BAD[kind]
    data, bad_line = _file(bad)
    items = _cut(data)
    assert len(items) >= 4 and items[2].first_line == bad_line - 1  # the bad record opens it
    index, error = _error(data, items)
    whole = ranges.Range(0, 0, len(data), 0, last=True)  # one reading of the whole file
    assert (index, error) == (2, _error(data, [whole])[1])
    assert error["code"] == code
    if code == "undecodable":
        assert error["offset"] == 129 * RECORD + bad.index(b"\xe9")  # the file's byte
    else:
        assert error["line"] >= bad_line and f"line {bad_line}" in error["message"]
    if kind == "record_too_big":
        assert error["line"] == bad_line + 1 and "would take more than" in error["message"]


def test_a_quote_never_closed_in_the_third_range_names_where_it_opened():
    # The record budget stops it on a later line; the error also names the line it opened
    # on, which the range's reader knows only from the lines before the range.
    data, bad_line = _file(b'x,open,0,"never closed\n', records=400)
    items = _cut(data)
    index, error = _error(data, items)
    assert index == 2 and error == _error(data, [ranges.Range(0, 0, len(data), 0, True)])[1]
    assert f"a quote opened on line {bad_line} is never closed" in error["message"]
