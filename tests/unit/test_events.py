import json
from pathlib import Path

import pytest

from csv_sentiment.errors import InputError, MalformedEvent, TransientError
from csv_sentiment.events import is_own_output, output_keys, records, relative_key

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


def test_relative_key_strips_the_input_prefix_only_when_present():
    assert relative_key("input/a/b.csv", "input/") == "a/b.csv"
    assert relative_key("elsewhere/b.csv", "input/") == "elsewhere/b.csv"
    assert relative_key("b.csv", "") == "b.csv"


def test_output_keys_drop_gz_for_the_scored_csv_only():
    assert output_keys("a/b.csv.gz") == {
        "scored": "scored/a/b.csv",
        "report": "reports/a/b.csv.gz.json",
        "error": "errors/a/b.csv.gz.json",
    }
    assert output_keys("b.csv")["scored"] == "scored/b.csv"


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
