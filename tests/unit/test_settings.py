import pytest

from csv_sentiment.errors import SettingsError
from csv_sentiment.settings import SPECS, Settings

BASE = {"OUTPUT_BUCKET": "my-output-bucket"}


def test_defaults_are_documented_values():
    s = Settings.from_env(BASE)
    assert s.input_prefix == "input/"
    assert s.text_column == ""
    assert s.chunk_rows == 2000
    assert s.neutralise_formulas is True
    assert s.encoding_fallback == "cp1252"
    assert s.service_name == "sentiment"
    assert s.metrics_namespace == "SentimentPipeline"
    assert s.log_level == "INFO"
    assert s.part_size_bytes == 8 * 1024 * 1024


def test_missing_output_bucket_names_the_variable_and_form():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({})
    assert "OUTPUT_BUCKET is not set" in str(err.value)
    assert "an S3 bucket name" in str(err.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OUTPUT_BUCKET", "Not_A_Bucket", "an S3 bucket name"),
        ("CHUNK_ROWS", "many", "an integer from 1 to 100000"),
        ("CHUNK_ROWS", "0", "an integer from 1 to 100000"),
        ("PART_SIZE_MB", "4", "an integer from 5 to 512"),
        ("NEUTRALISE_FORMULAS", "maybe", "true or false"),
        ("SCORING_ENGINE", "turbo", "one of:"),
        ("ENCODING_FALLBACK", "klingon-8", "a text encoding name"),
        ("POWERTOOLS_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING or ERROR"),
    ],
)
def test_invalid_value_names_variable_value_and_expected_form(name, value, expected):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**BASE, name: value})
    message = str(err.value)
    assert message.startswith(f"{name}=")
    assert value.lower() in message.lower()
    assert expected in message


def test_encoding_fallback_none_disables_it():
    assert Settings.from_env({**BASE, "ENCODING_FALLBACK": "none"}).encoding_fallback is None


def test_every_spec_is_read_and_has_a_doc():
    assert len({s.env for s in SPECS}) == len(SPECS)
    for spec in SPECS:
        assert spec.doc and spec.expected


@pytest.mark.parametrize(
    ("memory", "expected"),
    [("1024", 1), ("1769", 1), ("3538", 2), ("10240", 6)],
)
def test_auto_workers_follow_the_memory_size(memory, expected, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    env = {**BASE, "SCORING_WORKERS": "auto", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory}
    assert Settings.from_env(env).scoring_workers == expected


def test_workers_must_be_a_small_integer_or_auto():
    with pytest.raises(SettingsError, match="SCORING_WORKERS='many' is invalid"):
        Settings.from_env({**BASE, "SCORING_WORKERS": "many"})


@pytest.mark.parametrize("codec", ["hex", "base64", "rot13", "zlib", "unicode_escape", "idna"])
def test_encoding_fallback_must_be_a_text_encoding(codec):
    with pytest.raises(SettingsError, match="a text encoding name"):
        Settings.from_env({**BASE, "ENCODING_FALLBACK": codec})


def test_encoding_fallback_accepts_charsets():
    assert (
        Settings.from_env({**BASE, "ENCODING_FALLBACK": "Latin-1"}).encoding_fallback == "iso8859-1"
    )


def test_default_bounds_fit_the_default_memory_size():
    Settings.from_env({**BASE, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_CELL_CHARS": "67108864"}, "batches (CHUNK_MB, MAX_CELL_CHARS)"),
        ({"CHUNK_MB": "256"}, "batches (CHUNK_MB, MAX_CELL_CHARS)"),
        ({"PART_SIZE_MB": "512"}, "output parts (PART_SIZE_MB)"),
        ({"SCORING_WORKERS": "16"}, "worker processes (SCORING_WORKERS)"),
    ],
)
def test_bounds_that_cannot_fit_the_memory_size_fail_the_cold_start(env, named):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**BASE, **env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})
    assert "more than the function's 1024 MB" in err.value.message
    assert named in err.value.message
    assert "lower CHUNK_MB" in err.value.expected


def test_outside_lambda_there_is_no_memory_size_to_check():
    assert Settings.from_env({**BASE, "CHUNK_MB": "256"}).chunk_bytes == 256 * 1024 * 1024
