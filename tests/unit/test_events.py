import json
from pathlib import Path

import pytest

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
