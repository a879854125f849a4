"""make backfill's pure parts: the grouping rule, the manifest's identity, the projection, the
progress line, and the agreements between the CLI, the function and the template."""

from __future__ import annotations

import json
import math
import re

import pytest

from csv_sentiment import objects
from infra.backfill import estimate, grouping, listing, watch
from infra.backfill import manifest as mf
from infra.backfill.listing import Listed
from infra.cfn.template import parse
from infra.deploy.errors import DeployError
from tests.paths import ROOT


def files(n: int, size: int = 1000, stem: str = "archive/f") -> list[Listed]:
    return [Listed(f"{stem}{i:05d}.csv", f"etag{i}", size) for i in range(n)]


def sizes(groups):
    return [len(g["objects"]) for g in groups]


def test_tiny_files_share_invocations_spread_over_the_concurrency():
    groups = grouping.plan(files(1200), concurrency=16)
    assert len(groups) == 16
    assert max(sizes(groups)) == math.ceil(1200 / 16)
    assert [o["key"] for g in groups for o in g["objects"]] == [f.key for f in files(1200)]
    assert [g["index"] for g in groups] == list(range(16))


def test_a_group_holds_at_most_group_objects():
    groups = grouping.plan(files(100_000), concurrency=100)
    assert max(sizes(groups)) == grouping.GROUP_OBJECTS
    assert len(groups) == 100_000 // grouping.GROUP_OBJECTS


def test_a_group_closes_before_group_bytes():
    groups = grouping.plan(files(10, size=20 * 2**20), concurrency=1)
    assert sizes(groups) == [3, 3, 3, 1]
    assert all(sum(o["size"] for o in g["objects"]) <= grouping.GROUP_BYTES for g in groups)


def test_an_object_above_group_bytes_gets_a_group_of_its_own():
    mixed = [*files(4), Listed("archive/huge.csv", "e", grouping.GROUP_BYTES + 1), *files(4)]
    groups = grouping.plan(mixed, concurrency=1)
    assert [[o["key"] for o in g["objects"]] for g in groups if len(g["objects"]) == 1] == [
        ["archive/huge.csv"]
    ]
    assert sum(sizes(groups)) == 9


def test_long_keys_keep_a_group_under_the_state_payload_limit():
    long = [Listed("k/" + "é" * 1000 + f"{i}.csv", "e", 1) for i in range(300)]
    for group in grouping.plan(long, concurrency=1):
        assert len(json.dumps(group)) <= grouping.GROUP_PAYLOAD + 200
    assert len(grouping.plan(long, concurrency=1)) > 1


def test_the_manifest_is_named_by_its_content_and_bucket():
    groups = grouping.plan(files(30), concurrency=4)
    a, b = mf.build("in", groups), mf.build("in", grouping.plan(files(30), concurrency=4))
    assert a.run_id == b.run_id and a.body == b.body
    assert re.fullmatch(r"[0-9a-f]{20}", a.run_id)
    assert mf.build("other", groups).run_id != a.run_id
    changed = [
        Listed(f.key, "new-etag" if i == 3 else f.etag, f.size) for i, f in enumerate(files(30))
    ]
    assert mf.build("in", grouping.plan(changed, concurrency=4)).run_id != a.run_id
    assert (a.groups, a.objects, a.bytes) == (4, 30, 30_000)
    assert json.loads(a.body) == groups  # what the Map's ItemReader gets: a JSON array


def test_execution_names_round_trip_and_fit_step_functions():
    name = mf.execution_name("0123456789abcdef0123", 7)
    assert mf.parse_name(name) == ("0123456789abcdef0123", 7)
    assert len(name) <= 80 and re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert mf.parse_name("backfill-xyz-1") is None
    assert mf.parse_name("someone-else") is None


def test_the_cli_and_the_function_agree_on_where_records_are():
    keys = objects.run_keys({"id": "0123456789abcdef0123", "attempt": 2})
    assert keys["groups"] == mf.group_records_prefix("0123456789abcdef0123", 2)
    assert keys["manifest"] == mf.build_key("0123456789abcdef0123")
    assert mf.RECORDS_PREFIX == objects.RECORDS_PREFIX


def test_accepted_names_are_one_list_for_function_cli_and_notification():
    assert listing.accepted_suffixes() == objects.ACCEPTED_SUFFIXES
    # The input bucket's notifications only: the output bucket notifies the insights function
    # of reports (.json), which is not an accepted input name.
    template = parse((ROOT / "infra" / "templates" / "app.yaml").read_text())
    notifications = template["Resources"]["InputBucket"]["Properties"]["NotificationConfiguration"]
    suffixes = [
        rule["Value"]
        for config in notifications["LambdaConfigurations"]
        for rule in config["Filter"]["S3Key"]["Rules"]
        if rule["Name"] == "suffix"
    ]
    assert tuple(sorted(set(suffixes))) == tuple(sorted(objects.ACCEPTED_SUFFIXES))


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("", "PREFIX is empty"), ("/archive/", "without a leading '/'"), ("a" * 1025, "1024 bytes")],
)
def test_a_bad_prefix_says_what_was_expected(prefix, message):
    with pytest.raises(DeployError, match=re.escape(message)):
        listing.check_prefix(prefix)


def test_slash_means_the_whole_bucket():
    assert listing.check_prefix("/") == ""
    assert listing.check_prefix("archive/2025/") == "archive/2025/"


def test_projection_spreads_work_over_the_concurrency_and_prices_it():
    groups = grouping.plan(files(100_000, size=10**6), concurrency=100)
    p = estimate.project(groups, memory_mb=1024, arch="x86_64", concurrency=100)
    assert p.objects == 100_000 and p.bytes == 10**11
    per_object = estimate.PER_OBJECT_SECONDS + 10**6 / p.bytes_per_second
    assert p.work_seconds == pytest.approx(
        100_000 * per_object + len(groups) * estimate.PER_GROUP_SECONDS
    )
    assert p.wall_seconds == pytest.approx(p.work_seconds / 100)
    compute = p.work_seconds * 1.0 * estimate.PRICES["lambda_gb_second"]["x86_64"]
    assert p.cost["lambda compute"] == pytest.approx(compute)
    assert p.total_cost == pytest.approx(sum(p.cost.values()))
    slower = estimate.project(groups, memory_mb=1024, arch="x86_64", concurrency=10)
    assert slower.wall_seconds == pytest.approx(p.wall_seconds * 10)
    assert "would score 100,000 objects" in "\n".join(estimate.describe(p))


def test_projection_never_promises_less_than_the_longest_group():
    groups = grouping.plan([Listed("big.csv", "e", 10**9)], concurrency=100)
    p = estimate.project(groups, 1769, "arm64", 100, bytes_per_second=1e7, source="measured")
    assert p.wall_seconds == pytest.approx(
        estimate.PER_GROUP_SECONDS + estimate.PER_OBJECT_SECONDS + 100
    )


def test_progress_line_counts_done_skipped_failed_left_and_rate():
    progress = watch.Progress(total=10, started=0.0)
    progress.counts = {"scored": 4, "skipped": 2, "failed": 1, "handed-off": 1}
    line = progress.line()
    assert "done 8/10" in line and "scored 4" in line and "skipped 2" in line
    assert "failed 1" in line and "handed-off 1" in line and "left 2" in line
    assert "objects/s" in line and "s left" in line
