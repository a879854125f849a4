"""The pure core: choose the text column, score rows, keep the counts. No I/O, no boto3.

Rows go in as lists of strings exactly as the csv module parsed them and come out as lists
ready for `csv.writer`: input cells unchanged (except formula neutralisation), then
neg, neu, pos, compound (the engine's floats; `csv.writer` writes `repr`, which parses back to
the identical float) and the sentiment label.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from csv_sentiment.errors import (
    BACKSLASH_QUOTES_ADVICE,
    MalformedRow,
    TextColumnNotFound,
    clip,
    clip_all,
)

SCORE_COLUMNS = ("neg", "neu", "pos", "compound", "sentiment")
TEXT_COLUMN_NAMES = ("text", "review", "comment", "body", "message", "content", "tweet")
LABELS = ("positive", "negative", "neutral", "none", "rejected")
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05

# OWASP CSV injection: cells a spreadsheet would read as a formula. Numbers like -3 or +1.5e3
# are left alone (they are data, and a spreadsheet treats them as numbers anyway).
_FORMULA_START = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EMPTY_SCORES = ("", "", "", "")


def label(compound: float) -> str:
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def neutralise(cell: str) -> str:
    if cell and cell[0] in _FORMULA_START and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def output_header(header: Sequence[str], neutralise_formulas: bool = True) -> list[str]:
    """The input header (its cells neutralised like data cells: a header is text from the same
    stranger), then the score columns. An input column is never overwritten: a score column
    whose name equals an input column's, ignoring case (Athena, Glue, Spark and Excel treat
    `NEG` and `neg` as one column), is prefixed `vader_` (repeatedly, if that clashes too)."""
    names = [neutralise(h) for h in header] if neutralise_formulas else list(header)
    taken = {h.casefold() for h in names}
    for name in SCORE_COLUMNS:
        while name.casefold() in taken:
            name = "vader_" + name
        taken.add(name.casefold())
        names.append(name)
    return names


def _is_number(value: str) -> bool:
    return bool(_NUMBER.fullmatch(value.strip()))


def resolve_text_column(
    header: Sequence[str], sample_rows: Sequence[Sequence[str]], setting: str
) -> int:
    """Index of the column to score: the setting (exact, then case-insensitive), else a
    conventional name, else the only non-numeric column of the sample."""
    listing = ", ".join(clip_all(list(header))) if header else "(none)"
    if setting:
        if setting in header:
            return header.index(setting)
        folded = [h.strip().casefold() for h in header]
        if setting.strip().casefold() in folded:
            return folded.index(setting.strip().casefold())
        raise TextColumnNotFound(
            f"column {clip(setting)!r} not found; columns are: {listing}",
            expected="TEXT_COLUMN (or the object's text-column metadata) naming a column",
            columns=list(header),
        )
    folded = [h.strip().casefold() for h in header]
    for name in TEXT_COLUMN_NAMES:
        if name in folded:
            return folded.index(name)
    textual = [
        i
        for i in range(len(header))
        if any(i < len(r) and r[i].strip() and not _is_number(r[i]) for r in sample_rows)
    ]
    if len(textual) == 1:
        return textual[0]
    why = "no column holds text" if not textual else f"{len(textual)} columns hold text"
    raise TextColumnNotFound(
        f"cannot tell which column to score ({why}); columns are: {listing}",
        expected="a column named " + "/".join(TEXT_COLUMN_NAMES)
        + ", or TEXT_COLUMN / the object's text-column metadata naming one",
        columns=list(header),
    )  # fmt: skip


@dataclass
class Batch:
    """Parsed rows of one batch, what each is (scored or a label), and the texts to score."""

    rows: list[list[str]]
    kinds: list[str]
    texts: list[str]


@dataclass
class Counts:
    total: int = 0
    scored: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    compound_sum: float = 0.0

    @property
    def mean_compound(self) -> float | None:
        return round(self.compound_sum / self.scored, 6) if self.scored else None


def _too_many_fields(row: list[str], line: int, width: int) -> MalformedRow:
    expected = "at most as many fields as header columns (quote cells that contain the delimiter)"
    if any(c.endswith("\\") or '\\"' in c for c in row):  # a backslash-escaped quote split a cell
        expected += "; the row holds a backslash before a quote: " + BACKSLASH_QUOTES_ADVICE
    return MalformedRow(
        f"line {line} has {len(row)} fields but the header has {width}", expected=expected,
        line=line,
    )  # fmt: skip


class RowScorer:
    """Prepares batches of parsed rows for one file and builds their output rows; the scores
    themselves come from whoever scores the texts (in process or in worker processes)."""

    def __init__(
        self,
        width: int,
        text_index: int,
        max_text_chars: int,
        neutralise_formulas: bool,
        header_end_line: int = 1,
    ):
        self.width = width
        self.text_index = text_index
        self.max_text_chars = max_text_chars
        self.neutralise = neutralise_formulas
        self.counts = Counts()
        self._last_line = header_end_line  # the line before the next batch

    def prepare(self, rows: list[list[str]], end_lines: Sequence[int]) -> Batch:
        """Validate and pad `rows` and pick the texts to score; `end_lines[i]` is the line row i
        ends on (the csv reader's `line_num` after it), used only to name a line in an error."""
        width, ti, limit = self.width, self.text_index, self.max_text_chars
        texts: list[str] = []
        kinds: list[str] = []  # "" scored, or the label of an unscored row
        for i, row in enumerate(rows):
            n = len(row)
            if n != width:
                if n > width:
                    line = (end_lines[i - 1] if i else self._last_line) + 1
                    raise _too_many_fields(row, line, width)
                row.extend([""] * (width - n))
            text = row[ti]
            if len(text) > limit:
                kinds.append("rejected")
            elif text.strip():
                kinds.append("")
                texts.append(text)
            else:
                kinds.append("none")
        if end_lines:
            self._last_line = end_lines[-1]
        return Batch(rows, kinds, texts)

    def finish(self, batch: Batch, scores: Sequence[tuple[float, float, float, float]]) -> list:
        """The output rows of a prepared batch, given the scores of its texts."""
        if len(scores) != len(batch.texts):
            raise RuntimeError(f"{len(scores)} scores for {len(batch.texts)} texts")
        formula = _FORMULA_START if self.neutralise else frozenset()
        scored = iter(scores)
        out = []
        names = []
        compound_sum = 0.0
        for row, kind in zip(batch.rows, batch.kinds, strict=True):
            if formula:  # most cells start with a letter: only suspects pay for the check
                row = [neutralise(c) if c[:1] in formula else c for c in row]
            if kind:
                row.extend((*_EMPTY_SCORES, kind))
                names.append(kind)
            else:
                neg, neu, pos, compound = next(scored)
                name = label(compound)
                compound_sum += compound
                row.extend((neg, neu, pos, compound, name))
                names.append(name)
            out.append(row)
        counts = self.counts
        for name, k in Counter(names).items():
            counts.labels[name] += k
        counts.compound_sum += compound_sum
        counts.total += len(batch.rows)
        counts.scored += len(batch.texts)
        return out
