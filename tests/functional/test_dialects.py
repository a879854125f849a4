"""Every input dialect gives the same output: UTF-8 without BOM, comma, LF, minimal quoting."""

import codecs
import gzip

import pytest

ROWS = [
    ["id", "review", "stars"],
    ["007", "Great value, works as advertised 😀", "5"],
    ["2", 'He said "meh"\nthen left', "NA"],
    ["3", "", "1"],
    ["4", "Terrible; broke after a day", "1"],
]


def encode(delimiter: str, newline: str) -> str:
    def cell(c):
        if any(ch in c for ch in (delimiter, '"', "\n", "\r")):
            return '"' + c.replace('"', '""') + '"'
        return c

    return "".join(delimiter.join(cell(c) for c in row) + newline for row in ROWS)


@pytest.fixture
def baseline(harness):
    harness.put("input/base.csv", encode(",", "\n").encode())
    assert harness.process("input/base.csv")["status"] == "succeeded"
    return harness.output("scored/base.csv")


def test_output_format_is_utf8_comma_lf_minimal_quoting(baseline):
    text = baseline.decode("utf-8")
    assert not text.startswith("\ufeff")
    assert "\r" not in text
    assert text.splitlines()[0] == "id,review,stars,neg,neu,pos,compound,sentiment"
    assert '"Great value, works as advertised 😀"' in text
    assert '"He said ""meh""\nthen left"' in text
    assert "\n007," in text and ",NA," in text  # no type inference
    assert "\n3,,1,,,,,none\n" in text  # blank text keeps its place


@pytest.mark.parametrize(
    ("name", "data", "extra", "encoding", "delimiter"),
    [
        ("crlf.csv", encode(",", "\r\n").encode(), {}, "utf-8", "comma"),
        ("bom.csv", codecs.BOM_UTF8 + encode(",", "\n").encode(), {}, "utf-8-sig", "comma"),
        ("utf16le.csv", encode(",", "\r\n").encode("utf-16"), {}, "utf-16", "comma"),
        ("utf16be.csv", codecs.BOM_UTF16_BE + encode(";", "\n").encode("utf-16-be"), {},
         "utf-16", "semicolon"),
        ("semicolon.csv", encode(";", "\n").encode(), {}, "utf-8", "semicolon"),
        ("tab.tsv.csv", encode("\t", "\n").encode(), {}, "utf-8", "tab"),
        ("pipe.csv", encode("|", "\r\n").encode(), {}, "utf-8", "pipe"),
        ("zipped.csv.gz", gzip.compress(encode(",", "\n").encode()), {}, "utf-8", "comma"),
        ("encoded.csv", gzip.compress(encode(";", "\r\n").encode()),
         {"ContentEncoding": "gzip"}, "utf-8", "semicolon"),
    ],
)  # fmt: skip
def test_every_dialect_gives_the_baseline_output(
    harness, baseline, name, data, extra, encoding, delimiter
):
    harness.put(f"input/{name}", data, **extra)
    report = harness.process(f"input/{name}")
    assert report["status"] == "succeeded", report
    assert (report["encoding"], report["delimiter"]) == (encoding, delimiter)
    output = harness.output(f"scored/{name}")  # a .gz source's scored CSV is gzip too
    assert (gzip.decompress(output) if name.endswith(".gz") else output) == baseline
    assert report["outputs"]["report"] == f"reports/{name}.json"


def test_a_gz_source_and_its_plain_twin_never_share_an_output(harness, baseline):
    harness.put("input/twin.csv", encode(",", "\n").encode())
    harness.put("input/twin.csv.gz", gzip.compress(b"text\nsomething else entirely\n"))
    assert harness.process("input/twin.csv")["status"] == "succeeded"
    assert harness.process("input/twin.csv.gz")["status"] == "succeeded"
    assert harness.output("scored/twin.csv") == baseline
    assert gzip.decompress(harness.output("scored/twin.csv.gz")).startswith(b"text,neg,")
    head = harness.s3.head_object(Bucket=harness.buckets["output"], Key="scored/twin.csv.gz")
    assert head["ContentType"] == "application/gzip"
    assert harness.process("input/twin.csv")["status"] == "skipped"  # its own report


def test_legacy_encoding_uses_the_fallback_and_says_so(harness):
    harness.put("input/legacy.csv", "text\nCafé – très bien\n".encode("cp1252"))
    report = harness.process("input/legacy.csv")
    assert (report["encoding"], report["encoding_fallback_used"]) == ("cp1252", True)
    assert harness.rows("scored/legacy.csv")[1][0] == "Café – très bien"


def test_objects_have_proper_content_types(harness, baseline):
    head = harness.s3.head_object(Bucket=harness.buckets["output"], Key="scored/base.csv")
    assert head["ContentType"] == "text/csv; charset=utf-8"
    head = harness.s3.head_object(Bucket=harness.buckets["output"], Key="reports/base.csv.json")
    assert head["ContentType"] == "application/json"


def test_scores_parse_back_to_the_identical_floats(harness, baseline):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    row = harness.rows("scored/base.csv")[1]
    s = SentimentIntensityAnalyzer().polarity_scores(ROWS[1][1])
    assert [float(x) for x in row[3:7]] == [s["neg"], s["neu"], s["pos"], s["compound"]]


def test_report_describes_the_run(harness, baseline):
    report = harness.json("reports/base.csv.json")
    assert report["schema_version"] == 2
    assert report["rows"] == {"total": 4, "scored": 3, "none": 1, "rejected": 0}
    assert report["labels"]["none"] == 1
    assert report["model"] == "vaderSentiment 3.3.2"
    assert report["text_column"] == "review"
    assert report["request_id"] == "req-test"
    assert set(report["source"]) == {"bucket", "key", "version_id", "etag", "size"}
    assert report["rows_per_second"] > 0
    assert isinstance(report["mean_compound"], float)


def test_metadata_text_column_overrides_the_setting(harness):
    data = b"id,a,b\n1,I hate it,I love it\n"
    harness.put("input/meta.csv", data, Metadata={"text-column": "b"})
    report = harness.process("input/meta.csv", TEXT_COLUMN="a")
    assert report["text_column"] == "b"
    assert harness.rows("scored/meta.csv")[1][-1] == "positive"
