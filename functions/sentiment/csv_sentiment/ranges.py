"""Cut one CSV into byte ranges that start and end on record boundaries, without one serial
scan of the whole file. No I/O, no boto3.

Whether an offset lies inside a quoted field depends only on the parity of the quote
characters before it (RFC 4180: a quote inside a quoted field is doubled). So each raw range
is counted on its own, in parallel (`count`): its quotes, its newlines, and the first LF after
which the local quote count is even and the first after which it is odd. Prefix sums of the
quote counts then say, for every raw range, which of the two is the real record end (`cut`).

Quotes (0x22) and LF (0x0A) never occur inside a multi-byte UTF-8 (or cp1252) character, and a
cut always falls just after an LF, so neither a split character nor a split CRLF can matter.
Files that are not RFC 4180 (`1,32" TV` flips the parity) are caught later: every range is
parsed with the real (strict) parser, which fails when a range ends inside a quoted field, so
a wrong cut is an error naming the line, never a silently different result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

QUOTE = 0x22
LF = 0x0A


@dataclass(frozen=True)
class RawRange:
    index: int
    start: int
    end: int  # exclusive


def raw_ranges(size: int, range_bytes: int, max_ranges: int = 9_000) -> list[RawRange]:
    """Equal raw ranges of at most about `range_bytes` (larger if the file would need more
    than `max_ranges`: S3 multipart uploads take at most 10,000 parts). Equal, not
    `range_bytes` and a remainder: 101 MB at 32 MB were 32+32+32+5, so with two instances one
    idled through the second wave; as 4 x 25 both finish together."""
    if size <= 0:
        return []
    step = max(range_bytes, -(-size // max_ranges))
    n = -(-size // step)
    bounds = [size * i // n for i in range(n + 1)]
    return [RawRange(i, bounds[i], bounds[i + 1]) for i in range(n)]


@dataclass(frozen=True)
class Counts:
    """What one raw range contributes to the cut. `first_lf[p]` is the offset just after the
    first LF preceded (within the range) by a number of quotes of parity p, and the number of
    LFs up to and including it; None when there is no such LF."""

    index: int
    start: int
    end: int
    quotes: int
    newlines: int
    first_lf: tuple[tuple[int, int] | None, tuple[int, int] | None]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Counts:
        first = tuple(tuple(x) if x is not None else None for x in d["first_lf"])
        return cls(d["index"], d["start"], d["end"], d["quotes"], d["newlines"], first)  # type: ignore[arg-type]


def count(raw: RawRange, chunks: Iterable[bytes]) -> Counts:
    """Count one raw range's bytes (C-speed `bytes.count`; the LF search stops as soon as both
    parities are found, normally within the first two lines)."""
    quotes = newlines = 0
    offset = raw.start
    first: list[tuple[int, int] | None] = [None, None]
    for chunk in chunks:
        if first[0] is None or first[1] is None:
            pos = 0
            q = quotes
            nl = newlines
            while (lf := chunk.find(b"\n", pos)) >= 0:
                q += chunk.count(b'"', pos, lf)
                nl += 1
                if first[q & 1] is None:
                    first[q & 1] = (offset + lf + 1, nl)
                    if first[0] is not None and first[1] is not None:
                        break
                pos = lf + 1
        quotes += chunk.count(b'"')
        newlines += chunk.count(b"\n")
        offset += len(chunk)
    if offset != raw.end:
        raise ValueError(f"range {raw.index}: read {offset - raw.start} bytes, expected "
                         f"{raw.end - raw.start}")  # fmt: skip
    return Counts(raw.index, raw.start, raw.end, quotes, newlines, (first[0], first[1]))


@dataclass(frozen=True)
class Range:
    """A range to score: [start, end) holds whole records; `first_line` is the number of
    lines (LFs) before it, so its errors name the file's own line numbers."""

    index: int
    start: int
    end: int
    first_line: int
    last: bool

    def as_dict(self) -> dict:
        return asdict(self)


def cut(counts: list[Counts], size: int) -> list[Range]:
    """Record-boundary ranges from the raw ranges' counts (in order, covering the file).

    A raw range with no LF at the right parity holds no record end: it joins the range before
    it (a record longer than a range)."""
    counts = sorted(counts, key=lambda c: c.index)
    expected = 0
    for c in counts:
        if c.start != expected:
            raise ValueError(f"range {c.index} starts at {c.start}, expected {expected}")
        expected = c.end
    if expected != size:
        raise ValueError(f"the ranges cover {expected} of {size} bytes")
    starts = [(0, 0)]  # (byte offset, lines before it)
    quotes_before = newlines_before = 0
    for c in counts:
        if c.index > 0:
            hit = c.first_lf[quotes_before & 1]
            if hit is not None and hit[0] < size:
                starts.append((hit[0], newlines_before + hit[1]))
        quotes_before += c.quotes
        newlines_before += c.newlines
    ranges = []
    for i, (start, line) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else size
        ranges.append(Range(i, start, end, line, last=i + 1 == len(starts)))
    return ranges
