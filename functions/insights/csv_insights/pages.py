"""The HTML pages: one per scored file and the index. Self-contained (inline CSS and SVG, no
script, no font or file from elsewhere), readable from 320 px up, and everything that comes
from the input (texts, column names, keys) escaped: it is text from strangers.

Aggregation is pandas' (shares, bins, the daily trend); drawing is charts' (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import quote

import pandas as pd

from csv_insights import charts
from csv_insights.state import LABELS, Entry, State, trend

_CSS = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#fff}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin-top:2rem}
figure{margin:0}
svg{width:100%;max-width:40rem;height:auto;display:block}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{white-space:nowrap}
td{min-width:7rem;overflow-wrap:anywhere}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;min-width:0}
td.w{white-space:nowrap;min-width:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
a{color:#0550ae}
.note{color:#57606a}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'  # no favicon request: nothing but this page
        # No script, style or image from anywhere else, and nothing that could run.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def table(caption: str, columns: Sequence[str], rows: Sequence[Sequence[object]],
          kinds: str = "") -> str:  # fmt: skip
    """An accessible table: caption, header cells with scope, every cell escaped. `kinds`:
    one letter per column, n (number), w (short, kept on one line) or t (text, wraps). On a
    narrow screen a wide table scrolls inside its box, never the page. A cell given as
    ("html", markup) is trusted markup built here (a link), never input text."""
    kinds = kinds or "t" * len(columns)
    cls = [f' class="{k}"' if k in "nw" else "" for k in kinds]
    head = "".join(f'<th scope="col"{c}>{_e(h)}</th>' for h, c in zip(columns, cls, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{c}>{_cell(v)}</td>" for v, c in zip(row, cls, strict=True)) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll" role="region" aria-label="{_e(caption)}" tabindex="0">'
        f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr>"
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def _cell(value: object) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "html":
        return value[1]
    if value is None:
        return "–"
    return _e(value)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def file_page(rel: str, report: dict, date: str, output_bucket: str) -> str:
    rows, labels = report["rows"], report["labels"]
    total = rows["total"]
    shares = pd.Series({name: labels[name] for name in LABELS}, dtype="int64")
    share_pct = (shares / total * 100).round(1) if total else shares * 0.0
    hist = report["compound_histogram"]
    counts = hist["counts"]
    edges = pd.Series(range(len(counts) + 1)) * (hist["high"] - hist["low"]) / len(counts)
    edges = (edges + hist["low"]).round(2)
    bins = pd.DataFrame({"from": edges[:-1].to_numpy(), "to": edges[1:].to_numpy(),
                         "rows": counts})  # fmt: skip
    src = report["source"]
    title = f"Sentiment of {rel}"
    label_text = "Rows per label: " + ", ".join(f"{n} {shares[n]}" for n in LABELS)
    hist_text = (
        f"Distribution of compound scores of {rows['scored']} scored rows in "
        f"{len(counts)} bins from {hist['low']} to {hist['high']}"
    )
    ext = report["extremes"]
    facts = [
        ("file", f"s3://{src.get('bucket', '')}/{src.get('key', '')}"),
        ("scored file", f"s3://{output_bucket}/{report['outputs'].get('scored', '')}"),
        ("scored on", date),
        ("rows", f"{total} ({rows['scored']} scored, {rows['none']} blank, "
                 f"{rows['rejected']} rejected)"),
        ("mean compound", _num(report.get("mean_compound"))),
        ("text column", report["text_column"]),
        ("columns", report.get("columns", "–")),
        ("size", f"{src.get('size') or 0:,} bytes ({report.get('encoding', '?')}, "
                 f"{report.get('delimiter', '?')}-delimited)"),
        ("duration", f"{report.get('duration_seconds', 0)} s"
                     f" ({report.get('rows_per_second') or '–'} rows/s)"),
        ("model", report.get("model", "")),
    ]  # fmt: skip
    body = [
        f"<h1>{_e(title)}</h1>",
        '<p><a href="index.html">All scored files</a></p>' if "/" not in rel else
        f'<p><a href="{"../" * rel.count("/")}index.html">All scored files</a></p>',
        "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
        "<h2>Labels</h2>",
        f"<figure>{charts.label_bars('labels', LABELS, shares.tolist(), label_text)}</figure>",
        table("Rows per label", ["label", "rows", "share"],
              [(n, int(shares[n]), f"{share_pct[n]:.1f}%") for n in LABELS], "wnn"),
        "<h2>Compound scores</h2>",
        f"<figure>{charts.histogram('hist', hist['low'], hist['high'], counts, hist_text)}"
        "</figure>",
        table("Scored rows per compound bin", ["from", "to", "rows"],
              [(f"{r['from']:.2f}", f"{r['to']:.2f}", int(r["rows"])) for _, r in bins.iterrows()],
              "nnn"),
        # A small file's "most positive" five may include negative rows: only each side's own.
        _extremes("Most positive rows", [r for r in ext["most_positive"] if r["compound"] > 0],
                  ext),
        _extremes("Most negative rows", [r for r in ext["most_negative"] if r["compound"] < 0],
                  ext),
    ]  # fmt: skip
    return _document(title, "\n".join(body))


def _extremes(title: str, rows: list[dict], ext: dict) -> str:
    policy = ext.get("text_policy", "full")
    note = (
        '<p class="note">Texts are not shown (text policy: none).</p>'
        if policy == "none"
        else f'<p class="note">Texts cut to {_e(policy)} characters.</p>'
        if isinstance(policy, int)
        else ""
    )
    if not rows:
        return f"<h2>{_e(title)}</h2><p>No scored rows.</p>"
    cells = [
        (r["row"], r["line"], f"{r['compound']:.4f}",
         (r.get("text", "") + ("…" if r.get("truncated") else "")) if policy != "none" else "–")
        for r in rows
    ]  # fmt: skip
    return f"<h2>{_e(title)}</h2>{note}" + table(
        title, ["row", "line", "compound", "text"], cells, "nnnt"
    )


def link(rel: str, prefix: str = "") -> tuple[str, str]:
    """A link to a file's page, relative to the index; the key is URL-quoted and escaped."""
    href = prefix + quote(rel, safe="/") + ".html"
    return ("html", f'<a href="{_e(href)}">{_e(rel)}</a>')


def _mix(labels: dict[str, int], rows: int) -> str:
    return " / ".join(_pct(labels[n], rows) for n in ("positive", "negative", "neutral"))


def file_rows(entries: Sequence[Entry]) -> list[tuple]:
    return [
        (link(e["rel"]), e["date"], e["rows"], _mix(e["labels"], e["rows"]),
         _num(e["mean_compound"]))
        for e in entries
    ]  # fmt: skip


FILE_COLUMNS = ["file", "scored on", "rows", "pos / neg / neu", "mean compound"]
FILE_KINDS = "twnwn"


def index_page(state: State) -> str:
    days = trend(state)
    frame = pd.DataFrame(
        [{"date": d, "files": v["files"], "rows": v["rows"], "scored": v["scored"],
          "compound_sum": v["compound_sum"]} for d, v in days],
        columns=["date", "files", "rows", "scored", "compound_sum"],
    )  # fmt: skip
    frame["mean"] = (frame["compound_sum"] / frame["scored"].where(frame["scored"] > 0)).round(4)
    means = [None if pd.isna(m) else float(m) for m in frame["mean"]]
    title = "Sentiment insights: every scored file"
    body = [f"<h1>{_e(title)}</h1>",
            f"<p>{_count(state['files'], 'file')}, {_count(int(frame['rows'].sum()), 'row')}, "
            f"{_count(len(days), 'day')}.</p>"]  # fmt: skip
    if days:
        body += _trend_section(frame, means)
    latest = list(reversed(state["latest"]))
    body += ["<h2>Latest files</h2>",
             table("Latest scored files, newest first", FILE_COLUMNS, file_rows(latest),
                   FILE_KINDS) if latest else "<p>No files yet.</p>"]  # fmt: skip
    if state["pages"]:
        links = "".join(
            f'<li><a href="index-{n}.html">files {(n - 1) * 100 + 1}–{n * 100}</a></li>'
            for n in range(state["pages"], 0, -1)
        )
        body += ["<h2>Earlier files</h2>", f"<ul>{links}</ul>"]
    return _document(title, "\n".join(body))


def _trend_section(frame: pd.DataFrame, means: list[float | None]) -> list[str]:
    dates = list(frame["date"])
    # The label summarises; the numbers of every day are in the table that follows.
    text = (
        f"Files per day (bars) and mean compound per day (line, from -1 to 1) over "
        f"{_count(len(dates), 'day')}, {dates[0]} to {dates[-1]}; the table below lists them"
    )
    svg = charts.trend("trend", dates, means, frame["files"].tolist(), text)
    rows = [
        (d, int(f), int(r), _num(m))
        for d, f, r, m in zip(dates, frame["files"], frame["rows"], means, strict=True)
    ]
    return [
        "<h2>Trend over days</h2>",
        f"<figure>{svg}</figure>",
        table(
            "Files, rows and mean compound per day",
            ["day", "files", "rows", "mean compound"],
            rows,
            "wnnn",
        ),
    ]


def listing_page(number: int, entries: Sequence[Entry]) -> str:
    title = f"Sentiment insights: files, page {number}"
    body = [f"<h1>{_e(title)}</h1>", '<p><a href="index.html">All scored files</a></p>',
            table(f"Scored files, page {number}", FILE_COLUMNS, file_rows(entries),
                  FILE_KINDS)]  # fmt: skip
    return _document(title, "\n".join(body))
