"""Every named query of app.yaml, translated Trino → DuckDB by sqlglot, runs in DuckDB over the
dataset files the job wrote (column types from app.yaml's Glue table) and answers what the run
reports and scored CSVs say."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict

import pytest

from infra.deploy import templates
from infra.local import athena
from tests.functional.analytics_helpers import ShiftedUploads
from tests.functional.s3_harness import event_for

QUERIES = {
    "label share per day",
    "mean compound per file",
    "most negative texts of the last 7 days",
    "files with the most blank or rejected rows",
    "snapshot into a Parquet table",
}


def _resources(kind: str) -> dict[str, dict]:
    _, template = templates.load("app")
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def _named_queries() -> dict[str, str]:
    return {p["Name"]: p["QueryString"] for p in _resources("AWS::Athena::NamedQuery").values()}


def _files(corpus_path) -> dict[str, bytes]:
    """Three files of real corpus texts, with blank and over-long texts mixed in."""
    with corpus_path.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)][:2400]
    files = {}
    for n in range(3):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "text"])
        for i, text in enumerate(texts[n * 800 : (n + 1) * 800]):
            writer.writerow([i, "" if i % (97 + n) == 0 else text])
        for i in range(n):
            writer.writerow([f"long{i}", "y" * 3000])  # rejected with MAX_TEXT_CHARS=2000
        files[f"input/q{n}.csv"] = out.getvalue().encode()
    return files


@pytest.fixture(scope="module")
def scored(moto_server, corpus_path, tmp_path_factory):
    """The job run over three files (one uploaded 10 days ago), then its dataset on disk."""
    import boto3

    from csv_sentiment import s3io
    from csv_sentiment.engine import load_engine
    from csv_sentiment.events import records
    from csv_sentiment.workers import InProcess
    from tests.functional.s3_harness import Harness

    env = moto_server.env()
    s3 = boto3.client("s3", config=s3io.client_config(), endpoint_url=env["AWS_ENDPOINT_URL"],
                      region_name=env["AWS_REGION"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    buckets = {"input": "q-in-analytics", "output": "q-out-analytics"}
    for name in buckets.values():
        s3.create_bucket(Bucket=name)
    harness = Harness(s3, buckets, InProcess(load_engine("fast")))
    reports, sources = {}, _files(corpus_path)
    for key, body in sources.items():
        harness.put(key, body)
        (ref,) = records(event_for(s3, buckets["input"], key))
        shifted = ShiftedUploads(s3, days=10 if key.endswith("q2.csv") else 0)
        reports[key] = harness.job(s3=shifted, MAX_TEXT_CHARS="2000").process(ref)
    with athena.dataset_on_disk(s3, f"s3://{buckets['output']}/analytics/scores/") as files:
        (table,) = _resources("AWS::Glue::Table").values()
        con = athena.connect(table["TableInput"], files)
        yield con, reports, sources, harness
        con.close()


def _day(report: dict) -> str:
    return report["outputs"]["analytics"][0].split("upload_date=")[1].split("/")[0]


def test_the_template_declares_the_five_named_queries():
    assert set(_named_queries()) == QUERIES


def test_label_share_per_day_equals_the_reports(scored):
    con, reports, _, _ = scored
    columns, rows = athena.run(con, _named_queries()["label share per day"])
    assert columns == ["upload_date", "sentiment", "row_count", "share_percent"]
    expected: dict[str, Counter] = defaultdict(Counter)
    for report in reports.values():
        expected[_day(report)].update({k: v for k, v in report["labels"].items() if v})
    assert len(expected) == 2  # two upload days
    got = {(day, label): (n, float(share)) for day, label, n, share in rows}
    want = {}
    for day, labels in expected.items():
        total = sum(labels.values())
        for label, n in labels.items():
            want[(day, label)] = (n, round(100 * n / total, 2))
    assert got == want


def test_mean_compound_per_file_equals_the_reports(scored):
    con, reports, _, _ = scored
    _, rows = athena.run(con, _named_queries()["mean compound per file"])
    got = {key: (n, k, mean) for _, key, n, k, mean in rows}
    assert set(got) == set(reports)
    for key, report in reports.items():
        n, k, mean = got[key]
        assert (n, k) == (report["rows"]["total"], report["rows"]["scored"])
        assert mean == pytest.approx(report["mean_compound"], abs=1e-6)
    assert [r[-1] for r in rows] == sorted(r[-1] for r in rows)


def test_files_with_blank_or_rejected_rows_equal_the_reports(scored):
    con, reports, _, _ = scored
    _, rows = athena.run(con, _named_queries()["files with the most blank or rejected rows"])
    got = {key: (n, blank, rejected) for _, key, n, blank, rejected in rows}
    assert got == {
        key: (r["rows"]["total"], r["rows"]["none"], r["rows"]["rejected"])
        for key, r in reports.items()
        if r["rows"]["none"] + r["rows"]["rejected"]
    }
    assert [g[1] + g[2] for g in got.values()] == sorted(
        (g[1] + g[2] for g in got.values()), reverse=True
    )


def test_most_negative_texts_are_those_of_the_recent_files(scored):
    con, reports, sources, harness = scored
    _, rows = athena.run(con, _named_queries()["most negative texts of the last 7 days"])
    recent = [k for k, r in reports.items() if _day(r) >= str(dt.date.today() - dt.timedelta(7))]
    assert len(recent) == 2
    negatives = []  # (compound, key, line, text) from the scored CSVs and the sources
    for key in recent:
        lines = _record_lines(sources[key])
        scored_rows = harness.rows("scored/" + key.removeprefix("input/"))[1:]
        for (line, text), out in zip(lines, scored_rows, strict=True):
            if out[-1] == "negative":
                negatives.append((float(out[-2]), key, line, text))
    negatives.sort()
    assert len(rows) == 50
    assert [(c, k, n, t) for _, k, n, c, t in rows] == negatives[:50]


def test_the_parquet_snapshot_query_is_valid_trino_but_not_translated():
    sql = _named_queries()["snapshot into a Parquet table"]
    athena.check_syntax(sql)
    with pytest.raises(athena.QueryError, match="cannot translate"):
        athena.translate(sql)
    with pytest.raises(athena.QueryError, match="not valid Trino SQL"):
        athena.check_syntax(sql.replace("AS SELECT", "AS SELEC"))


def test_an_unknown_glue_type_is_refused_with_the_known_ones():
    with pytest.raises(athena.QueryError, match=r"map<string,string>.*expected one of: string"):
        athena.duckdb_type("map<string,string>")


def _record_lines(body: bytes) -> list[tuple[int, str]]:
    """(line each record starts on, its text) of a source CSV."""
    reader = csv.reader(io.StringIO(body.decode(), newline=""))
    next(reader)
    out, last = [], reader.line_num
    for row in reader:
        out.append((last + 1, row[1]))
        last = reader.line_num
    return out
