"""The local service's S3 event source: one poll of the input bucket while a backfill's objects
sit outside the notification prefixes.

Prints, from one run against a moto server of its own (our launcher): a poll listing the whole
bucket (the baseline: what the watcher did before it listed only under the notifications'
prefixes), a poll listing only under `input/`, and a poll of the launcher's S3 event journal
(what the service does now; it lists only where an endpoint keeps no journal), their mean
seconds and the ratios. The service polls four times a second, so a poll slower than 0.25 s
means the service does nothing else.

    .venv/bin/python tests/bench/bench_local_watcher.py [--objects 2000] [--polls 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]
import boto3  # noqa: E402

from infra.endpoint import start_moto_server  # noqa: E402 (the repository first on sys.path)
from infra.local.s3events import BucketWatcher, Journal  # noqa: E402

BUCKET = "bench-watch"


def mean_poll(watcher: BucketWatcher, polls: int) -> float:
    start = time.perf_counter()
    for _ in range(polls):
        assert watcher.poll() == []
    return (time.perf_counter() - start) / polls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=2000, help="objects outside the prefix")
    ap.add_argument("--polls", type=int, default=5)
    args = ap.parse_args()
    with start_moto_server() as server:
        env = server.env()
        s3 = boto3.client(
            "s3",
            endpoint_url=server.url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: s3.put_object(Bucket=BUCKET, Key=f"backfill/f {i}.csv", Body=b"x"),
                    range(args.objects),
                )
            )
        s3.put_object(Bucket=BUCKET, Key="input/one.csv", Body=b"x")
        whole, scoped = BucketWatcher(s3), BucketWatcher(s3)
        journal = BucketWatcher(s3, Journal(server.url))
        for watcher, prefix in ((whole, ""), (scoped, "input/"), (journal, "")):
            watcher.watch(BUCKET, [prefix])
        before, after = mean_poll(whole, args.polls), mean_poll(scoped, args.polls)
        read = mean_poll(journal, args.polls)
    print(f"{args.objects} objects outside input/, mean of {args.polls} polls:")
    print(f"  whole bucket, listed (baseline) {before:8.4f} s/poll")
    print(f"  under input/ only, listed       {after:8.4f} s/poll   ({before / after:.0f}x faster)")
    print(f"  whole bucket, from the journal  {read:8.4f} s/poll   ({before / read:.0f}x faster)")


if __name__ == "__main__":
    main()
