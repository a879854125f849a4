"""Handler throughput and memory against a local S3 endpoint (moto server, another process).

Prints, from one run on this machine: the raw vaderSentiment `polarity_scores` loop (the
baseline), our handler with each engine, the naive "whitepaper" approach (download to /tmp,
pandas, score, write to /tmp, upload), their rows/s, ratios to the baseline and peak RSS;
then the handler's peak RSS on a generated file of a few hundred MB (1 GB with --big), to
show that memory stays flat with input size.

    .venv/bin/python tests/bench/bench_handler.py [--copies 10] [--big-mb 300] [--big]

Each measurement runs in a fresh child process so that peak RSS is its own.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_DIR = ROOT / "functions" / "sentiment"
CORPUS = ROOT.parent / "shared" / "data" / "vader-icwsm2014" / "corpus.csv"
INPUT, OUTPUT = "bench-input", "bench-output"
LAMBDA_MAX_SECONDS = 900
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at this memory size


def make_corpus_copies(path: Path, copies: int) -> int:
    """The corpus repeated, each copy's texts made unique with a trailing number token so
    that no cache of repeated texts can win."""
    with CORPUS.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    t = header.index("text")
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for c in range(copies):
            for row in body:
                row = list(row)
                row[t] = f"{row[t]} {c}"
                w.writerow(row)
                n += 1
    return n


def make_big(path: Path, megabytes: int) -> int:
    """A generated file of about `megabytes` MB built from corpus rows (unique texts)."""
    with CORPUS.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    n = 0
    target = megabytes * 1024 * 1024
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["dataset", "id", "human_mean", "text"])
        while f.tell() < target:
            for row in rows:
                w.writerow([row[0], row[1], row[2], f"{row[3]} {n}"])
                n += 1
    return n


# ---- hostile inputs: the worst files we can construct within the default settings --------
# Each is a small gzip file whose parsed form is what would fill memory: many tiny fields in
# one record, the largest cells the defaults allow, texts just under MAX_TEXT_CHARS, the widest
# rows, 4-byte characters (a str of them takes 4 bytes per character).

MAX_CELL = 2_097_152  # MAX_CELL_CHARS default
MAX_TEXT = 100_000  # MAX_TEXT_CHARS default


def _gz_lines(path: Path, header: bytes, lines) -> None:
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(header)
        for line in lines:
            f.write(line)


def hostile_inputs(tmp: Path, scale: float = 1.0) -> dict[str, Path]:
    """name -> gzip file, written line by line (this process never holds one whole: each
    entry gives its header and a generator of lines). `scale`
    < 1 shrinks the row counts for a quick proof run."""

    def n(k: int) -> int:
        return max(2, int(k * scale))

    text = ("good 😀 " * (MAX_TEXT // 7 - 1)).encode()  # just under MAX_TEXT_CHARS, emoji
    header = b",".join(b"c%d" % i for i in range(999)) + b",text\n"
    files = {
        "one record of 20 M tiny quoted multi-line fields": lambda: (
            b"id,text\n", itertools.chain([b'1,"'], (b'a\n","' * 1_000_000 for _ in range(n(20))),
                                          [b'z"\n'])),
        "200 rows of 2 M-character cells": lambda: (
            b"id,text\n", (b'%d,"%s"\n' % (i, b"x" * (MAX_CELL - 8)) for i in range(n(200)))),
        "200 rows of 2 M-character emoji cells": lambda: (
            b"id,text\n", (b'%d,"%s"\n' % (i, "😀".encode() * (MAX_CELL - 8))
                            for i in range(n(200)))),
        "2,200 rows of 95 k-character texts": lambda: (
            b"id,text\n", (b'%d,"%s"\n' % (i, b"so good, " * 10_555) for i in range(n(2200)))),
        "2,200 rows of 100 k-character emoji texts": lambda: (
            b"id,text\n", (b'%d,"%s"\n' % (i, text) for i in range(n(2200)))),
        "4 M-character line of 2-character fields": lambda: (
            b"text," + b"ab," * (MAX_CELL * 2 // 3 - 4) + b"z\n", ()),
        "1,000 columns x 50 k rows of short fields": lambda: (
            header, (b"1," * 999 + b"ok\n" for _ in range(n(50_000)))),
    }  # fmt: skip
    out = {}
    for i, (name, lines) in enumerate(files.items()):
        out[name] = tmp / f"hostile-{i}.csv.gz"
        _gz_lines(out[name], *lines())
    return out


# ---- children: each prints one JSON line with its figures ---------------------------------


def _peak_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the process's own memory map: ru_maxrss
    would also count the parent's peak, which an exec'd child inherits on Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_raw(path: str) -> dict:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        t = next(reader).index("text")
        texts = [row[t] for row in reader]
    analyzer = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    return {"rows": len(texts), "seconds": time.perf_counter() - started}


def invoke_handler(handler, s3, bucket: str, key: str) -> tuple[dict, float]:
    """One S3 event for `bucket`/`key` through `handler.lambda_handler`, as Lambda calls it;
    the first record's result and the seconds it took (also used by compare_commits.py)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": key, "size": head["ContentLength"], "eTag": head["ETag"]},
        },
    }

    class Context:
        aws_request_id = "bench"
        function_name = "bench"
        memory_limit_in_mb = 1769
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 3_600_000

    started = time.perf_counter()
    result = handler.lambda_handler({"Records": [record]}, Context())["results"][0]
    return result, time.perf_counter() - started


def child_handler(key: str) -> dict:
    sys.path.insert(0, str(FUNCTION_DIR))
    import boto3

    import handler

    result, seconds = invoke_handler(handler, boto3.client("s3"), INPUT, key)
    if result["status"] != "succeeded":
        error = result.get("error", {})
        return {"rows": 0, "seconds": seconds, "status": result["status"],
                "error": f"{error.get('code')}: {str(error.get('message'))[:90]}"}  # fmt: skip
    workers = handler.SCORER.workers
    handler.SCORER.close()  # joined, so their peak RSS is in RUSAGE_CHILDREN
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers else 0
    return {"rows": result["rows"]["total"], "seconds": seconds, "engine": handler.SCORER.name,
            "workers_rss_mb": round(workers * child_mb, 1), "status": "succeeded"}  # fmt: skip


def child_naive(key: str) -> dict:
    """The whitepaper's approach: whole file to /tmp, pandas, score, whole output, upload."""
    import boto3
    import pandas as pd
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    s3 = boto3.client("s3")
    analyzer = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.csv"), os.path.join(tmp, "out.csv")
        s3.download_file(INPUT, key, src)
        df = pd.read_csv(src)
        scores = df["text"].astype(str).apply(analyzer.polarity_scores)
        df = pd.concat([df, pd.DataFrame(list(scores))], axis=1)
        df.to_csv(dst, index=False)
        s3.upload_file(dst, OUTPUT, "naive/" + key)
    return {"rows": len(df), "seconds": time.perf_counter() - started}


CHILDREN = {"raw": child_raw, "handler": child_handler, "naive": child_naive}


def run_child(kind: str, arg: str, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, arg],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"bench child {kind} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--big", action="store_true", help="use a 1 GB file for the RSS check")
    parser.add_argument(
        "--hostile-only", action="store_true", help="only the peak RSS of the hostile inputs"
    )
    parser.add_argument(
        "--hostile-scale",
        type=float,
        default=1.0,
        help="shrink the hostile inputs' row counts (a quick proof run)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, arg = args.child
        figures = CHILDREN[kind](arg)
        # Lambda counts every process of the instance: add the workers' (largest x count).
        figures["peak_rss_mb"] = round(_peak_mb() + figures.pop("workers_rss_mb", 0), 1)
        print(json.dumps(figures))
        return

    sys.path.insert(0, str(ROOT))
    import boto3

    from infra.endpoint import start_moto_server

    big_mb = 1024 if args.big else args.big_mb
    with tempfile.TemporaryDirectory() as tmp, start_moto_server() as moto:
        env = {
            **os.environ,
            **moto.env(),
            "OUTPUT_BUCKET": OUTPUT,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        env.pop("OPENBLAS_CORETYPE", None)
        s3 = boto3.client("s3", endpoint_url=moto.url, **_creds(moto))
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(Bucket=bucket)

        if args.hostile_only:
            run_hostile(s3, env, Path(tmp), args.hostile_scale)
            return
        corpus = Path(tmp, "corpus-x.csv")
        rows = make_corpus_copies(corpus, args.copies)
        size_mb = corpus.stat().st_size / 1e6
        s3.upload_file(str(corpus), INPUT, "input/corpus-x.csv")
        print(f"corpus x{args.copies}: {rows:,} rows, {size_mb:.1f} MB (texts made unique)")

        raw = run_child("raw", str(corpus), env)
        base = raw["rows"] / raw["seconds"]
        table = [("raw polarity_scores loop (baseline)", raw)]
        sys.path.insert(0, str(FUNCTION_DIR))
        from csv_sentiment.engine import DEFAULT_ENGINE, ENGINES

        engines = sorted(ENGINES, key=lambda e: e != DEFAULT_ENGINE)
        workers = min(2, os.cpu_count() or 1)
        configs = [(e, 1) for e in engines] + (
            [(e, workers) for e in engines] if workers > 1 else []
        )
        for engine, n in configs:
            run_env = {**env, "SCORING_ENGINE": engine, "SCORING_WORKERS": str(n)}
            figures = run_child("handler", "input/corpus-x.csv", run_env)
            default = " (default)" if engine == DEFAULT_ENGINE and n == 1 else ""
            how = f", {n} worker processes" if n > 1 else ""
            table.append((f"handler, {engine} engine{how}{default}", figures))
            s3.delete_object(Bucket=OUTPUT, Key="reports/corpus-x.csv.json")  # not a duplicate
        table.append(("naive whitepaper approach", run_child("naive", "input/corpus-x.csv", env)))

        print(f"\n{'':52} {'rows/s':>10} {'vs raw':>8} {'peak RSS':>10}")
        for name, f in table:
            rate = f["rows"] / f["seconds"]
            print(f"{name:52} {rate:>10,.0f} {rate / base:>7.2f}x {f['peak_rss_mb']:>7.0f} MB")

        best = next(f for name, f in table if name.endswith("(default)"))
        rate = best["rows"] / best["seconds"]
        bytes_per_row = corpus.stat().st_size / rows
        print("\nLargest file one invocation scores in 15 min (900 s, minus the 20 s margin),")
        print("estimated from the default engine's rows/s here, scaled by Lambda's CPU share:")
        for memory in (1024, 1769, 3008):
            share = min(1.0, memory / FULL_VCPU_MB)
            fit = rate * share * (LAMBDA_MAX_SECONDS - 20)
            print(f"  MEMORY={memory:>5} MB: ~{fit / 1e6:5.1f} M rows, "
                  f"~{fit * bytes_per_row / 1e9:5.2f} GB of corpus-like CSV")  # fmt: skip

        big = Path(tmp, "big.csv")
        big_rows = make_big(big, big_mb)
        s3.upload_file(str(big), INPUT, "input/big.csv")
        big.unlink()
        flat = run_child("handler", "input/big.csv", env)
        print(f"\nflat memory: {big_mb} MB file ({big_rows:,} rows): handler peak RSS "
              f"{flat['peak_rss_mb']:.0f} MB vs {table[1][1]['peak_rss_mb']:.0f} MB on the "
              f"{size_mb:.0f} MB file; {flat['rows'] / flat['seconds']:,.0f} rows/s")  # fmt: skip
        run_hostile(s3, env, Path(tmp), args.hostile_scale)


def run_hostile(s3, env: dict, tmp: Path, scale: float) -> None:
    """Peak RSS of one invocation on each hostile input at the default settings: the goal is
    at most 300 MB each, and an error report (never an out-of-memory kill) for what cannot fit."""
    print(f"\nhostile inputs at the default settings (gzip; scale {scale}):")
    print(f"  {'':48} {'gzip':>8} {'peak RSS':>9}  result")
    worst = 0.0
    for name, path in hostile_inputs(tmp, scale).items():
        key = f"input/{path.name}"
        s3.upload_file(str(path), INPUT, key)
        f = run_child("handler", key, env)
        worst = max(worst, f["peak_rss_mb"])
        outcome = f"{f['rows']:,} rows scored" if f["status"] == "succeeded" else f["error"]
        print(
            f"  {name:48} {path.stat().st_size / 1e6:6.1f}MB {f['peak_rss_mb']:7.0f}MB  {outcome}"
        )
    print(
        f"  worst peak RSS {worst:.0f} MB (goal <= 300 MB: {'met' if worst <= 300 else 'NOT met'})"
    )


def _creds(moto) -> dict:
    env = moto.env()
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


if __name__ == "__main__":
    main()
