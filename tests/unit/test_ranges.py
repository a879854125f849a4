"""The cut: byte ranges at record boundaries from per-range quote and newline counts."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csv_sentiment import ranges


def _cut(data: bytes, range_bytes: int) -> list[ranges.Range]:
    raws = ranges.raw_ranges(len(data), range_bytes)
    counts = [ranges.count(r, [data[r.start : r.end]]) for r in raws]
    return ranges.cut(counts, len(data))


def _records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_cut_at_records(data: bytes, cut: list[ranges.Range]) -> None:
    """Parsed range by range, the records are exactly the whole file's, and each range's
    first_line is the number of LFs before it."""
    assert cut[0].start == 0 and cut[-1].end == len(data) and cut[-1].last
    for a, b in itertools.pairwise(cut):
        assert a.end == b.start and not a.last
    pieces = []
    for r in cut:
        pieces += _records(data[r.start : r.end].decode("utf-8-sig" if r.start == 0 else "utf-8"))
        assert r.first_line == data[: r.start].count(b"\n")
    assert pieces == _records(data.decode("utf-8-sig"))


def test_a_quoted_newline_across_a_raw_edge_is_not_a_cut():
    data = b'id,text\n1,"first line\nsecond line\nthird line"\n2,plain\n3,"a\nb"\n'
    for size in range(1, len(data) + 1):
        cut = _cut(data, size)
        _assert_cut_at_records(data, cut)
        inside = (data.index(b'"first'), data.index(b'line"') + 5)
        assert not any(inside[0] < r.start <= inside[1] for r in cut), size


def test_doubled_quotes_keep_the_parity():
    data = b'id,text\n1,"he said ""hi""\nthen left"\n2,"""quoted"""\n3,x\n'
    for size in range(1, len(data) + 1):
        _assert_cut_at_records(data, _cut(data, size))


def test_crlf_and_multibyte_characters_on_a_raw_edge():
    data = 'id,text\r\n1,caf\u00e9 \u2603 \U0001f600\r\n2,"na\u00efve\r\nline"\r\n3,end\r\n'
    raw = data.encode()
    for size in range(1, len(raw) + 1):
        cut = _cut(raw, size)
        _assert_cut_at_records(raw, cut)
        for r in cut:
            raw[r.start : r.end].decode("utf-8")  # never a split character
            assert r.start == 0 or raw[r.start - 1 : r.start] == b"\n"  # never a split CRLF


def test_bom_stays_in_the_first_range():
    raw = b"\xef\xbb\xbfid,text\n1,a\n2,b\n3,c\n"
    cut = _cut(raw, 4)
    assert cut[0].start == 0 and raw[cut[1].start - 1 : cut[1].start] == b"\n"
    _assert_cut_at_records(raw, cut)


def test_a_header_only_file_is_one_range():
    raw = b"id,text\n"
    assert _cut(raw, 2) == [ranges.Range(0, 0, len(raw), 0, last=True)]
    raw = b"id,text"  # not even a newline
    assert _cut(raw, 2) == [ranges.Range(0, 0, len(raw), 0, last=True)]


def test_a_record_longer_than_a_range_joins_the_range_before():
    raw = b'id,text\n1,"' + b"x\n" * 50 + b'"\n2,y\n'
    cut = _cut(raw, 10)
    _assert_cut_at_records(raw, cut)
    assert len(cut) < len(ranges.raw_ranges(len(raw), 10))


def test_a_non_rfc_quote_flips_the_parity_and_yields_a_cut_the_parser_refutes():
    # `32" TV` parses as a literal quote, but counts as an opening one: the cut after it lands
    # inside the next record's quoted field, which the range check (fanout) then catches.
    raw = b'id,text\n1,32" TV\n2,"multi\nline"\n3,z\n'
    cut = _cut(raw, 9)
    starts = {r.start for r in cut}
    assert raw.index(b"line") in starts  # a cut inside "multi\nline"
    first = next(r for r in cut if r.end == raw.index(b"line"))
    text = raw[first.start : first.end].decode()
    with pytest.raises(csv.Error, match="unexpected end of data"):  # what the range sees
        list(csv.reader(io.StringIO(text, newline=""), strict=True))


def test_too_many_ranges_makes_them_larger():
    raws = ranges.raw_ranges(100_000, 1, max_ranges=100)
    assert len(raws) == 100 and raws[-1].end == 100_000


@pytest.mark.parametrize(("size", "step"), [(101, 32), (96, 32), (97, 32), (1, 32), (5, 1)])
def test_raw_ranges_are_equal_cover_the_file_and_never_exceed_the_range_size(size, step):
    raws = ranges.raw_ranges(size, step)
    assert raws[0].start == 0 and raws[-1].end == size
    assert all(a.end == b.start for a, b in itertools.pairwise(raws))
    lengths = [r.end - r.start for r in raws]
    assert max(lengths) - min(lengths) <= 1 and max(lengths) <= step
    assert len(raws) == -(-size // step)  # as few as the range size allows


def test_counts_out_of_order_or_with_gaps_are_refused():
    raw = b"a\nb\nc\nd\n"
    raws = ranges.raw_ranges(len(raw), 2)
    counts = [ranges.count(r, [raw[r.start : r.end]]) for r in raws]
    assert ranges.cut(list(reversed(counts)), len(raw)) == ranges.cut(counts, len(raw))
    with pytest.raises(ValueError, match="starts at"):
        ranges.cut(counts[1:], len(raw))
    with pytest.raises(ValueError, match="cover"):
        ranges.cut(counts, len(raw) + 1)
    with pytest.raises(ValueError, match="expected"):
        ranges.count(raws[0], [b"a"])


def test_counts_round_trip_through_json_records():
    raw = b'x,"y\nz"\n'
    c = ranges.count(ranges.RawRange(0, 0, len(raw)), [raw[:3], raw[3:]])
    assert ranges.Counts.from_dict(c.as_dict()) == c
    assert c.quotes == 2 and c.newlines == 2 and c.first_lf == ((len(raw), 2), (5, 1))


_cells = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\u00e9\u2603\U0001f600')), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(_cells, min_size=2, max_size=2), min_size=1, max_size=12),
    size=st.integers(min_value=1, max_value=40),
    crlf=st.booleans(),
)
def test_any_rfc4180_file_is_cut_at_record_boundaries(rows, size, crlf):
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n" if crlf else "\n").writerows([["id", "text"], *rows])
    raw = buf.getvalue().encode()
    _assert_cut_at_records(raw, _cut(raw, size))
