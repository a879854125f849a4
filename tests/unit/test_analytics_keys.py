"""The analytics settings and the dataset's keys, without I/O."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from csv_sentiment import analytics
from csv_sentiment.errors import SettingsError
from csv_sentiment.s3io import SourceObject
from csv_sentiment.settings import Settings

BASE = {"OUTPUT_BUCKET": "out-bucket"}


@pytest.mark.parametrize(
    ("text", "limit", "recorded"),
    [("full", None, "full"), ("none", 0, "none"), ("280", 280, "280"), (" FULL ", None, "full")],
)
def test_analytics_text_forms_and_what_the_report_records(text, limit, recorded):
    settings = Settings.from_env({**BASE, "ANALYTICS_TEXT": text})
    assert settings.analytics_text == limit
    config = settings.scoring_config("")
    assert (config["analytics"], config["analytics_text"]) == ("on", recorded)


@pytest.mark.parametrize("value", ["0", "-3", "some", "1000001", "12.5"])
def test_an_invalid_analytics_text_names_the_variable_and_the_expected_form(value):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**BASE, "ANALYTICS_TEXT": value})
    assert f"ANALYTICS_TEXT={value.strip().lower()!r} is invalid" in str(err.value)
    assert "full, none, or a number of characters from 1 to 1000000" in str(err.value)


def test_analytics_is_on_by_default_and_off_is_recorded():
    assert Settings.from_env(BASE).analytics is True
    off = Settings.from_env({**BASE, "ANALYTICS": "off"})
    assert off.analytics is False and off.scoring_config("")["analytics"] == "off"
    with pytest.raises(SettingsError, match="ANALYTICS='maybe' is invalid"):
        Settings.from_env({**BASE, "ANALYTICS": "maybe"})


def _src(**changes) -> SourceObject:
    uploaded = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    fields = dict(bucket="in", key="input/a b.csv", version_id="v1", etag="e1", size=1,
                  content_encoding="", last_modified=uploaded)  # fmt: skip
    return SourceObject(**{**fields, **changes})


def test_the_key_is_one_per_uploaded_version_in_its_upload_days_partition():
    now = dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    key = analytics.dataset_key(_src(), now)
    assert key.startswith("analytics/scores/upload_date=2026-03-01/") and key.endswith(".jsonl.gz")
    assert analytics.dataset_key(_src(), now) == key  # a retry overwrites its own object
    assert analytics.dataset_key(_src(version_id="v2"), now) != key
    assert analytics.dataset_key(_src(key="input/other.csv"), now) != key
    assert analytics.dataset_key(_src(), now, part=3).endswith("-00003.jsonl.gz")
    unknown = analytics.dataset_key(_src(last_modified=None), now)
    assert "/upload_date=2026-03-05/" in unknown  # no LastModified: the run's day


def test_only_dataset_keys_of_a_report_are_ever_retired():
    report = {"outputs": {"analytics": ["analytics/scores/upload_date=2026-01-01/x.jsonl.gz",
                                        "scored/a.csv", "../reports/b.json", 7, None]}}  # fmt: skip
    assert analytics.recorded_keys(report) == ["analytics/scores/upload_date=2026-01-01/x.jsonl.gz"]
    assert analytics.recorded_keys({"outputs": {}}) == analytics.recorded_keys(None) == []


def test_a_batch_whose_lists_disagree_is_refused():
    writer = analytics.DatasetWriter.__new__(analytics.DatasetWriter)
    with pytest.raises(ValueError, match="2 rows, 2 originals, 1 ends"):
        writer.add([["a"], ["b"]], [["a"], ["b"]], [2])


class _Collected:
    """Where the writer's bytes go instead of a multipart upload (the upload is tested in
    tests/functional/test_analytics.py)."""

    def __init__(self, *_args, **_kwargs):
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def complete(self) -> None:
        pass


def _dataset_lines(monkeypatch, batches: list[list[list]]) -> list[str]:
    monkeypatch.setattr(analytics.s3io, "OutputObject", _Collected)
    src = SourceObject("in", "k.csv", None, '"e"', 1, None, {}, None)
    when = dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    writer = analytics.DatasetWriter(None, "out", src, text_index=0, text_limit=None,
                                     model="m", scored_at=when, header_end_line=1)  # fmt: skip
    for line, rows in enumerate(batches):
        writer.add([[r[0]] for r in rows], rows, [line * 100 + i + 2 for i in range(len(rows))])
    writer.complete()
    return gzip.decompress(bytes(writer._out.data)).decode("ascii").splitlines()


def test_remembered_float_texts_are_each_scores_own_repr(monkeypatch):
    # The writer looks a score's text up instead of formatting it again: the texts must stay
    # exactly repr()'s, for -0.0 next to 0.0, for values first seen in a later batch, for
    # NaN, and once the bound on remembered texts is passed (it starts over).
    monkeypatch.setattr(analytics, "_FLOAT_TEXTS", 4)
    batches = [
        [["a", 0.0, 1.0, 0.0, 0.0, "neutral"], ["b", 0.0, 0.5, 0.5, -0.0, "neutral"]],
        [["c", 0.1, 0.2, 0.7, 0.4404, "positive"], ["d", 0.0, 1.0, 0.0, 0.0, "neutral"]],
        [["e", 0.25, 0.75, 0.0, -0.5423, "negative"], ["f", "", "", "", "", "none"]],
        [["g", 0.0, 1.0, 0.0, float("nan"), "neutral"], ["h", 0.1, 0.2, 0.7, 0.4404, "positive"]],
    ]
    lines = _dataset_lines(monkeypatch, batches)
    rows = [row for batch in batches for row in batch]
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        if row[-1] == "none":
            assert '"neg":null,"neu":null,"pos":null,"compound":null' in line
            continue
        expected = ",".join(f'"{k}":{v!r}' for k, v in zip(("neg", "neu", "pos", "compound"),
                                                         row[1:5], strict=True))  # fmt: skip
        assert expected in line, (row, line)
    assert '"compound":-0.0,' in lines[1] and '"compound":0.0,' in lines[0]
    assert json.loads(lines[4])["compound"] == -0.5423
