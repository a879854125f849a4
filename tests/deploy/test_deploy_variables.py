"""Every `make deploy` variable is validated like the function's settings: a bad value is a
message naming the variable and the expected form (never a traceback), an empty one is the
default, and docs/deploy.md lists every variable the deployer reads."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from infra.deploy.config import Config
from infra.deploy.errors import DeployError
from tests.paths import ROOT


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEPLOY_POLL_SECONDS", "fast", "a number of seconds from 0.01 to 60"),
        ("DEPLOY_POLL_SECONDS", "0", "a number of seconds from 0.01 to 60"),
        ("DEPLOY_POLL_SECONDS", "61", "a number of seconds from 0.01 to 60"),
        ("DEPLOY_POLL_SECONDS", "nan", "a number of seconds from 0.01 to 60"),
        ("EMPTY_BUCKETS", "maybe", "yes or no"),
        ("LOG_LEVEL", "verbose", "one of: DEBUG, INFO, WARNING, ERROR"),
        ("NONCURRENT_DAYS", "0", "an integer from 1 to 3650"),
        ("NONCURRENT_DAYS", "3651", "an integer from 1 to 3650"),
        ("MEMORY", "10241", "an integer from 128 to 10240"),
        ("TIMEOUT", "29", "an integer from 30 to 900"),
        ("CONCURRENCY", "lots", "an integer from 0 to 100000"),
        ("SCORING_WORKERS", "0", "an integer from 1 to 16"),
        ("SCORING_WORKERS", "many", "an integer from 1 to 16"),
        ("ALARM_EMAIL", "ops at example", "an e-mail address"),
        ("RUNTIME", "python3.11", "one of: python3.12, python3.13, python3.14"),
        ("ARCH", "aarch64", "one of: x86_64, arm64"),
        ("STACK", "9lives", "1-24 characters"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_expected_form(name, value, expected):
    with pytest.raises(DeployError) as caught:
        Config.from_env({name: value})
    assert str(caught.value).startswith(f"{name}={value!r} is invalid; expected {expected}")


def test_values_are_normalised_as_the_function_reads_them():
    cfg = Config.from_env(
        {
            "SCORING_ENGINE": "Reference",
            "SCORING_WORKERS": "AUTO",
            "LOG_LEVEL": "debug",
            "EMPTY_BUCKETS": "YES",
            "DEPLOY_POLL_SECONDS": "0.5",
            "MEMORY": " 2048 ",
        }
    )
    assert (cfg.scoring_engine, cfg.scoring_workers, cfg.log_level) == (
        "reference",
        "auto",
        "DEBUG",
    )
    assert (cfg.empty_buckets, cfg.poll_seconds, cfg.memory) == (True, 0.5, 2048)
    assert Config.from_env({"EMPTY_BUCKETS": "no"}).empty_buckets is False


class _Recording(dict):
    """An environment that records which variables were read."""

    def __init__(self, values: dict[str, str]):
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_an_empty_variable_means_its_default_for_every_variable():
    env = _Recording({})
    defaults = Config.from_env(env)
    assert defaults == Config()
    # `make deploy MEMORY=` passes an empty value: the default, not an error.
    assert Config.from_env({name: "" for name in env.read}) == defaults


def test_docs_list_every_variable_the_deployer_reads():
    env = _Recording({})
    Config.from_env(env)
    text = (ROOT / "docs" / "deploy.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", text, re.MULTILINE))
    assert env.read - documented == set(), "add these to the table in docs/deploy.md"


def test_the_cli_prints_the_message_not_a_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DEPLOY_POLL_SECONDS": "soon"}
    done = subprocess.run(
        [sys.executable, "-m", "infra.deploy", "package"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error: DEPLOY_POLL_SECONDS='soon' is invalid; expected a number of seconds" in (
        done.stderr
    )
