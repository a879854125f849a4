"""Charts as inline SVG, drawn with matplotlib's object API (no pyplot, no global state).

Text stays text (`svg.fonttype: none`), so the page needs no embedded or downloaded font and
a screen reader or a search finds the labels; ids are salted per chart so that two charts in
one page never share an id. Every chart gets role="img" and an aria-label; its numbers are
also in a table on the page. Charts never draw text from the input: only labels, dates and
numbers.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from html import escape

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.family": "sans-serif",  # DejaVu Sans ships with matplotlib; browsers fall back
        "font.size": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)

COLOURS = {
    "positive": "#1a7f37",
    "negative": "#b42318",
    "neutral": "#57606a",
    "none": "#8c959f",
    "rejected": "#8250df",
}
_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)  # RDF about the file: not needed


def _svg(fig: Figure, chart_id: str, label: str) -> str:
    matplotlib.rcParams["svg.hashsalt"] = chart_id  # deterministic, per-chart ids
    out = io.StringIO()
    FigureCanvasSVG(fig).print_svg(out, metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _PROLOG.sub("", out.getvalue(), count=1), count=1)
    # Scales with its container (no fixed width: no horizontal scroll on a phone).
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    return svg.replace(
        "<svg", f'<svg role="img" aria-label="{escape(label)}" id="{escape(chart_id)}"', 1
    )


def label_bars(chart_id: str, labels: Sequence[str], counts: Sequence[int], label: str) -> str:
    fig = Figure(figsize=(6, 2.4))
    ax = fig.add_subplot()
    ax.barh(list(labels), list(counts), color=[COLOURS.get(n, "#57606a") for n in labels])
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("rows")
    for y, value in enumerate(counts):
        ax.annotate(str(value), (value, y), xytext=(3, 0), textcoords="offset points",
                    va="center")  # fmt: skip
    fig.tight_layout()
    return _svg(fig, chart_id, label)


def histogram(chart_id: str, low: float, high: float, counts: Sequence[int], label: str) -> str:
    width = (high - low) / len(counts)
    lefts = [low + i * width for i in range(len(counts))]
    colours = [
        COLOURS["negative"] if x + width <= -0.05 else COLOURS["positive"] if x >= 0.05
        else COLOURS["neutral"]
        for x in lefts
    ]  # fmt: skip
    fig = Figure(figsize=(6, 2.6))
    ax = fig.add_subplot()
    ax.bar(lefts, list(counts), width=width, align="edge", color=colours, edgecolor="white")
    ax.set_xlim(low, high)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("compound score")
    ax.set_ylabel("rows")
    fig.tight_layout()
    return _svg(fig, chart_id, label)


def trend(chart_id: str, dates: Sequence[str], means: Sequence[float | None], files: Sequence[int],
          label: str) -> str:  # fmt: skip
    """Files per day (bars) and the mean compound per day (line); at most 8 date labels."""
    x = list(range(len(dates)))
    fig = Figure(figsize=(6, 2.6))
    ax = fig.add_subplot()
    ax.bar(x, list(files), color="#d0d7de", width=0.8)
    ax.set_ylabel("files")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(x, [m if m is not None else float("nan") for m in means], marker="o",
             color="#0969da")  # fmt: skip
    ax2.set_ylim(-1, 1)
    ax2.set_ylabel("mean compound")
    ax2.spines["right"].set_visible(True)
    step = max(1, -(-len(dates) // 8))
    ax.set_xticks(x[::step], list(dates)[::step], rotation=30, ha="right")
    ax.set_xlim(-0.6, len(dates) - 0.4)
    fig.tight_layout()
    return _svg(fig, chart_id, label)
