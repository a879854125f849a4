"""The whole shared corpus through the job on a local S3 endpoint: identical to vaderSentiment."""

import csv

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from csv_sentiment.core import label, neutralise


def test_scores_every_corpus_row_identically_and_keeps_all_columns(harness, corpus_path):
    data = corpus_path.read_bytes()
    harness.put("input/corpus.csv", data)
    report = harness.process("input/corpus.csv")
    assert report["status"] == "succeeded"

    with corpus_path.open(newline="", encoding="utf-8") as f:
        source = list(csv.reader(f))
    out = harness.rows("scored/corpus.csv")
    assert out[0] == [*source[0], "neg", "neu", "pos", "compound", "sentiment"]
    assert len(out) == len(source) == 23_704  # header + 23,703 texts, order kept

    vader = SentimentIntensityAnalyzer()
    quoted = 0
    for src, got in zip(source[1:], out[1:], strict=True):
        assert got[:4] == [neutralise(c) for c in src]
        quoted += got[3] != src[3]
        s = vader.polarity_scores(src[3])
        assert [float(v) for v in got[4:8]] == [s["neg"], s["neu"], s["pos"], s["compound"]]
        assert got[8] == label(s["compound"])
    assert quoted == 1_733  # texts starting with @, - or +: neutralised for spreadsheets

    assert report["rows"] == {"total": 23_703, "scored": 23_703, "none": 0, "rejected": 0}
    assert sum(report["labels"].values()) == 23_703
    assert report["text_column"] == "text"
    assert report["source"]["size"] == len(data)
