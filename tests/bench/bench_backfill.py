"""make backfill: objects per second on the local service, against one invocation per file.

Prints, from one run on this machine: a plain loop that sends one invocation per file (the
baseline, what a script without the backfill would do) and `make backfill` over the same
number of other files (the state machine on moto's interpreter, groups of files per
invocation, two local instances), their objects/s and ratio (goal ≥ 3× from grouping); then
the projected wall time and cost of backfilling 100,000 files of 1 MB on AWS, from the
README's measured throughput and public prices (infra/backfill/estimate.py).

    .venv/bin/python tests/bench/bench_backfill.py [--files 2000] [--insights both] [--repeat 1]

With --repeat N each measurement is made N times, each round on a fresh moto and deployment,
and the median ratio is printed with every round's (this machine's shared cores make one
round's figures vary by ±10%).

The files are real texts: consecutive rows of the shared corpus, a few per file.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]
from tests.bench import cpu  # noqa: E402 (the repository first on sys.path)
from tests.paths import CORPUS, ROOT  # noqa: E402

STACK = "bench"
ROWS_PER_FILE = 5


def corpus_files(count: int) -> list[bytes]:
    with CORPUS.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    files = []
    for i in range(count):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        start = (i * ROWS_PER_FILE) % (len(body) - ROWS_PER_FILE)
        w.writerows(body[start : start + ROWS_PER_FILE])
        files.append(buf.getvalue().encode())
    return files


def upload(s3, bucket: str, prefix: str, files: list[bytes]) -> list[str]:
    keys = [f"{prefix}file-{i:05d}.csv" for i in range(len(files))]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kb: s3.put_object(Bucket=bucket, Key=kb[0], Body=kb[1]),
                      zip(keys, files, strict=True)))  # fmt: skip
    return keys


def plain_loop(service, s3, fn: str, bucket: str, keys: list[str]) -> float:
    """One synchronous invocation per file (the S3 event it would get), one after the other:
    seconds taken."""
    from infra.local import s3events

    events = []
    for key in keys:  # built before the clock starts: S3 hands these to the function
        head = s3.head_object(Bucket=bucket, Key=key)
        ev = s3events.ObjectEvent(bucket, key, "ObjectCreated:Put", head["ContentLength"],
                                  head["ETag"].strip('"'), head.get("VersionId"))  # fmt: skip
        events.append(s3events.event([s3events.record(ev, "us-east-1")]))
    started = time.perf_counter()
    for event in events:
        inv = service.invoke(fn, event)
        assert inv.status == "success", inv.error
    return time.perf_counter() - started


def drain(service) -> float:
    """Seconds until every event the service holds is handled (the insights pages drawn)."""
    started = time.perf_counter()
    if not service.wait_idle(timeout=1800):
        sys.exit("the local service did not become idle within 30 minutes")
    return time.perf_counter() - started


def empty_invocations(service, fn: str, count: int = 50) -> float:
    """Seconds per invocation that does no work (an event without records)."""
    started = time.perf_counter()
    for _ in range(count):
        assert service.invoke(fn, {"Records": []}).status == "success"
    return (time.perf_counter() - started) / count


@contextlib.contextmanager
def local_service(run_dir: Path):
    """moto server, the app deployed with `make deploy`'s code, the local Lambda service with
    two instances and its Lambda API where the Step Functions interpreter sends its tasks."""
    from infra.endpoint import start_moto_server
    from infra.local.invokeapi import InvokeApi
    from infra.local.prepare import app_outputs_for
    from infra.local.service import LocalLambdaService

    with contextlib.ExitStack() as stack:
        moto = start_moto_server(log_path=run_dir / "moto.log")
        stack.callback(moto.stop)
        env = moto.env()
        deploy_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        # MaxConcurrency 16: the local interpreter's minimum, and plenty for two instances.
        deploy_env.update(moto.deployer_env(), STACK=STACK, DEPLOY_POLL_SECONDS="0.2",
                          FANOUT_MAX_CONCURRENCY="16")  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "infra.deploy", "deploy"], cwd=ROOT,
                              env=deploy_env, capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            sys.exit(f"make deploy failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        os.environ.update(env)
        service = LocalLambdaService(env, ROOT / ".local" / "cache", run_dir=run_dir,
                                     concurrency=2, say=lambda _: None)  # fmt: skip
        service.start()
        stack.callback(service.stop)
        stack.callback(InvokeApi(service, port=moto.lambda_port).start().stop)
        yield env, service, app_outputs_for(env, STACK), moto.process.pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--insights", choices=("both", "drawn", "muted"), default="both",
                        help="measure with the insights pages drawn, muted, or both")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each measurement")
    args = parser.parse_args()

    import boto3

    from infra.backfill.run import backfill

    files = corpus_files(args.files)
    size = sum(len(f) for f in files)
    print(f"{args.files:,} files of {ROWS_PER_FILE} corpus rows ({size / len(files):,.0f} "
          "bytes on average), local service with 2 instances, moto server")  # fmt: skip
    figures: dict[str, list] = {}
    empty = 0.0
    for _ in range(args.repeat):
        # A fresh moto and deployment each round: moto's listings walk the whole bucket, so a
        # bucket left full by earlier rounds would slow the later ones (S3's do not).
        run_dir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
        with local_service(run_dir) as (env, service, out, moto_pid):
            s3 = boto3.client("s3")
            bucket, fn = out["InputBucketName"], out["FunctionName"]
            empty = empty or empty_invocations(service, fn)
            # Each run report starts the insights function, which draws a page (~80 ms of CPU
            # here): on AWS in its own concurrency, here on the same two cores. Measured both
            # ways: with the pages drawn, and with its notification muted (the backfill alone).
            muting = {"drawn": ("insights pages drawn", set()),
                      "muted": ("insights muted", {out["InsightsFunctionName"]})}  # fmt: skip
            for label, muted in [muting[k] for k in muting if args.insights in (k, "both")]:
                service.muted = muted
                tag = "muted" if muted else "pages"
                loop_keys = upload(s3, bucket, f"bench/{tag}/loop/", files)
                upload(s3, bucket, f"bench/{tag}/backfill/", files)
                before = cpu.cpu_seconds(moto_pid)
                loop_seconds = plain_loop(service, s3, fn, bucket, loop_keys)
                loop_cpu = cpu.since(before, moto_pid)
                loop_drained = loop_seconds + drain(service)  # its pages, before the backfill
                before = cpu.cpu_seconds(moto_pid)
                started = time.perf_counter()
                lines: list[str] = []
                status = backfill({**env, "STACK": STACK, "PREFIX": f"bench/{tag}/backfill/"},
                                  lines.append, 0.5)  # fmt: skip
                if status != 0:
                    sys.exit("make backfill failed:\n" + "\n".join(lines[-20:]))
                backfill_seconds = time.perf_counter() - started
                used = (loop_cpu, cpu.since(before, moto_pid))
                drained = (loop_drained, backfill_seconds + drain(service))
                figures.setdefault(label, []).append(
                    (loop_seconds, backfill_seconds, lines, used, None if muted else drained)
                )
    report(args.files, figures, empty)


def report(files: int, figures: dict, empty: float) -> None:
    from infra.backfill import estimate, grouping
    from infra.backfill.listing import Listed

    print(f"{'':<60}{'objects/s':>10}{'vs loop':>9}")
    for label, rounds in figures.items():
        ratios = [loop / grouped for loop, grouped, *_ in rounds]
        middle = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
        loop_seconds, backfill_seconds, lines, used, drained = rounds[middle]  # the median
        base, grouped = files / loop_seconds, files / backfill_seconds
        verdict = "met" if grouped >= 3 * base else "not met"
        print(f"{label}:" + (f" (median of {len(rounds)} rounds)" if len(rounds) > 1 else ""))
        print(f"{'  one invocation per file, plain loop (baseline)':<60}{base:>10.1f}{1:>8.2f}x")
        print(f"{'  make backfill (grouped, Distributed Map)':<60}{grouped:>10.1f}"
              f"{grouped / base:>8.2f}x  (goal >= 3x: {verdict})")  # fmt: skip
        if len(rounds) > 1:
            print("    every round: " + ", ".join(f"{r:.2f}x" for r in ratios))
        if drained:  # the insights function's pages are drawn after the objects are scored
            loop_all, backfill_all = drained
            print(f"    until every page is drawn too: loop {files / loop_all:.1f}/s, backfill "
                  f"{files / backfill_all:.1f}/s, {loop_all / backfill_all:.2f}x")  # fmt: skip
        summary = next((x.strip() for x in lines if "objects:" in x), "?")
        groups = next((x.split("(")[-1].rstrip(")") for x in lines if "manifest:" in x), "?")
        print(f"    {summary}; {groups}; per file in the loop "
              f"{loop_seconds / files * 1000:.0f} ms")  # fmt: skip
        for name, spent in zip(("loop", "backfill"), used, strict=True):
            parts = ", ".join(f"{k} {v / files * 1000:.1f}" for k, v in spent.items())
            print(
                f"    CPU ms per file, {name}: {sum(spent.values()) / files * 1000:.1f} ({parts})"
            )
    print(f"an invocation that does nothing: {empty * 1000:.0f} ms (what grouping saves per "
          "file; each object's S3 requests remain)")  # fmt: skip

    many = [Listed(f"archive/{i:06d}.csv", "e", 10**6) for i in range(100_000)]
    projection = estimate.project(grouping.plan(many, 100), 1024, "x86_64", 100)
    print("100,000 files of 1 MB on AWS, MEMORY=1024, FANOUT_MAX_CONCURRENCY=100:")
    for line in estimate.describe(projection)[1:]:
        print(line)


if __name__ == "__main__":
    main()
