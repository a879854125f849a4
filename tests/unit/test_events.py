import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csv_sentiment.errors import InputError, MalformedEvent, TransientError
from csv_sentiment.events import is_own_output, output_keys, records

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load(name):
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ("put-simple.json", "input/reviews.csv"),
        ("put-key-with-spaces.json", "input/monthly reviews 2026.csv"),
        ("put-key-with-plus.json", "input/a+b c.csv"),
        ("put-key-unicode.json", "input/résumés/✓ avis.csv"),
    ],
)
def test_keys_are_url_decoded_once(event, key):
    (ref,) = records(load(event))
    assert ref.key == key
    assert ref.bucket == "input-bucket"


def test_every_record_of_the_event_is_returned_in_order():
    refs = list(records(load("put-several-records.json")))
    assert [r.key for r in refs] == ["input/one.csv", "input/two words.csv", "input/three.csv.gz"]


def test_s3_test_event_has_no_records():
    assert list(records(load("s3-test-event.json"))) == []


def test_keys_inside_the_input_prefix_are_named_by_the_rest():
    keys = output_keys("input/a/b.csv", "input/")
    assert (keys.rel, keys.scored, keys.report, keys.error) == (
        "a/b.csv", "scored/a/b.csv", "reports/a/b.csv.json", "errors/a/b.csv.json",
    )  # fmt: skip
    assert output_keys("b.csv", "").scored == "scored/b.csv"


def test_a_gz_source_keeps_its_name_and_its_compression():
    plain, packed = output_keys("input/a.csv", "input/"), output_keys("input/a.csv.gz", "input/")
    assert (plain.scored, packed.scored) == ("scored/a.csv", "scored/a.csv.gz")
    assert (plain.compressed, packed.compressed) == (False, True)
    assert packed.report == "reports/a.csv.gz.json"


def test_keys_outside_the_prefix_stay_scoreable_and_never_meet_the_inside_ones():
    assert output_keys("x.csv", "input/").scored == "scored/_outside/x.csv"
    assert output_keys("input/x.csv", "input/").scored == "scored/x.csv"
    assert output_keys("input/_outside/x.csv", "input/").scored == "scored/_input/_outside/x.csv"
    assert output_keys("input/_input/x.csv", "input/").scored == "scored/_input/_input/x.csv"


FRAGMENTS = [*"ab/._-gzé", "_outside/", "_input/", "_too-long/", "input/", ".gz", ".GZ"]
key_text = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(key_text, min_size=2, max_size=6, unique=True), st.sampled_from(["input/", ""]))
def test_the_mapping_is_one_to_one(keys, prefix):
    keys = [k for k in keys if k]
    for field in ("scored", "report", "error"):
        names = [getattr(output_keys(k, prefix), field) for k in keys]
        assert len(set(names)) == len(names), field


def test_outputs_beyond_s3s_key_limit_get_only_a_hashed_error_report():
    key = "input/" + "é" * 508  # 1,022 bytes: fits as a key, not as reports/<rel>.json
    keys = output_keys(key, "input/")
    assert not keys.fits and keys.scored == keys.report == ""
    assert keys.error.startswith("errors/_too-long/") and len(keys.error) < 100
    assert output_keys(key[:-4], "input/").fits
    assert output_keys("input/" + "x" * 1000, "input/").error != keys.error


def test_own_output_is_recognised():
    (ref,) = records(load("put-own-output.json"))
    assert is_own_output(ref, "output-bucket")
    assert not is_own_output(ref, "another-bucket")


def s3_record(**obj):
    obj = {"key": "input/a.csv", "size": 3, **obj}
    s3 = {"bucket": {"name": "b"}, "object": obj}
    return {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": s3}


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (None, "the event is null"),
        ([], "the event is an empty list"),
        ("Records", "the event is a str"),
        ({"Records": {"0": {}}}, "Records is an object, not a list"),
        ({"Records": "x"}, "Records is a str, not a list"),
        ({"Records": [None]}, "the record is null"),
        ({"Records": [{"eventSource": "aws:s3", "s3": None}]}, "s3 is null"),
        ({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": None, "object": {"key": "k"}}}]},
         "s3.bucket is null"),
        ({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": None}}]},
         "s3.object is null"),
        ({"Records": [s3_record(size="big")]}, "size 'big' is not a number"),
        ({"Records": [s3_record(size=[1])]}, "size is a list, not a number"),
        ({"Records": [s3_record(key=None)]}, "not an object with a key"),
        ({"Records": [s3_record(key="")]}, "not an object with a key"),
        ({"Records": [s3_record(key="k" * 10_000_000)]}, "longer than S3 allows"),
    ],
)  # fmt: skip
def test_malformed_events_give_a_permanent_error_not_a_crash(event, fragment):
    (item,) = records(event)
    assert isinstance(item, MalformedEvent)
    assert fragment in item.message
    assert "an S3 event notification" in item.expected
    assert not isinstance(item, (TransientError, InputError))  # never retried, no report


def test_a_malformed_record_does_not_stop_the_others():
    items = list(records({"Records": [None, s3_record(), {"eventSource": "aws:sqs"}]}))
    assert isinstance(items[0], MalformedEvent) and items[0].details["record"] == 0
    assert items[1].key == "input/a.csv" and items[1].size == 3
    assert len(items) == 2  # another service's record is not ours


def test_numeric_strings_are_sizes():
    (ref,) = records({"Records": [s3_record(size="42")]})
    assert ref.size == 42
