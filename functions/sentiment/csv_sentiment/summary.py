"""What the insights pages need from a run, gathered batch by batch while the file is scored:
a histogram of the compound scores and the most positive and most negative rows with their
line numbers. The pages read run reports only, never a scored file again, so this is the one
place that sees every score. No I/O; the report fields are described in
schemas/run-report.schema.json (schema_version 2).

Cost: a sort of a batch's compound scores (in C) plus a heap of `keep` rows; a row's position
and line are worked out only for rows that enter the heap (bench: tests/bench/bench_summary.py).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from csv_sentiment.reports import ExtremeRow, Extremes, Histogram

HISTOGRAM_BINS = 20  # bins of 0.1 over [-1, 1]: fine enough to see a shape, small in a report
KEEP = 5  # rows kept at each end
MAX_TEXT_CHARS = 280  # a report is small whatever the cells hold


def policy_of(limit: int | None) -> str | int:
    """The report's text_policy for a text limit as the ANALYTICS_TEXT setting gives it
    (None: the whole text, 0: none, N: the first N characters)."""
    if limit is None:
        return "full"
    return "none" if limit <= 0 else limit


@dataclass
class Summary:
    header_end_line: int = 1
    policy: str | int = "full"
    keep: int = KEEP
    bins: int = HISTOGRAM_BINS
    counts: list[int] = field(init=False)
    _rows: int = field(init=False, default=0)
    _last_line: int = field(init=False)
    # Min-heaps of (key, tie, row, line, text): the root is the weakest of the kept rows.
    _top: list[tuple] = field(init=False, default_factory=list)
    _bottom: list[tuple] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.counts = [0] * self.bins
        # Upper edges of every bin but the last (which also holds 1.0): bin i is [e(i-1), e(i)).
        self._edges = [-1.0 + 2.0 * (i + 1) / self.bins for i in range(self.bins - 1)]
        self._last_line = self.header_end_line

    def add(
        self,
        kinds: Sequence[str],
        texts: Sequence[str],
        scores: Sequence[Sequence[float]],
        end_lines: Sequence[int],
    ) -> None:
        """One batch as RowScorer prepared it: `kinds[i]` is "" for a scored row, `texts` and
        `scores` are the scored rows in order, `end_lines[i]` the line row i ends on."""
        compounds = [s[3] for s in scores]
        # Bin by bisecting the sorted scores at the bin edges: C speed, no per-row Python.
        ordered = sorted(compounds)
        below = 0
        for b, edge in enumerate(self._edges):
            upto = bisect_left(ordered, edge)
            self.counts[b] += upto - below
            below = upto
        self.counts[-1] += len(ordered) - below
        entering = self._entering(compounds)
        if entering:
            self._keep_rows(entering, kinds, texts, compounds, end_lines)
        self._rows += len(kinds)
        if end_lines:
            self._last_line = end_lines[-1]

    def _entering(self, compounds: list[float]) -> list[int]:
        """Indexes of the scored rows that beat the weakest kept row at either end."""
        k = self.keep
        if k <= 0 or not compounds:
            return []
        lo = self._top[0][0] if len(self._top) >= k else -2.0
        hi = -self._bottom[0][0] if len(self._bottom) >= k else 2.0
        if len(compounds) <= 4 * k:
            return [j for j, c in enumerate(compounds) if c > lo or c < hi]
        # Usually only a handful of a batch's rows can enter: find them without a Python loop
        # over every row (nlargest/nsmallest run in C over the keyed range).
        best = heapq.nlargest(k, range(len(compounds)), key=compounds.__getitem__)
        worst = heapq.nsmallest(k, range(len(compounds)), key=compounds.__getitem__)
        return sorted(
            {j for j in best if compounds[j] > lo} | {j for j in worst if compounds[j] < hi}
        )

    def _keep_rows(self, entering, kinds, texts, compounds, end_lines) -> None:
        position = [i for i, kind in enumerate(kinds) if not kind]  # text index -> row index
        for j in entering:
            i = position[j]
            row = self._rows + i + 1
            line = (end_lines[i - 1] if i else self._last_line) + 1
            c = compounds[j]
            # Ties keep the earlier row: a smaller row number is "stronger".
            self._push(self._top, (c, -row, row, line, j, texts))
            self._push(self._bottom, (-c, -row, row, line, j, texts))

    def _push(self, heap: list, item: tuple) -> None:
        key, tie, row, line, j, texts = item
        self._offer(heap, (key, tie, row, line, self._text(texts[j])))

    def _offer(self, heap: list, entry: tuple) -> None:
        if len(heap) < self.keep:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)

    def partial(self) -> dict:
        """This summary as JSON (a fan-out range's), for `merged`."""
        return {
            "rows": self._rows,
            "counts": list(self.counts),
            "top": [list(e) for e in self._top],
            "bottom": [list(e) for e in self._bottom],
        }

    @classmethod
    def merged(cls, parts: Sequence[dict], policy: str | int = "full") -> Summary:
        """One summary of consecutive parts of a file, in file order (fan-out ranges): row
        numbers move by the rows before each part; lines are the file's already."""
        whole = cls(policy=policy)
        before = 0
        for part in parts:
            whole.counts = [a + b for a, b in zip(whole.counts, part["counts"], strict=True)]
            for heap, side in ((whole._top, "top"), (whole._bottom, "bottom")):
                for key, _, row, line, text in part[side]:
                    moved = row + before
                    whole._offer(heap, (key, -moved, moved, line, tuple(text) if text else None))
            before += part["rows"]
        whole._rows = before
        return whole

    def _text(self, text: str) -> tuple[str, bool] | None:
        if self.policy == "none":
            return None
        limit = MAX_TEXT_CHARS if self.policy == "full" else min(int(self.policy), MAX_TEXT_CHARS)
        return text[:limit], len(text) > limit

    def histogram(self) -> Histogram:
        return {"low": -1, "high": 1, "counts": list(self.counts)}

    def extremes(self) -> Extremes:
        return {
            "text_policy": self.policy,
            "max_chars": MAX_TEXT_CHARS,
            "most_positive": [self._row(e, 1) for e in sorted(self._top, reverse=True)],
            "most_negative": [self._row(e, -1) for e in sorted(self._bottom, reverse=True)],
        }

    @staticmethod
    def _row(entry: tuple, sign: int) -> ExtremeRow:
        key, _, row, line, text = entry
        out: ExtremeRow = {"row": row, "line": line, "compound": sign * key}
        if text is not None:
            out["text"], out["truncated"] = text
        return out
