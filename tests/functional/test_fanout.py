"""The fan-out end to end: the real state machine definition executed by moto's Step Functions
interpreter, whose Lambda tasks reach the function's code in this process (the integration tier
runs the same through the real runtime). Byte identity with one invocation, failures, duplicate
events and retries."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from csv_sentiment import fanout, ranges, s3io
from csv_sentiment.engine import load_engine
from csv_sentiment.events import records
from csv_sentiment.settings import Settings
from csv_sentiment.workers import InProcess
from infra.deploy import statemachines
from tests.functional.s3_harness import event_for
from tests.reportschema import problems

pytestmark = pytest.mark.slow  # each test runs the state machine on a file of a few MB
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:fanout-test"


class _Lambda:
    """Lambda's Invoke API for the fan-out steps, answering as Lambda does (an exception becomes
    X-Amz-Function-Error with errorType = the exception's class name)."""

    def __init__(self, port: int, make):
        self.make, self.calls, self.fail_index = make, [], None
        self.errors: list = []
        self.before: dict = {}  # payload kind -> called before that step runs
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append(event)
                error = None
                try:
                    body = outer.invoke(event)
                except Exception as exc:  # what the Lambda runtime does with an exception
                    error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
                    outer.errors.append((event.get("kind"), error))
                data = json.dumps(error or body).encode()
                self.send_response(200)
                if error:
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event):
        if event["kind"] in self.before:
            self.before.pop(event["kind"])()
        item = (event.get("input") or {}).get("item") or {}
        if event["kind"] == fanout.RANGE and item.get("index") == self.fail_index:
            raise s3io.TransientError("injected: S3 kept failing for this range")
        return self.make().handle(event)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def scorer():
    return InProcess(load_engine("fast"))


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return moto_server


@pytest.fixture
def setup(aws_env, scorer):
    s3 = boto3.client("s3", config=s3io.client_config())
    sfn = boto3.client("stepfunctions")
    suffix = uuid.uuid4().hex[:10]
    buckets = {"input": f"in-{suffix}", "output": f"out-{suffix}"}
    for name in buckets.values():
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    text = statemachines.definitions()["fanout"].read_text()
    definition = statemachines.substitute(text, {"FunctionArn": FUNCTION})
    arn = sfn.create_state_machine(
        name=f"fanout-{suffix}", definition=definition,
        roleArn="arn:aws:iam::123456789012:role/fanout",
    )["stateMachineArn"]  # fmt: skip
    env = {"OUTPUT_BUCKET": buckets["output"], "RANGE_MB": "1", "FANOUT_THRESHOLD_MB": "1",
           "FANOUT_STATE_MACHINE_ARN": arn, "FANOUT_MAX_CONCURRENCY": "16"}  # fmt: skip
    settings = Settings.from_env(env)

    def make():
        return fanout.Fanout(settings, s3, scorer, "req-fanout", lambda: 900_000, sfn=sfn)

    served = _Lambda(aws_env.lambda_port, make)
    yield _Env(s3, sfn, buckets, settings, scorer, make, served)
    served.stop()


class _Env:
    def __init__(self, s3, sfn, buckets, settings, scorer, make, served):
        self.s3, self.sfn, self.buckets, self.settings = s3, sfn, buckets, settings
        self.scorer, self.make, self.served = scorer, make, served

    def use(self, **changes) -> None:
        """The next steps (one invocation, the hand-off and the state machine's steps) run
        with these settings changed."""
        from dataclasses import replace

        settings = self.settings = replace(self.settings, **changes)
        self.make = self.served.make = lambda: fanout.Fanout(
            settings, self.s3, self.scorer, "req-fanout", lambda: 900_000, sfn=self.sfn
        )

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.buckets["input"], Key=key, Body=body)

    def job(self, with_fanout: bool = True):
        from csv_sentiment.job import Job

        settings = self.settings
        if not with_fanout:
            from dataclasses import replace

            settings = replace(settings, fanout_state_machine_arn="")
        return Job(settings, self.s3, self.scorer, "req-one", lambda: 900_000,
                   fanout=self.make() if with_fanout else None)  # fmt: skip

    def process(self, key: str, with_fanout: bool = True) -> dict:
        (ref,) = records(event_for(self.s3, self.buckets["input"], key))
        return self.job(with_fanout).process(ref)

    def wait(self, arn: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                events = self.sfn.get_execution_history(executionArn=arn)["events"]
                described["failures"] = [
                    {k: v for k, v in e.items() if k.endswith("FailedEventDetails")}
                    for e in events
                    if e["type"].endswith("Failed")
                ]
                return described
            time.sleep(0.2)
        raise AssertionError(f"{arn} still running after {timeout} s")

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.buckets["output"], Key=key)["Body"].read()

    def listing(self, prefix: str = "") -> list[str]:
        out = self.s3.list_objects_v2(Bucket=self.buckets["output"], Prefix=prefix)
        return sorted(o["Key"] for o in out.get("Contents", []))

    def open_uploads(self) -> list:
        return self.s3.list_multipart_uploads(Bucket=self.buckets["output"]).get("Uploads", [])


def _corpus_with_edges(corpus: bytes, copies: int) -> bytes:
    """The corpus repeated, with records that make raw edges interesting: quoted newlines,
    CRLF, doubled quotes and multi-byte characters, spread through the file."""
    header, _, body = corpus.partition(b"\n")
    extra = (
        'x,e1,0,"a review\nthat spans\r\nthree lines, ""quoted"" and caf\u00e9 \U0001f600"\n'
        "x,e2,0,=SUM(A1) \u2603 na\u00efve\r\n"
    ).encode()
    return header + b"\n" + (body.rstrip(b"\n") + b"\n" + extra) * copies


def test_a_multi_range_file_is_byte_identical_to_one_invocation(setup, corpus_path):
    data = _corpus_with_edges(corpus_path.read_bytes(), 2)  # ~6.4 MB: 7 ranges of 1 MB
    setup.put("input/big.csv", data)
    single = setup.process("input/big.csv", with_fanout=False)
    assert single["status"] == "succeeded"
    expected = setup.get("scored/big.csv")

    handed = setup.process("input/big.csv")
    assert handed["status"] == "skipped"  # same object, same configuration: a duplicate
    setup.s3.delete_object(Bucket=setup.buckets["output"], Key="reports/big.csv.json")
    handed = setup.process("input/big.csv")
    assert handed["status"] == "handed-off" and handed["started"] and handed["attempt"] == 1
    assert "above the fan-out threshold" in handed["reason"]
    done = setup.wait(handed["execution_arn"])
    assert done["status"] == "SUCCEEDED", (done.get("failures"), setup.served.errors[:3])
    assert setup.get("scored/big.csv") == expected
    report = json.loads(setup.get("reports/big.csv.json"))
    assert report["rows"] == single["rows"] and report["labels"] == single["labels"]
    assert report["fanout"]["ranges"] == 7 == len(report["fanout"]["range_seconds"])
    assert report["fanout"]["execution"] == handed["execution_arn"]
    assert sum(report["fanout"]["range_bytes"]) == len(data)
    assert {k: report[k] for k in ("text_column", "encoding", "delimiter", "config")} == {
        k: single[k] for k in ("text_column", "encoding", "delimiter", "config")
    }
    # The insights fields, merged over the ranges, equal one invocation's; the one schema holds.
    for k in ("compound_histogram", "extremes", "schema_version"):
        assert report[k] == single[k], k
    assert problems(report) == []
    assert setup.listing("tmp/") == [] and setup.open_uploads() == []
    _same_dataset_rows(setup, single, report)

    # The same event again, while or after the attempt ran: nothing new starts.
    again = setup.job().fanout.hand_off(
        s3io.head_source(setup.s3, setup.buckets["input"], "input/big.csv", None),
        single["config"], "", "test",
    )  # fmt: skip
    assert again["execution_arn"] == handed["execution_arn"] and not again["started"]


def _same_dataset_rows(setup, single: dict, report: dict) -> None:
    """Every range wrote its analytics rows: published as parts 0…n-1 of the file, together
    exactly the rows one invocation wrote (only the run's time differs)."""
    import gzip

    keys = report["outputs"]["analytics"]
    assert len(keys) == report["fanout"]["ranges"]
    assert [k.rsplit("-", 1)[-1] for k in keys] == [f"{i:05d}.jsonl.gz" for i in range(len(keys))]
    # The test removed the report that recorded one invocation's rows, so they stay here.
    assert setup.listing("analytics/") == sorted(keys + single["outputs"]["analytics"])

    def rows(key: str) -> list[dict]:
        lines = gzip.decompress(setup.get(key)).splitlines()
        return [{**json.loads(line), "scored_at": None} for line in lines]

    (one,) = single["outputs"]["analytics"]
    assert [row for key in keys for row in rows(key)] == rows(one)


def test_parts_of_five_mib_and_more_are_copied_server_side(setup, corpus_path):
    setup.use(range_bytes=6 * 1024 * 1024)  # the hand-off and the steps too, not just the job
    data = _corpus_with_edges(corpus_path.read_bytes(), 4)  # ~12.8 MB: 3 ranges of 6 MB
    setup.put("input/parts.csv", data)
    expected_rows = setup.process("input/parts.csv", with_fanout=False)["rows"]
    expected = setup.get("scored/parts.csv")
    setup.s3.delete_object(Bucket=setup.buckets["output"], Key="reports/parts.csv.json")
    handed = setup.process("input/parts.csv")
    assert setup.wait(handed["execution_arn"])["status"] == "SUCCEEDED"
    assert setup.get("scored/parts.csv") == expected
    report = json.loads(setup.get("reports/parts.csv.json"))
    assert report["rows"] == expected_rows and report["fanout"]["ranges"] == 3
    head = setup.s3.head_object(Bucket=setup.buckets["output"], Key="scored/parts.csv")
    assert head["ETag"].strip('"').endswith("-3")  # one part per range output (>= 5 MiB)


def _bad_file(corpus: bytes) -> tuple[bytes, int]:
    header, _, body = corpus.partition(b"\n")
    lines = body.split(b"\n")
    bad_line = 1 + 20_000 + 1  # header, 20,000 records, then the bad one
    bad = b"x,bad,0,too,many,fields"
    return header + b"\n" + b"\n".join([*lines[:20_000], bad, *lines[20_000:]]), bad_line


def test_a_failing_range_fails_the_file_cleanly(setup, corpus_path):
    old = b"dataset,id,human_mean,text\nx,1,0,previous upload\n"
    setup.put("input/bad.csv", old)
    assert setup.process("input/bad.csv")["status"] == "succeeded"  # small: one invocation
    previous = setup.get("scored/bad.csv")

    data, bad_line = _bad_file(corpus_path.read_bytes())
    setup.put("input/bad.csv", data)
    handed = setup.process("input/bad.csv")
    done = setup.wait(handed["execution_arn"])
    assert done["status"] == "FAILED" and done.get("error") == "FileFailed"
    error = json.loads(setup.get("errors/bad.csv.json"))
    assert error["error"]["code"] == "malformed_row" and error["error"]["line"] == bad_line
    assert f"line {bad_line} has 6 fields" in error["error"]["message"]
    assert error["fanout"]["execution"] == handed["execution_arn"]
    assert setup.get("scored/bad.csv") == previous  # the previous result stays
    assert setup.listing("tmp/") == [] and setup.open_uploads() == []


_THIRD_RANGE_BAD = {
    # a quoted cell of five lines of 100 commas: the record's parsed form passes 8,752 bytes
    # on its second line (4 bytes a character, 56 a delimiter); a cell of 1,100 characters
    "record_too_big": (b'x,big,0,"' + b"\n".join([b"," * 100] * 5) + b'"', "limit_exceeded"),
    "cell_too_big": (b'x,big,0,"' + b"\n".join([b"y" * 50] * 22) + b'"', "limit_exceeded"),
    "text_after_a_quote": (b'x,q,0,"quoted" then more', "malformed_row"),
    "nul_character": (b"x,n,0,a\x00b", "not_csv"),
}


@pytest.mark.parametrize("kind", sorted(_THIRD_RANGE_BAD))
def test_an_error_in_the_third_range_names_the_line_one_invocation_names(setup, corpus_path, kind):
    bad, code = _THIRD_RANGE_BAD[kind]
    setup.use(max_cell_chars=1024, max_columns=10)  # a record may take 8,752 bytes
    header, _, body = corpus_path.read_bytes().partition(b"\n")
    lines = body.split(b"\n")
    at = 14_500  # ~2 MB in: inside raw range 2 of the four equal ones (3.3 MB at RANGE_MB=1)
    data = header + b"\n" + b"\n".join([*lines[:at], bad, *lines[at:]])
    raw = ranges.raw_ranges(len(data), setup.settings.range_bytes)
    where = len(header) + sum(len(x) + 1 for x in lines[:at])
    assert len(raw) >= 4 and raw[2].start + 65_536 < where < raw[2].end - 65_536
    setup.put("input/third.csv", data)
    single = setup.process("input/third.csv", with_fanout=False)["error"]
    assert single["code"] == code and single["line"] >= at + 2  # header + 14,500 records
    if kind == "record_too_big":  # the line it crossed on, and the line it started on
        assert single["line"] == at + 3 and f"opened on line {at + 2}" in single["message"]

    handed = setup.process("input/third.csv")
    done = setup.wait(handed["execution_arn"])
    assert done["status"] == "FAILED" and done.get("error") == "FileFailed"
    ranges_run = [c["input"]["item"]["index"] for c in setup.served.calls
                  if c["kind"] == fanout.RANGE]  # fmt: skip
    assert max(ranges_run) >= 3  # a multi-range file; the error came from range 2
    failing = {e[1]["errorMessage"].split(":")[0] for e in setup.served.errors}
    assert failing == {"range 2"}, setup.served.errors
    assert json.loads(setup.get("errors/third.csv.json"))["error"] == single
    assert setup.listing("tmp/") == [] and setup.open_uploads() == []


def test_a_file_above_max_input_mb_is_refused_before_any_execution_as_one_invocation_would(
    setup, corpus_path
):
    setup.use(max_input_bytes=2 * 2**20)  # the 3.2 MB corpus: above it, its 1 MiB ranges not
    setup.put("input/huge.csv", corpus_path.read_bytes())
    single = setup.process("input/huge.csv", with_fanout=False)["error"]
    assert single["code"] == "limit_exceeded" and "MAX_INPUT_MB" in single["message"]

    refused = setup.process("input/huge.csv")
    assert refused["status"] == "failed" and "execution_arn" not in refused
    error = json.loads(setup.get("errors/huge.csv.json"))["error"]
    assert error == refused["error"]
    assert error["code"] == single["code"] and error["expected"] == single["expected"]
    assert error["message"].startswith(single["message"])  # what one invocation says, and:
    assert "applies to the whole file" in error["message"] and "object's size" in error["message"]
    assert error["size"] == corpus_path.stat().st_size
    assert setup.served.calls == []  # no execution, no step
    arn = setup.settings.fanout_state_machine_arn
    assert setup.sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_a_limit_lowered_after_the_hand_off_is_enforced_at_plan_time(setup, corpus_path):
    # The S3 path handed the file off under a higher MAX_INPUT_MB (e.g. before a redeploy
    # lowered it); the plan step, which runs with the lower one, refuses it from its size.
    from dataclasses import replace

    setup.use(max_input_bytes=2 * 2**20)  # what the state machine's steps run with
    setup.put("input/lowered.csv", corpus_path.read_bytes())
    job = setup.job()
    job.settings = job.fanout.settings = replace(job.settings, max_input_bytes=8 * 2**20)
    (ref,) = records(event_for(setup.s3, setup.buckets["input"], "input/lowered.csv"))
    handed = job.process(ref)
    done = setup.wait(handed["execution_arn"])
    assert done["status"] == "FAILED" and done.get("error") == "FileFailed"
    error = json.loads(setup.get("errors/lowered.csv.json"))["error"]
    assert error["code"] == "limit_exceeded" and "object's size" in error["message"]
    assert {c["kind"] for c in setup.served.calls} == {fanout.PLAN}  # nothing counted or scored
    assert setup.listing("tmp/") == [] and "scored/lowered.csv" not in setup.listing("scored/")


def test_a_failed_attempt_can_be_retried(setup, corpus_path):
    data = _corpus_with_edges(corpus_path.read_bytes(), 1)
    setup.put("input/retry.csv", data)
    setup.served.fail_index = 1  # range 1 fails (a transient error, retried, then given up)
    first = setup.process("input/retry.csv")
    done = setup.wait(first["execution_arn"], timeout=180)
    assert done["status"] == "FAILED"
    assert "scored/retry.csv" not in setup.listing("scored/")
    assert setup.listing("tmp/") == [] and setup.open_uploads() == []
    assert "errors/retry.csv.json" not in setup.listing("errors/")  # not the file's fault

    setup.served.fail_index = None  # the redelivered event starts attempt 2
    second = setup.process("input/retry.csv")
    assert second["attempt"] == 2 and second["started"]
    assert setup.wait(second["execution_arn"])["status"] == "SUCCEEDED"
    rows = setup.get("scored/retry.csv").decode().count("\n")
    assert rows > 4000


def test_a_non_rfc_quote_that_breaks_the_cut_is_a_clear_error(setup, corpus_path):
    header, _, body = corpus_path.read_bytes().partition(b"\n")
    lines = body.split(b"\n")
    # A stray quote in an unquoted cell, and quoted newlines throughout: from the stray quote
    # on, the counted parity is the opposite of the parser's, so a cut lands inside a field.
    stray = b'x,s,0,a 32" TV'
    quoted = b'x,q,0,"line one\nline two"'
    mixed = [*lines[:100], stray]
    for i in range(100, len(lines), 50):
        mixed += [*lines[i : i + 50], quoted]
    setup.put("input/stray.csv", header + b"\n" + b"\n".join(mixed))
    handed = setup.process("input/stray.csv")
    assert setup.wait(handed["execution_arn"])["status"] == "FAILED"
    error = json.loads(setup.get("errors/stray.csv.json"))["error"]
    assert error["code"] == "malformed_row" and "RFC 4180" in error["expected"]
    assert "quote" in error["message"] and error["line"] > 100


def test_gzip_too_big_for_one_invocation_says_what_to_do(setup, corpus_path):
    import gzip

    setup.put("input/big.csv.gz", gzip.compress(corpus_path.read_bytes() * 2, compresslevel=1))
    handed = setup.process("input/big.csv.gz")
    assert setup.wait(handed["execution_arn"])["status"] == "FAILED"
    error = json.loads(setup.get("errors/big.csv.gz.json"))["error"]
    assert error["code"] == "not_csv" and "uncompressed" in error["expected"]


def test_a_newer_upload_supersedes_the_run(setup, corpus_path):
    data = _corpus_with_edges(corpus_path.read_bytes(), 1)
    setup.put("input/race.csv", data)
    (ref,) = records(event_for(setup.s3, setup.buckets["input"], "input/race.csv"))
    newer = b"dataset,id,human_mean,text\nx,1,0,newer\n"
    # Uploaded while the ranges are scored: the final step must not write the older result.
    setup.served.before[fanout.ASSEMBLE] = lambda: setup.put("input/race.csv", newer)
    handed = setup.job().process(ref)
    done = setup.wait(handed["execution_arn"])
    assert done["status"] == "SUCCEEDED" and '"superseded"' in done["output"]
    assert "scored/race.csv" not in setup.listing("scored/")
    assert setup.listing("tmp/") == [] and setup.open_uploads() == []
    # The older version's event arriving after the newer upload hands nothing off.
    assert setup.job().process(ref)["status"] == "superseded"


def test_the_handler_hands_off_big_files_and_refuses_unknown_payload_kinds(
    setup, corpus_path, load_handler, capsys
):
    from tests.functional.test_handler import Context

    handler = load_handler(
        OUTPUT_BUCKET=setup.buckets["output"],
        FANOUT_THRESHOLD_MB="1",
        FANOUT_STATE_MACHINE_ARN=setup.settings.fanout_state_machine_arn,
    )
    with pytest.raises(fanout.RangeFailed, match=r"sentiment\.range/v9"):
        handler.lambda_handler({"kind": "sentiment.range/v9"}, Context())
    setup.put("input/h.csv", corpus_path.read_bytes())  # 3.2 MB: above 1 MB
    event = event_for(setup.s3, setup.buckets["input"], "input/h.csv")
    (result,) = handler.lambda_handler(event, Context())["results"]
    assert result["status"] == "handed-off" and result["started"]
    out = capsys.readouterr().out
    assert "refused: unknown payload kind" in out
    assert "handed off to the fan-out state machine" in out and '"FilesHandedOff"' in out
    assert setup.wait(result["execution_arn"])["status"] == "SUCCEEDED"
    assert setup.get("scored/h.csv").count(b"\n") == 23_704


def test_a_file_below_the_threshold_that_runs_out_of_time_is_handed_off(setup, corpus_path):
    from dataclasses import replace

    from csv_sentiment.job import Job

    setup.put("input/slow.csv", corpus_path.read_bytes())
    settings = replace(setup.settings, fanout_threshold_mb=100)  # 3.2 MB is far below it
    clock = iter([900_000] * 3)  # then the invocation is as good as over
    fan = fanout.Fanout(settings, setup.s3, setup.scorer, sfn=setup.sfn)
    job = Job(settings, setup.s3, setup.scorer, "req-slow", lambda: next(clock, 1_000), fan)
    (ref,) = records(event_for(setup.s3, setup.buckets["input"], "input/slow.csv"))
    result = job.process(ref)
    assert result["status"] == "handed-off" and result["reason"].startswith("ran out of time")
    assert "errors/slow.csv.json" not in setup.listing("errors/")
    assert setup.wait(result["execution_arn"])["status"] == "SUCCEEDED"
    assert setup.get("scored/slow.csv").count(b"\n") == 23_704


def test_a_file_that_runs_out_of_time_above_max_input_mb_gets_the_limit_error(setup, corpus_path):
    # It ran out of time before reading past MAX_INPUT_MB; the fan-out would refuse it from
    # its size anyway, so no execution starts and the report names the limit.
    from dataclasses import replace

    from csv_sentiment.job import Job

    setup.put("input/slowbig.csv", corpus_path.read_bytes())
    settings = replace(setup.settings, fanout_threshold_mb=100, max_input_bytes=2 * 2**20)
    clock = iter([900_000] * 3)
    fan = fanout.Fanout(settings, setup.s3, setup.scorer, sfn=setup.sfn)
    job = Job(settings, setup.s3, setup.scorer, "req-slowbig", lambda: next(clock, 1_000), fan)
    (ref,) = records(event_for(setup.s3, setup.buckets["input"], "input/slowbig.csv"))
    result = job.process(ref)
    assert result["status"] == "failed" and result["error"]["code"] == "limit_exceeded"
    assert "object's size" in result["error"]["message"]
    assert json.loads(setup.get("errors/slowbig.csv.json"))["error"] == result["error"]
    arn = settings.fanout_state_machine_arn
    assert setup.sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_no_record_boundary_over_many_ranges_is_a_clear_error(setup, corpus_path):
    # A stray quote flips the counted parity, and no quoted newline follows to flip it back:
    # no cut is found, and one range would have to score the whole file.
    header, _, body = corpus_path.read_bytes().partition(b"\n")
    setup.put("input/nocut.csv", header + b'\nx,s,0,a 32" TV\n' + body * 2)
    handed = setup.process("input/nocut.csv")
    assert setup.wait(handed["execution_arn"])["status"] == "FAILED"
    error = json.loads(setup.get("errors/nocut.csv.json"))["error"]
    assert error["code"] == "limit_exceeded" and "no record boundary" in error["message"]
    assert error["line"] == 1 and "RANGE_MB" in error["expected"]
    assert setup.listing("tmp/") == []


def test_a_big_object_in_a_backfill_group_is_handed_off_without_reading_its_body(
    setup, corpus_path, monkeypatch
):
    """A group object with no report is opened with one GET (no HEAD first); one too big for
    an invocation is handed off from that GET's headers and its stream is closed unread."""
    import boto3

    from csv_sentiment import s3io
    from csv_sentiment.events import Known, ObjectRef
    from csv_sentiment.job import Job

    setup.put("archive/big.csv", corpus_path.read_bytes())  # 3.2 MB: above 1 MB
    setup.use(fanout_threshold_mb=1)
    s3 = boto3.client("s3", config=s3io.client_config())  # the job's own: the steps use setup's
    streams, real = [], s3.get_object

    def get_object(**params):
        got = real(**params)
        streams.append((params, got["Body"]))
        return got

    monkeypatch.setattr(s3, "get_object", get_object)
    monkeypatch.setattr(s3, "head_object", lambda **p: streams.append((p, "HEAD")))
    job = Job(setup.settings, s3, setup.scorer, "req-one", lambda: 900_000, setup.make())
    ref = ObjectRef(setup.buckets["input"], "archive/big.csv", None, "", 0, "backfill")
    result = job.process(ref, Known(report_absent=True, error_absent=True))
    assert result["status"] == "handed-off" and result["started"]
    ((params, body),) = streams  # one GET of the source, no HEAD before it
    assert params == {"Bucket": setup.buckets["input"], "Key": "archive/big.csv"}
    assert body._raw_stream.closed and body._amount_read == 0  # closed, nothing read
    assert setup.wait(result["execution_arn"])["status"] == "SUCCEEDED"
    assert setup.get("scored/_outside/archive/big.csv").count(b"\n") == 23_704
