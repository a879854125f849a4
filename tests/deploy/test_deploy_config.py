"""Deployer settings and the layer manifest: bad input gets a clear message and a next step."""

from __future__ import annotations

import re

import pytest

from infra.deploy import layers
from infra.deploy.config import Config, parse_pins
from infra.deploy.errors import DeployError
from tests.deploy import deploy_fakes as fakes


def test_defaults_match_the_documented_ones():
    cfg = Config.from_env({})
    assert (cfg.stack, cfg.runtime, cfg.arch, cfg.memory, cfg.timeout) == (
        "sentiment", "python3.12", "x86_64", 1024, 900,
    )  # fmt: skip
    assert (cfg.app_stack, cfg.layer_stack("pandas"), cfg.layer_name("pandas")) == (
        "sentiment-app", "sentiment-layer-pandas", "sentiment-pandas",
    )  # fmt: skip
    assert not cfg.empty_buckets and cfg.pins == {}


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("STACK", "My_Stack", "STACK"),
        ("STACK", "a" * 25, "STACK"),
        ("RUNTIME", "python3.8", "RUNTIME"),
        ("ARCH", "amd64", "ARCH"),
        ("MEMORY", "64", "MEMORY"),
        ("TIMEOUT", "ten", "TIMEOUT"),
        ("CONCURRENCY", "-1", "CONCURRENCY"),
        ("ALARM_EMAIL", "nobody", "ALARM_EMAIL"),
        ("PIN_LAYERS", "pandas", "PIN_LAYERS"),
        ("PIN_LAYERS", "pandas=0", "PIN_LAYERS"),
        ("PIN_LAYERS", "pandas=latest", "PIN_LAYERS"),
        ("SCORING_ENGINE", "turbo", "SCORING_ENGINE"),
        ("SCORING_WORKERS", "17", "SCORING_WORKERS"),
        ("FANOUT_THRESHOLD_MB", "big", "FANOUT_THRESHOLD_MB"),
        ("RANGE_MB", "0", "RANGE_MB"),
        ("FANOUT_MAX_CONCURRENCY", "0", "FANOUT_MAX_CONCURRENCY"),
    ],
)
def test_an_invalid_setting_is_named(name, value, fragment):
    with pytest.raises(DeployError, match=fragment):
        Config.from_env({name: value})


def test_fanout_concurrency_stays_within_the_reserved_concurrency():
    assert Config.from_env({"CONCURRENCY": "5"}).fanout_max_concurrency == 5
    assert Config.from_env({}).fanout_max_concurrency == 100
    with pytest.raises(DeployError, match="FANOUT_MAX_CONCURRENCY=10 is above CONCURRENCY=5"):
        Config.from_env({"CONCURRENCY": "5", "FANOUT_MAX_CONCURRENCY": "10"})


def test_pins_take_version_numbers_or_arns():
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:sentiment-vader:4"
    assert parse_pins(f" pandas=3 , vader={arn}") == {"pandas": "3", "vader": arn}
    with pytest.raises(DeployError, match="twice"):
        parse_pins("pandas=1,pandas=2")


def test_layers_are_picked_for_runtime_and_arch_in_position_order(tmp_path):
    fakes.write_layers(tmp_path, arch="x86_64")
    fakes.write_layers(tmp_path, arch="arm64", requirements={"pandas": "pandas==9"})

    picked = layers.select(tmp_path / "layers", "python3.12", "x86_64")
    assert [layer.name for layer in picked] == ["powertools", "vader", "pandas"]
    assert all(layer.zip_path.name.endswith("-python3.12-x86_64.zip") for layer in picked)
    assert picked[2].key == f"layers/pandas/{picked[2].sha256}.zip"
    arm64 = layers.select(tmp_path / "layers", "python3.12", "arm64")
    assert arm64[2].packages == {"pandas": "9"}


def test_missing_layers_say_run_make_layers(tmp_path):
    with pytest.raises(DeployError, match="no built layers") as exc:
        layers.select(tmp_path / "layers", "python3.12", "x86_64")
    assert "make layers" in exc.value.next_step


def test_layers_for_another_arch_only_say_what_was_built(tmp_path):
    fakes.write_layers(tmp_path, arch="arm64")
    with pytest.raises(DeployError, match=re.escape("built: python3.12/arm64")) as exc:
        layers.select(tmp_path / "layers", "python3.12", "x86_64")
    assert "make layers" in exc.value.next_step


def test_a_zip_that_does_not_match_the_manifest_is_stale(tmp_path):
    fakes.write_layers(tmp_path)
    (tmp_path / "layers" / "vader-python3.12-x86_64.zip").write_bytes(b"truncated")
    with pytest.raises(DeployError, match="does not match the manifest"):
        layers.select(tmp_path / "layers", "python3.12", "x86_64")


def test_a_missing_zip_is_named(tmp_path):
    fakes.write_layers(tmp_path)
    (tmp_path / "layers" / "pandas-python3.12-x86_64.zip").unlink()
    with pytest.raises(DeployError, match=re.escape("pandas-python3.12-x86_64.zip is missing")):
        layers.select(tmp_path / "layers", "python3.12", "x86_64")
