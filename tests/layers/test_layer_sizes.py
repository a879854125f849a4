"""The size table and Lambda's 262,144,000-byte gate (function + layers, unzipped)."""

from __future__ import annotations

import zipfile

import pytest

from infra.layerbuild.errors import VerificationError
from infra.layerbuild.sizes import LAMBDA_UNZIPPED_LIMIT, Row, function_row, gate, table


def test_limit_is_lambdas_250_mib():
    assert LAMBDA_UNZIPPED_LIMIT == 262_144_000 == 250 * 1024 * 1024


def test_gate_passes_at_the_limit():
    gate([Row("pandas", 1, LAMBDA_UNZIPPED_LIMIT - 10), Row("function", None, 10)])


def test_gate_fails_over_the_limit_naming_the_biggest():
    rows = [
        Row("pandas", 1, 200_000_000),
        Row("vader", 1, 62_000_000),
        Row("function", None, 200_000),
    ]
    with pytest.raises(VerificationError) as info:
        gate(rows)
    message = str(info.value)
    assert "262,200,000 bytes, over Lambda's limit of 262,144,000 by 56,000" in message
    assert message.index("pandas 200,000,000") < message.index("vader 62,000,000")


def test_table_lists_every_row_and_the_total_share():
    text = table([Row("vader", 142_090, 624_918), Row("function", None, 70_000, "src")])
    assert "vader" in text and "142,090" in text and "624,918" in text
    assert "694,918  0% of Lambda's 262,144,000-byte limit" in text


def test_function_size_counts_the_packaged_zip_when_present(tmp_path):
    source = tmp_path / "functions" / "sentiment"
    (source / "__pycache__").mkdir(parents=True)
    (source / "handler.py").write_text("x" * 100)
    (source / "__pycache__" / "handler.cpython-312.pyc").write_text("y" * 1000)
    assert function_row(tmp_path).unzipped == 100  # bytecode caches are not shipped
    (tmp_path / "build" / "functions").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "build" / "functions" / "sentiment.zip", "w") as archive:
        archive.writestr("handler.py", "x" * 300)
    row = function_row(tmp_path)
    assert (row.unzipped, row.note) == (300, "build/functions/sentiment.zip")
