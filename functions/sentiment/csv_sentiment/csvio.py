"""Streaming CSV input (decompression, encoding detection, line splitting, dialect detection)
and the output rows' CSV text.

Everything here works on iterators of bytes or text, never on a whole file, and never imports
boto3. Errors name the byte offset or line and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from csv_sentiment.errors import DecodeFailed, EmptyInput, LimitExceeded, NotCsv

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_INFLATE_STEP = 1024 * 1024  # decompress in bounded steps: a gzip bomb never fills memory

_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
)


def gunzip(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """Inflate a gzip stream (several members allowed), at most `max_bytes` of output."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    produced = read = 0
    member_open = False  # bytes of a member were fed and its end was not reached yet
    for chunk in chunks:
        read += len(chunk)
        data = chunk
        while data:
            member_open = True
            try:
                out = inflater.decompress(data, _INFLATE_STEP)
            except zlib.error as exc:
                raise NotCsv(
                    f"the gzip stream is corrupt within its first {read} bytes: {exc}",
                    expected="a valid gzip file (or drop the .gz suffix and Content-Encoding)",
                ) from None
            if out:
                produced += len(out)
                if produced > max_bytes:
                    raise input_too_big(max_bytes, compressed=True)
                yield out
            if inflater.eof:  # the next member, if any, starts in unused_data
                member_open = False
                data = inflater.unused_data
                inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = inflater.unconsumed_tail
    if member_open:
        raise NotCsv(
            f"the gzip stream ends early, after {read} bytes (a truncated upload?)",
            expected="a complete gzip file",
        )


def limit_bytes(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise input_too_big(max_bytes, compressed=False)
        yield chunk


def input_too_big(max_bytes: int, compressed: bool) -> LimitExceeded:
    """MAX_INPUT_MB exceeded (public: the fan-out refuses a big file by its size with it)."""
    what = "decompresses to more than" if compressed else "is larger than"
    return LimitExceeded(
        f"the file {what} {max_bytes // (1024 * 1024)} MiB (MAX_INPUT_MB)",
        expected="a smaller file (split it) or a higher MAX_INPUT_MB",
    )


@dataclass(frozen=True)
class Encoding:
    codec: str  # what the decoder uses
    name: str  # what the report says
    fallback: bool = False


def detect_encoding(head: bytes, fallback: str | None) -> Encoding:
    """Pick the encoding from the first bytes: BOM, else UTF-8, else the documented fallback."""
    if not head:
        raise EmptyInput("the file is empty (0 bytes)", expected="a CSV file with a header row")
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return Encoding(codec, name)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise NotCsv(
            f"byte {nul} is a NUL byte: this looks like a binary file, not a CSV",
            expected="a text CSV file (UTF-8, or UTF-16 with a BOM)",
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return Encoding("utf-8", "utf-8")
    except UnicodeDecodeError as exc:
        if fallback is None:
            utf8 = Encoding("utf-8", "utf-8")
            raise _undecodable(utf8, exc.start, head[exc.start : exc.start + 4]) from None
        return Encoding(fallback, fallback, fallback=True)


def _undecodable(encoding: Encoding, offset: int, sample: bytes) -> DecodeFailed:
    """What to do depends on where the bad byte is: ENCODING_FALLBACK is chosen from the first
    64 KiB only, so advising it for a later byte (or while it is in use) would not help."""
    if encoding.fallback:
        expected = (
            f"bytes that are valid {encoding.name} (ENCODING_FALLBACK, used because the first "
            "64 KiB are not UTF-8); save the file as UTF-8"
        )
    elif encoding.codec == "utf-8" and offset >= SAMPLE_BYTES:
        expected = (
            "one encoding for the whole file: its first 64 KiB are valid UTF-8, so it is read "
            "as UTF-8 (ENCODING_FALLBACK applies only when they are not); save it as UTF-8"
        )
    elif encoding.codec == "utf-8":
        expected = (
            "UTF-8 (with or without BOM) or UTF-16 with a BOM; set ENCODING_FALLBACK "
            "(e.g. cp1252) to read legacy files"
        )
    else:
        expected = f"valid {encoding.name} throughout, as the file's byte order mark says"
    return DecodeFailed(
        f"byte {offset} ({sample[:4].hex(' ')}) is not valid {encoding.name}",
        expected=expected,
        offset=offset,
        encoding=encoding.name,
    )


class RecordBudget:
    """What the record being parsed costs in memory, counted as csv.reader is fed each line.

    The reader asks for one line at a time and returns a record as soon as its last line is
    in, so the lines fed since the last record ended (`mark`) are the current record's. Its
    cost is counted as the parsed form needs it: up to 4 bytes a character (a str of emoji)
    and ~56 bytes a field (each delimiter may start one: a str object and its list slot). A
    record that would cost more than `limit` is refused at the line where it crosses, before
    the reader builds it: millions of tiny quoted multi-line fields in one record used to be
    parsed into gigabytes and only then found to have too many fields."""

    __slots__ = ("delimiter", "fed", "limit", "mark")

    CHAR_BYTES = 4
    FIELD_BYTES = 56

    def __init__(self, limit: int, delimiter: str = ","):
        self.fed = 0  # cost of every line fed so far
        self.mark = 0  # `fed` when the last complete record ended
        self.limit = limit
        self.delimiter = delimiter


def decode(
    chunks: Iterable[bytes], encoding: Encoding, first_byte: int = 0, first_line: int = 0
) -> Iterator[str]:
    """Decode incrementally; an undecodable byte names its offset, a NUL character its line.
    `first_byte` and `first_line`: where the chunks start in the file (a fan-out range), so
    errors name the file's own offsets and lines."""
    decoder = codecs.getincrementaldecoder(encoding.codec)("strict")
    fed = first_byte
    line_no = first_line
    for chunk in chunks:
        buffered = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            offset = fed - buffered + exc.start
            raise _undecodable(encoding, offset, exc.object[exc.start : exc.end]) from None
        fed += len(chunk)
        if not text:
            continue
        if "\x00" in text:  # binary content or a hostile file; the csv module would accept it
            nul_line = line_no + text.count("\n", 0, text.index("\x00")) + 1
            raise NotCsv(
                f"line {nul_line} contains a NUL character: this is not a text CSV",
                expected="a text CSV file without NUL characters",
                line=nul_line,
            )
        line_no += text.count("\n")
        yield text
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _undecodable(encoding, fed - len(exc.object) + exc.start, b"") from None
    if tail:
        yield tail


def sample_lines(texts: list[str]) -> list[str]:
    """The complete lines of the first SAMPLE_BYTES characters (the first line even if longer),
    to detect the delimiter from."""
    text = "".join(texts)
    end = text.find("\n", SAMPLE_BYTES)
    lines = text[: end if end >= 0 else len(text)].split("\n")
    return [line + "\n" for line in lines]


def iter_lines(texts: Iterable[str], budget: RecordBudget, first_line: int = 0) -> Iterator[str]:
    """Split decoded text on LF only (CR stays for the csv module, so CRLF works and characters
    such as U+2028 inside cells are not taken for line ends), counting each line into
    `budget` as csv.reader pulls it (see RecordBudget). `first_line`: the lines before the
    text in its file (a fan-out range), so errors name the file's own lines."""
    pending = ""
    line_no = first_line
    limit, delimiter = budget.limit, budget.delimiter
    char_bytes, field_bytes = RecordBudget.CHAR_BYTES, RecordBudget.FIELD_BYTES
    for text in texts:
        parts = text.split("\n")
        parts[0] = pending + parts[0]
        pending = parts.pop()
        for part in parts:
            line_no += 1
            cost = budget.fed + char_bytes * (len(part) + 1) + field_bytes * part.count(delimiter)
            budget.fed = cost
            if cost - budget.mark > limit:
                raise _record_too_big(line_no, limit)
            yield part + "\n"
        if char_bytes * len(pending) > limit:  # a line still growing: refuse it before it ends
            raise _record_too_big(line_no + 1, limit)
    if pending:
        if budget.fed + char_bytes * len(pending) - budget.mark > limit:
            raise _record_too_big(line_no + 1, limit)
        yield pending


def _record_too_big(line_no: int, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"the record (row) that reaches line {line_no} would take more than "
        f"{limit / (1024 * 1024):.0f} MiB of memory to parse (up to 4 bytes a character, "
        "~56 a field); it was refused before it was parsed",
        expected="rows of at most MAX_COLUMNS fields and cells of at most MAX_CELL_CHARS "
        "characters (a row may take 8 x MAX_CELL_CHARS bytes); check for a quote never closed",
        line=line_no,
    )


def detect_delimiter(sample_lines: list[str]) -> str:
    """The candidate that splits the header into the most columns consistently with the rows
    that follow; a single-column file falls back to comma."""
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(sample_lines, delimiter=delimiter))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the last may be cut by the sample
        consistent = sum(1 for r in body if len(r) == width or not r) / len(body) if body else 1.0
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def format_rows(rows: Iterable[list]) -> str:
    """The rows as CSV text: comma, LF, minimal quoting. Python's writer leaves a bare CR
    unquoted when the line terminator is LF, so a reader would split the row there (and a
    neutralised "'\\r=cmd" would reach a spreadsheet as "=cmd"): the rare text that holds a CR
    is written again with every text cell of the rows that hold one quoted."""
    parts: list[str] = []
    csv.writer(_Sink(parts), lineterminator="\n").writerows(rows)
    text = "".join(parts)
    if "\r" not in text:  # the output's own line ends are LF: a CR comes from a cell
        return text
    parts.clear()
    plain = csv.writer(_Sink(parts), lineterminator="\n")
    quoted = csv.writer(_Sink(parts), lineterminator="\n", quoting=csv.QUOTE_STRINGS)
    for row in rows:
        has_cr = any(isinstance(c, str) and "\r" in c for c in row)
        (quoted if has_cr else plain).writerow(row)
    return "".join(parts)


class _Sink:
    """A file-like `write` into a list: the text of one batch stays compact (a reused
    io.StringIO keeps a 4-bytes-per-character buffer of its largest batch) and is joined once."""

    def __init__(self, parts: list[str]):
        self.write = parts.append
