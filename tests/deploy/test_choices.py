"""One source for each choice: runtimes and architectures (infra/choices.py) as the templates,
the deployer and the layer builder accept them; the engine names, workers range and log levels
as the function's settings accept them (the deployer's copies in infra/choices.py agree)."""

from __future__ import annotations

import re

import pytest

from csv_sentiment.engine import DEFAULT_ENGINE, ENGINES
from csv_sentiment.errors import SettingsError
from csv_sentiment.settings import Settings
from infra import choices
from infra.deploy import templates
from infra.deploy.config import Config
from infra.deploy.errors import DeployError
from infra.layerbuild.config import make_target
from infra.layerbuild.errors import ConfigError

APP = templates.load("app")[1]["Parameters"]
LAYER = templates.load("layer")[1]["Parameters"]


@pytest.mark.parametrize("params", [APP, LAYER], ids=["app.yaml", "layer.yaml"])
def test_the_templates_allow_exactly_the_runtimes_and_architectures(params):
    assert params["Runtime"]["AllowedValues"] == list(choices.RUNTIMES)
    assert params["Runtime"]["Default"] == choices.DEFAULT_RUNTIME
    assert params["Architecture"]["AllowedValues"] == list(choices.ARCHES)
    assert params["Architecture"]["Default"] == choices.DEFAULT_ARCH


@pytest.mark.parametrize("runtime", [*choices.RUNTIMES, "python3.11", "python3.15"])
@pytest.mark.parametrize("arch", [*choices.ARCHES, "aarch64"])
def test_the_deployer_and_the_builder_accept_the_same_targets(runtime, arch):
    supported = runtime in choices.RUNTIMES and arch in choices.ARCHES
    try:
        Config.from_env({"RUNTIME": runtime, "ARCH": arch})
        deployer = True
    except DeployError:
        deployer = False
    try:
        make_target(runtime, arch)
        builder = True
    except ConfigError:
        builder = False
    assert deployer == builder == supported


def _function_accepts(name: str, value: str) -> str | None:
    """The function's own reading of one setting, or None when it rejects the value."""
    env = {"OUTPUT_BUCKET": "out-bucket", name: value}
    try:
        settings = Settings.from_env(env)
    except SettingsError:
        return None
    field = {"SCORING_ENGINE": "scoring_engine", "POWERTOOLS_LOG_LEVEL": "log_level"}
    return str(getattr(settings, field[name])) if name in field else "accepted"


def _deployer_accepts(name: str, value: str) -> str | None:
    try:
        cfg = Config.from_env({name: value})
    except DeployError:
        return None
    return {"SCORING_ENGINE": cfg.scoring_engine, "LOG_LEVEL": cfg.log_level}.get(name, "accepted")


def test_engine_names_agree_with_the_function():
    assert set(choices.ENGINES) == set(ENGINES)
    assert choices.DEFAULT_ENGINE == DEFAULT_ENGINE == Config().scoring_engine
    assert set(APP["ScoringEngine"]["AllowedValues"]) == set(ENGINES)
    assert APP["ScoringEngine"]["Default"] == DEFAULT_ENGINE
    for value in [*ENGINES, "FAST", "turbo", "vader"]:
        assert _deployer_accepts("SCORING_ENGINE", value) == _function_accepts(
            "SCORING_ENGINE", value
        ), value


def test_log_levels_agree_with_the_function():
    assert APP["LogLevel"]["AllowedValues"] == list(choices.LOG_LEVELS)
    assert APP["LogLevel"]["Default"] == Config().log_level
    for value in [*choices.LOG_LEVELS, "debug", "TRACE", "CRITICAL", "verbose"]:
        function = _function_accepts("POWERTOOLS_LOG_LEVEL", value)
        assert _deployer_accepts("LOG_LEVEL", value) == function, value


def test_the_workers_range_agrees_with_the_function_and_the_template():
    pattern = re.compile(APP["ScoringWorkers"]["AllowedPattern"])
    assert APP["ScoringWorkers"]["Default"] == Config().scoring_workers
    for value in ["auto", *map(str, range(-1, 20)), "1.5", "many"]:
        deployer = _deployer_accepts("SCORING_WORKERS", value)
        function = _function_accepts("SCORING_WORKERS", value)
        assert deployer == function, value
        # The template receives what the deployer normalised; it must accept exactly that.
        if deployer:
            assert pattern.match(Config.from_env({"SCORING_WORKERS": value}).scoring_workers)
        else:
            assert not pattern.match(value), value
