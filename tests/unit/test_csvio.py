import codecs
import gzip

import pytest

from csv_sentiment import csvio
from csv_sentiment.errors import DecodeFailed, EmptyInput, LimitExceeded, NotCsv


def chunks(data: bytes, size: int):
    return [data[i : i + size] for i in range(0, len(data), size)]


def lines_of(data: bytes, fallback="cp1252", size=7, max_line=1000):
    enc = csvio.detect_encoding(data[: csvio.SAMPLE_BYTES], fallback)
    b = budget(max_line)
    lines = []
    for line in csvio.iter_lines(csvio.decode(chunks(data, size), enc), b):
        lines.append(line)
        b.mark = b.fed  # as csv.reader's caller does when each line is a record
    return enc, lines


def budget(max_chars: int, delimiter: str = ",") -> csvio.RecordBudget:
    """A budget that admits a record of `max_chars` characters without delimiters."""
    return csvio.RecordBudget(csvio.RecordBudget.CHAR_BYTES * (max_chars + 1), delimiter)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (codecs.BOM_UTF8 + "a,b\né,ü\n".encode(), "utf-8-sig"),
        ("a,b\né,ü\n".encode(), "utf-8"),
        (codecs.BOM_UTF16_LE + "a,b\né,ü\n".encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + "a,b\né,ü\n".encode("utf-16-be"), "utf-16"),
    ],
)
def test_decodes_every_supported_encoding_across_chunk_boundaries(data, name):
    enc, lines = lines_of(data, size=3)
    assert enc.name == name
    assert lines == ["a,b\n", "é,ü\n"]


def test_legacy_bytes_use_the_documented_fallback():
    enc, lines = lines_of("a\ncafé – ok\n".encode("cp1252"))
    assert (enc.name, enc.fallback) == ("cp1252", True)
    assert lines == ["a\n", "café – ok\n"]


def test_undecodable_byte_is_reported_with_its_offset_when_no_fallback():
    data = b"text\nfine\nbad \xff here\n"
    with pytest.raises(DecodeFailed) as err:
        lines_of(data, fallback=None)
    assert err.value.details["offset"] == data.index(b"\xff")
    assert "byte 14" in str(err.value)


def test_undecodable_byte_after_the_sample_names_its_absolute_offset():
    data = b"text\n" + b"x" * 70_000 + b"\n\xc3\x28\n"  # invalid UTF-8 past the sample
    with pytest.raises(DecodeFailed) as err:
        lines_of(data, size=4096, max_line=100_000)
    assert err.value.details["offset"] == data.index(b"\xc3\x28")


def test_crlf_is_left_for_the_csv_module_and_unicode_separators_are_not_line_ends():
    _, lines = lines_of("a\r\nx\u2028y\r\n".encode())
    assert lines == ["a\r\n", "x\u2028y\r\n"]


def test_empty_file_is_an_empty_input_error():
    with pytest.raises(EmptyInput):
        csvio.detect_encoding(b"", "cp1252")


def test_nul_bytes_mean_not_a_csv():
    with pytest.raises(NotCsv, match="NUL"):
        csvio.detect_encoding(b"PK\x03\x04\x00\x00binary", "cp1252")


def test_nul_character_later_in_the_file_names_its_line():
    data = b"a\nok\nalso ok\nbad\x00cell\n"
    enc = csvio.detect_encoding(b"a\n", None)
    with pytest.raises(NotCsv) as err:
        list(csvio.iter_lines(csvio.decode(chunks(data, 100), enc), budget(1000)))
    assert err.value.details["line"] == 4


def test_overlong_line_is_a_limit_error_naming_the_line():
    data = b"a\nshort\n" + b"y" * 5000 + b"\n"
    enc = csvio.detect_encoding(data, None)
    with pytest.raises(LimitExceeded) as err:
        list(csvio.iter_lines(csvio.decode(chunks(data, 512), enc), budget(1000)))
    assert err.value.details["line"] == 3
    assert "refused before it was parsed" in err.value.message


def feed(data: bytes, b: csvio.RecordBudget, records_end_at=()):
    """Lines as csv.reader pulls them, marking the budget where records end."""
    enc = csvio.detect_encoding(data, None)
    lines = []
    for line in csvio.iter_lines(csvio.decode(chunks(data, 64), enc), b):
        lines.append(line)
        if len(lines) in records_end_at:
            b.mark = b.fed
    return lines


def test_a_record_of_many_short_lines_is_refused_while_it_is_fed():
    data = b'text\n"' + b'a\n","' * 10_000 + b'z"\n'  # one record, 10,001 lines
    b = budget(100_000)
    with pytest.raises(LimitExceeded) as err:
        feed(data, b, records_end_at=(1,))
    assert err.value.details["line"] < 10_000  # before the record ends


def test_fields_count_in_the_record_cost():
    data = b"h\n" + b"ab," * 3000 + b"z\n"  # 9,000 characters, 3,000 fields
    with pytest.raises(LimitExceeded):
        feed(data, budget(20_000), records_end_at=(1,))  # 80 kB: 36 kB of text, 168 kB fields
    assert len(feed(data, budget(20_000, delimiter=";"), records_end_at=(1,))) == 2


def test_the_cost_restarts_at_each_record():
    data = b"h\n" + b"x" * 900 + b"\n" + b"y" * 900 + b"\n"
    assert len(feed(data, budget(1000), records_end_at=(1, 2, 3))) == 3
    with pytest.raises(LimitExceeded):
        feed(data, budget(1000), records_end_at=(1,))  # lines 2 and 3 are one record


def test_gunzip_reads_multi_member_streams_in_chunks():
    data = gzip.compress(b"a,b\n1,2\n") + gzip.compress(b"3,4\n")
    assert b"".join(csvio.gunzip(chunks(data, 5), 10_000)) == b"a,b\n1,2\n3,4\n"


def test_gzip_bomb_stops_at_the_decompressed_limit():
    bomb = gzip.compress(b"a\n" * 10_000_000, 9)
    assert len(bomb) < 100_000
    produced = 0
    with pytest.raises(LimitExceeded, match="MAX_INPUT_MB"):
        for out in csvio.gunzip(chunks(bomb, 65536), 1_000_000):
            produced += len(out)
            assert len(out) <= 1024 * 1024  # bounded steps, never the whole thing
    assert produced <= 1_000_000


def test_corrupt_and_truncated_gzip_are_not_csv():
    data = gzip.compress(b"a,b\n" * 1000)
    with pytest.raises(NotCsv, match="corrupt"):
        list(csvio.gunzip([b"\x1f\x8b\x08\x00garbage-garbage"], 10**6))
    with pytest.raises(NotCsv, match="ends early"):
        list(csvio.gunzip([data[: len(data) // 2]], 10**6))


def test_plain_input_larger_than_the_limit_is_refused():
    with pytest.raises(LimitExceeded):
        list(csvio.limit_bytes([b"x" * 600, b"x" * 600], 1000))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_detects_each_delimiter(delimiter):
    rows = [["id", "text", "stars"], ["1", "good, really; ok", "5"], ["2", "bad", "1"]]
    quoted = [
        delimiter.join(f'"{c}"' if any(d in c for d in ",;\t|") else c for c in r) + "\n"
        for r in rows
    ]
    assert csvio.detect_delimiter(quoted) == delimiter


def test_single_column_file_defaults_to_comma():
    assert csvio.detect_delimiter(["text\n", "hello\n", "world\n"]) == ","


def late_bad_byte(prefix: bytes = b"") -> bytes:
    return prefix + b"text\n" + b"plain ascii row\n" * 5000 + b"caf\xe9\n"  # > 64 KiB first


def test_a_late_undecodable_byte_does_not_advise_a_fallback_that_cannot_apply():
    with pytest.raises(DecodeFailed) as err:
        lines_of(late_bad_byte(), fallback="cp1252", size=4096)
    assert "first 64 KiB are valid UTF-8" in err.value.expected
    assert "set ENCODING_FALLBACK" not in err.value.expected
    assert err.value.details["offset"] == len(late_bad_byte()) - 2


def test_an_early_undecodable_byte_advises_the_fallback_when_it_is_off():
    with pytest.raises(DecodeFailed) as err:
        lines_of(b"text\ncaf\xe9\n", fallback=None)
    assert "set ENCODING_FALLBACK" in err.value.expected


def test_bytes_the_fallback_cannot_decode_say_so():
    with pytest.raises(DecodeFailed) as err:
        lines_of(b"text\ncaf\xe9 \x81\n", fallback="cp1252")
    assert "valid cp1252 (ENCODING_FALLBACK" in err.value.expected
