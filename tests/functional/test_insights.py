"""The insights function on a local S3 endpoint: reports from the real scoring job → pages and
an index kept incrementally; the failure paths; the report schema both functions share."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys

import pytest

from csv_insights import charts, publish, state
from csv_insights.report import ReportProblem
from tests import insightsdata as data
from tests.reportschema import problems


def _rel(key: str) -> str:
    return key.removeprefix("input/")


@pytest.fixture
def out(harness):
    return harness.buckets["output"]


@pytest.fixture
def cheap_charts(monkeypatch):
    """For the tests about the index's bookkeeping: charts cost time and are tested elsewhere."""
    for name in ("label_bars", "histogram", "trend"):
        monkeypatch.setattr(charts, name, lambda chart_id, *a: f'<svg id="{chart_id}"></svg>')


def _state(s3, bucket) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=publish.STATE_KEY)["Body"].read())


# -- the report both functions share ----------------------------------------------------------
def test_reports_of_the_scoring_job_follow_the_one_schema(harness):
    report = data.score(harness)
    assert problems(report) == []
    assert sum(report["compound_histogram"]["counts"]) == report["rows"]["scored"]
    harness.put("input/empty.csv", b"")
    failed = harness.process("input/empty.csv")
    assert failed["status"] == "failed" and problems(failed) == []


def test_the_schema_refuses_an_old_or_broken_report(harness):
    report = data.score(harness)
    assert problems({**report, "schema_version": 1})
    broken = json.loads(json.dumps(report))
    del broken["extremes"]
    broken["labels"]["positive"] = -1
    found = problems(broken)
    assert any("extremes" in p for p in found) and any("labels/positive" in p for p in found)


def test_extreme_rows_name_their_input_lines(harness):
    report = data.score(harness)
    top = report["extremes"]["most_positive"][0]
    bottom = report["extremes"]["most_negative"][0]
    # Header on line 1: data row n starts on line n + 1.
    assert (top["row"], top["line"]) == (1, 2) and top["text"] == data.ROWS[0][0]
    assert bottom["text"] == data.ROWS[5][0] and bottom["line"] == bottom["row"] + 1


# -- pages -------------------------------------------------------------------------------------
def test_page_and_index_are_written_with_every_input_string_escaped(harness, out):
    report = data.score(harness)
    rel = _rel(data.HOSTILE_KEY)
    done = publish.publish(harness.s3, out, f"reports/{rel}.json")
    assert done["page"] == f"insights/{rel}.html" and done["files"] == 1
    page = harness.output(done["page"]).decode()
    index = harness.output(publish.INDEX_KEY).decode()
    for html in (page, index):
        assert (
            "<script" not in html
            and "<img" not in html
            and "onerror=" not in html.replace("onerror=&quot;", "")
        )
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page  # the text column's name
    assert "&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt;" in page  # a cell
    assert f'<td class="n">{report["labels"]["positive"]}</td>' in page
    head = harness.s3.head_object(Bucket=out, Key=done["page"])
    assert head["ContentType"] == "text/html; charset=utf-8"


def test_a_report_that_is_missing_malformed_or_old_leaves_the_index_alone(harness, out):
    data.score(harness, "input/good.csv")
    publish.publish(harness.s3, out, "reports/good.csv.json")
    before = harness.s3.head_object(Bucket=out, Key=publish.STATE_KEY)["ETag"]
    harness.s3.put_object(Bucket=out, Key="reports/bad.csv.json", Body=b"{not json")
    old = {**harness.json("reports/good.csv.json"), "schema_version": 1}
    harness.s3.put_object(Bucket=out, Key="reports/old.csv.json", Body=json.dumps(old).encode())
    cases = {
        "reports/bad.csv.json": "malformed_report",
        "reports/old.csv.json": "unsupported_schema",
        "reports/gone.csv.json": "missing_report",
        "reports/index.json": "reserved_name",
    }
    for key, code in cases.items():
        with pytest.raises(ReportProblem) as caught:
            publish.publish(harness.s3, out, key)
        assert caught.value.code == code, key
    assert harness.s3.head_object(Bucket=out, Key=publish.STATE_KEY)["ETag"] == before
    assert not any(k.startswith("insights/bad") for k in harness.listing())


def test_a_broken_state_is_never_overwritten(harness, out):
    data.score(harness, "input/good.csv")
    harness.s3.put_object(Bucket=out, Key=publish.STATE_KEY, Body=b"[]")
    with pytest.raises(publish.BrokenState, match="restore its previous version"):
        publish.publish(harness.s3, out, "reports/good.csv.json")
    assert harness.output(publish.STATE_KEY) == b"[]"


# -- the index, incrementally -------------------------------------------------------------------
def _count_calls(s3) -> dict:
    calls: dict[str, int] = {}

    def count(model, **_):
        calls[model.name] = calls.get(model.name, 0) + 1

    s3.meta.events.register("before-call.s3", count)
    return calls


def test_index_cost_per_report_does_not_grow_with_the_number_of_reports(
    harness, out, cheap_charts, monkeypatch
):
    """A report costs the same S3 requests and bytes whether it is the 3rd or the 40th:
    nothing is re-read, the state stays small (filled pages are frozen away)."""
    monkeypatch.setattr(state, "PAGE_SIZE", 5)
    report = data.score(harness, "input/seed.csv")
    body = json.dumps(report).encode()
    calls = _count_calls(harness.s3)
    costs, sizes = [], []
    for i in range(42):
        harness.s3.put_object(Bucket=out, Key=f"reports/f{i:02}.csv.json", Body=body)
        calls.clear()
        publish.publish(harness.s3, out, f"reports/f{i:02}.csv.json")
        costs.append(dict(calls))
        sizes.append(len(harness.output(publish.STATE_KEY)))
    steady = [c for i, c in enumerate(costs) if i % 5 not in (4, 0)]  # not a page boundary
    assert all(c == steady[0] for c in steady), costs
    assert steady[0]["GetObject"] == 2  # the report and the state; never another report
    assert max(sizes) <= 1.1 * max(sizes[:10])  # only the numbers' digits grow
    final = _state(harness.s3, out)
    assert final["files"] == 42 and final["pages"] == 8 and len(final["latest"]) == 2
    (day,) = final["days"].values()
    assert day["rows"] == 42 * report["rows"]["total"]
    listing = harness.output("insights/index-8.html").decode()
    assert "f39.csv" in listing and "f35.csv" in listing


def test_the_same_report_twice_or_a_file_scored_again_is_counted_once(
    harness, out, cheap_charts, monkeypatch
):
    monkeypatch.setattr(state, "PAGE_SIZE", 3)
    first = data.score(harness, "input/again.csv")
    for _ in range(2):  # S3 delivers at least once
        publish.publish(harness.s3, out, "reports/again.csv.json")
    for i in range(3):  # pushes again.csv into frozen page 1
        data.score(harness, f"input/other{i}.csv")
        publish.publish(harness.s3, out, f"reports/other{i}.csv.json")
    assert _state(harness.s3, out)["pages"] == 1
    data.score(harness, "input/again.csv", f"{data.TEXT_COLUMN}\nbad\nawful\nworst\n".encode())
    publish.publish(harness.s3, out, "reports/again.csv.json")
    final = _state(harness.s3, out)
    assert final["files"] == 4
    (day,) = final["days"].values()
    assert day["rows"] == 3 * first["rows"]["total"] + 3
    page = json.loads(harness.output("insights/_index/pages/1.json"))
    [entry] = [e for e in page if e["rel"] == "again.csv"]
    assert entry["rows"] == 3 and entry["labels"]["negative"] == 3


def test_a_concurrent_writer_is_not_lost(harness, out, cheap_charts):
    """Another invocation writes the state between our read and our write: our conditional
    write fails, we read again and apply our report on top of theirs."""
    data.score(harness, "input/mine.csv")
    data.score(harness, "input/theirs.csv")
    s3 = harness.s3
    fired = []

    def interleave(params, **_):
        if params.get("Key") == publish.STATE_KEY and "IfNoneMatch" in params and not fired:
            fired.append(1)
            publish.publish(s3, out, "reports/theirs.csv.json")

    s3.meta.events.register("provide-client-params.s3.PutObject", interleave)
    try:
        done = publish.publish(s3, out, "reports/mine.csv.json")
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", interleave)
    assert fired and done["conflicts"] == 1
    final = _state(s3, out)
    assert sorted(e["rel"] for e in final["latest"]) == ["mine.csv", "theirs.csv"]
    assert "mine.csv" in harness.output(publish.INDEX_KEY).decode()


# -- the Lambda edge ----------------------------------------------------------------------------
@pytest.fixture
def insights_handler(aws_env, monkeypatch, out):
    monkeypatch.setenv("OUTPUT_BUCKET", out)
    sys.modules.pop("insights_handler", None)
    module = importlib.import_module("insights_handler")
    yield module
    sys.modules.pop("insights_handler", None)


class Context:
    aws_request_id = "c0ffee00-0000-4000-8000-0000000000aa"
    function_name = "sentiment-insights"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sentiment-insights"

    def get_remaining_time_in_millis(self):
        return 60_000


def _event(bucket: str, key: str, name: str = "ObjectCreated:Put") -> dict:
    from urllib.parse import quote_plus

    return {"Records": [{"eventSource": "aws:s3", "eventName": name,
                         "s3": {"bucket": {"name": bucket},
                                "object": {"key": quote_plus(key, safe="/")}}}]}  # fmt: skip


def _invoke(module, bucket: str, key: str, name: str = "ObjectCreated:Put") -> dict:
    # Powertools keeps one logging.Logger per service across imports: point it at this test's
    # stdout (capsys's, inside the test), where a fresh Lambda container would write.
    for h in logging.getLogger("insights").handlers:
        if isinstance(h, logging.StreamHandler):
            h.stream = sys.stdout
    return module.lambda_handler(_event(bucket, key, name), Context())


def _lines(capsys) -> list[dict]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]


def test_handler_writes_the_page_and_counts_it(harness, out, insights_handler, capsys):
    assert "handler" not in sys.modules or sys.modules["handler"] is not insights_handler
    data.score(harness, "input/with space+plus.csv")
    result = _invoke(insights_handler, out, "reports/with space+plus.csv.json")
    assert result["results"][0]["status"] == "written"
    assert "insights/with space+plus.csv.html" in harness.listing()
    lines = _lines(capsys)
    assert any(x.get("message") == "page written" for x in lines)
    emf = [x for x in lines if "_aws" in x]
    assert emf and emf[-1]["PagesWritten"] in (1.0, [1.0])


def test_handler_logs_and_counts_a_bad_report_without_raising(
    harness, out, insights_handler, capsys
):
    harness.s3.put_object(Bucket=out, Key="reports/x.csv.json", Body=b'{"schema_version": 1}')
    result = _invoke(insights_handler, out, "reports/x.csv.json")
    assert result["results"][0]["error"]["code"] == "unsupported_schema"
    lines = _lines(capsys)
    [logged] = [x for x in lines if x.get("message", "").startswith("report not drawn")]
    assert logged["level"] == "ERROR" and "schema_version 1" in logged["error"]["message"]
    emf = [x for x in lines if "_aws" in x][-1]
    assert emf["ReportsRejected"] in (1.0, [1.0]) and emf["service"] == "insights"


def test_handler_raises_when_a_render_fails_so_lambda_retries(
    harness, out, insights_handler, capsys, monkeypatch
):
    data.score(harness, "input/r.csv")

    def broken(*_a, **_k):
        raise MemoryError("render failed")

    monkeypatch.setattr(charts, "histogram", broken)
    with pytest.raises(MemoryError):
        _invoke(insights_handler, out, "reports/r.csv.json")
    assert any(x.get("message", "").startswith("failed; raising") for x in _lines(capsys))
    assert "insights/r.csv.html" not in harness.listing()


def test_handler_refuses_a_report_from_another_bucket(insights_handler, capsys):
    result = _invoke(insights_handler, "elsewhere", "reports/a.csv.json")
    assert result["results"] == [{"status": "refused"}]


def test_insights_modules_never_shadow_the_scoring_functions():
    roots = {os.path.basename(os.path.dirname(m.__file__)) for m in (publish, state)}
    assert roots == {"csv_insights"}
    names = set(os.listdir(os.path.join(os.path.dirname(publish.__file__), "..")))
    assert "handler.py" not in names and "csv_sentiment" not in names


def test_the_scoring_function_imports_neither_pandas_nor_matplotlib(aws_env):
    """Its layers are powertools and vader only: importing either would fail on Lambda."""
    import subprocess

    from tests.paths import FUNCTION_DIR

    code = (
        "import sys; import handler, csv_sentiment.job, csv_sentiment.summary; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'matplotlib', 'numpy'}))"
    )
    env = {**os.environ, **aws_env, "OUTPUT_BUCKET": "out", "PYTHONPATH": str(FUNCTION_DIR)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=FUNCTION_DIR)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"  # after the "initialised" log line


def test_a_writer_that_always_loses_gives_up_and_raises_for_a_retry(
    harness, out, cheap_charts, monkeypatch
):
    data.score(harness, "input/busy.csv")
    monkeypatch.setattr(publish, "MAX_CONFLICTS", 3)
    s3 = harness.s3

    writes = []

    def always_first(params, **_):
        conditional = "IfMatch" in params or "IfNoneMatch" in params
        if params.get("Key") == publish.STATE_KEY and conditional:
            writes.append(1)  # another writer's state, different each time (a new ETag)
            other = state.empty() | {"sequence": len(writes)}
            s3.put_object(Bucket=out, Key=publish.STATE_KEY, Body=json.dumps(other))

    s3.meta.events.register("provide-client-params.s3.PutObject", always_first)
    try:
        with pytest.raises(RuntimeError, match="3 conflicting writers in a row"):
            publish.publish(s3, out, "reports/busy.csv.json")
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", always_first)
    assert "insights/busy.csv.html" not in harness.listing()


def test_a_missing_output_bucket_fails_the_cold_start(aws_env, monkeypatch):
    monkeypatch.delenv("OUTPUT_BUCKET", raising=False)
    sys.modules.pop("insights_handler", None)
    with pytest.raises(RuntimeError, match="OUTPUT_BUCKET is not set"):
        importlib.import_module("insights_handler")
    sys.modules.pop("insights_handler", None)


def test_handler_ignores_a_deleted_report_and_an_event_without_records(
    insights_handler, out, capsys
):
    gone = _invoke(insights_handler, out, "reports/a.csv.json", "ObjectRemoved:Delete")
    assert gone["results"] == [{"status": "ignored", "event_name": "ObjectRemoved:Delete"}]
    assert insights_handler.lambda_handler({"Event": "s3:TestEvent"}, Context()) == {"results": []}
    lines = _lines(capsys)
    assert any(x.get("message", "").startswith("ignored: only new reports") for x in lines)
    assert any(x.get("message") == "no S3 object records in the event" for x in lines)
