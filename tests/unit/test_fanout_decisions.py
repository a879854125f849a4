"""The fan-out's decisions that need no AWS: payload kinds, the threshold."""

from __future__ import annotations

import json

from csv_sentiment import fanout
from csv_sentiment.settings import Settings
from tests.paths import ROOT


def test_unknown_and_foreign_payload_kinds():
    assert fanout.unknown_kind({"kind": "sentiment.range/v9"}) == "sentiment.range/v9"
    assert fanout.unknown_kind({"kind": "other"}) is None
    assert not fanout.is_payload({"Records": []}) and fanout.is_payload({"kind": fanout.CUT})


def test_auto_threshold_follows_memory_and_time():
    one = fanout.auto_threshold_mb(1024, 880)
    assert 2000 < one < 3000  # about half of the ~4.9 GB one invocation scores at 1024 MB
    assert fanout.auto_threshold_mb(1769, 880) > one
    assert fanout.auto_threshold_mb(1024, 100) < one
    assert fanout.auto_threshold_mb(1024, -5) == 0


def test_a_file_just_over_the_threshold_is_handed_off_and_one_at_it_is_not():
    from csv_sentiment.s3io import SourceObject

    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:s-fanout"
    settings = Settings.from_env({"OUTPUT_BUCKET": "out-bucket", "FANOUT_THRESHOLD_MB": "2",
                                  "FANOUT_STATE_MACHINE_ARN": arn})  # fmt: skip
    fan = fanout.Fanout(settings, None, None)
    at, over = (SourceObject("b", "k.csv", None, "e", n, "") for n in (2 * 2**20, 2 * 2**20 + 1))
    assert fan.too_big(at) is None
    assert "FANOUT_THRESHOLD_MB=2" in fan.too_big(over)
    off = fanout.Fanout(Settings.from_env({"OUTPUT_BUCKET": "out-bucket"}), None, None)
    assert off.too_big(over) is None and not off.enabled()  # no state machine: no fan-out


def test_the_state_machine_sends_exactly_the_payload_kinds_the_function_knows():
    def kinds(node):
        if isinstance(node, dict):
            if isinstance(node.get("kind"), str):
                yield node["kind"]
            for value in node.values():
                yield from kinds(value)
        elif isinstance(node, list):
            for value in node:
                yield from kinds(value)

    definition = json.loads((ROOT / "infra/statemachines/fanout.asl.json").read_text())
    sent = list(kinds(definition))
    assert sorted(sent) == sorted(fanout.KINDS)  # each step once, none the function refuses
    assert all(k.startswith(fanout.KIND_PREFIX) and k.endswith("/v1") for k in sent)
