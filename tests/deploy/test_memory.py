"""`make deploy` (and `make local-up`, which runs it) refuses a MEMORY that cannot hold the
scoring function's worst case for the settings it passes, with the function's own figures
(csv_sentiment/memory.py), before any stack changes; the app template's MemorySize floor holds
the default settings' worst case."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from csv_sentiment.errors import SettingsError
from csv_sentiment.memory import peak_mb
from csv_sentiment.settings import Settings
from csv_sentiment.workers import lambda_vcpus
from infra.deploy import memory, stacks, templates
from infra.deploy.config import Config
from infra.deploy.errors import DeployError
from infra.deploy.pipeline import deploy
from tests.paths import ROOT

MEMORY_SIZE = templates.load("app")[1]["Parameters"]["MemorySize"]
FLOOR = int(MEMORY_SIZE["MinValue"])


def needed(workers: int) -> int:
    """The function's own worst case at its default settings, as its cold start adds it up."""
    env = {"OUTPUT_BUCKET": "out-bucket", "SCORING_WORKERS": str(workers)}
    return math.ceil(sum(peak_mb(Settings.from_env(env)).values()))


def check(log, **env: str) -> None:
    memory.check(Config.from_env(env), log)


def test_the_templates_floor_holds_the_default_settings_worst_case_and_no_more_than_needed():
    assert Config().scoring_workers == "1" and Config().memory >= FLOOR
    assert needed(1) <= FLOOR < needed(1) + 64, "MemorySize MinValue: the worst case rounded up"
    assert int(MEMORY_SIZE["MaxValue"]) == 10240  # Lambda's largest
    # The function itself refuses just below its worst case and accepts it (its cold start).
    env = {"OUTPUT_BUCKET": "out-bucket", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(needed(1) - 1)}
    with pytest.raises(SettingsError, match="more than the function"):
        Settings.from_env(env)
    Settings.from_env({**env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(needed(1))})


def test_the_default_settings_are_accepted_with_the_figure(log):
    check(log)
    assert log == [
        f"memory:   worst case {needed(1)} MB of MEMORY=1024 (SCORING_WORKERS=1; "
        "csv_sentiment/memory.py)"
    ]


def test_a_memory_below_the_worst_case_is_refused_with_the_needed_mb_and_the_fix(log):
    with pytest.raises(DeployError) as caught:
        check(log, MEMORY="256")
    assert caught.value.message.startswith(
        f"MEMORY=256 cannot hold the scoring function's worst case of {needed(1)} MB at "
        "SCORING_WORKERS=1 (process 130, "
    )
    assert "it would refuse its settings at every cold start" in caught.value.message
    assert caught.value.next_step == f"deploy with MEMORY={FLOOR} or more"


def test_workers_that_do_not_fit_the_memory_are_refused_with_the_most_that_fit(log):
    assert needed(2) <= 1024 < needed(3)
    with pytest.raises(DeployError) as caught:
        check(log, MEMORY="1024", SCORING_WORKERS="3")
    assert f"worst case of {needed(3)} MB at SCORING_WORKERS=3" in caught.value.message
    assert "worker processes (SCORING_WORKERS) " in caught.value.message
    assert caught.value.next_step == (
        f"deploy with MEMORY={needed(3)} or more or SCORING_WORKERS=2"
    )
    check(log, MEMORY=str(needed(3)), SCORING_WORKERS="3")
    assert log[-1].startswith(f"memory:   worst case {needed(3)} MB of MEMORY={needed(3)} ")


def test_between_the_worst_case_and_the_floor_the_templates_floor_is_named(log):
    assert needed(1) < FLOOR, "no gap to test: the floor equals the worst case"
    with pytest.raises(DeployError) as caught:
        check(log, MEMORY=str(FLOOR - 1))
    assert f"below {FLOOR} MB, the smallest memory size the app template" in str(caught.value)
    assert caught.value.next_step == f"deploy with MEMORY={FLOOR} or more"


@pytest.mark.parametrize("size", [1024, 1770, 4000, 10240])
def test_auto_workers_are_the_vcpus_the_memory_gives(log, size):
    workers = lambda_vcpus(size)
    check(log, MEMORY=str(size), SCORING_WORKERS="auto")
    assert log == [
        f"memory:   worst case {needed(workers)} MB of MEMORY={size} (SCORING_WORKERS=auto, "
        f"{workers} at MEMORY={size}; csv_sentiment/memory.py)"
    ]
    assert (lambda_vcpus(1024), lambda_vcpus(1770), lambda_vcpus(10240)) == (1, 2, 6)


def test_auto_below_the_worst_case_is_refused(log):
    with pytest.raises(DeployError) as caught:
        check(log, MEMORY="256", SCORING_WORKERS="auto")
    assert f"{needed(1)} MB at SCORING_WORKERS=auto, 1 at MEMORY=256" in caught.value.message
    assert caught.value.next_step == f"deploy with MEMORY={FLOOR}"


def _edit(function_dir, old: str, new: str) -> None:
    path = function_dir / "csv_sentiment" / "memory.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_figures_are_read_from_the_functions_memory_py(workspace, make_config, log):
    """A function whose workers take 2 GB each: auto fits only where it gives one worker."""
    _edit(workspace["function"], "WORKER_MB = 90 ", "WORKER_MB = 2000 ")
    with pytest.raises(DeployError) as caught:
        memory.check(make_config(MEMORY="4000", SCORING_WORKERS="auto"), log)
    assert "worker processes (SCORING_WORKERS) 6" in caught.value.message  # 3 x (2000 + 2 x 24)
    assert caught.value.next_step == "deploy with MEMORY=1769 or SCORING_WORKERS=1"


def test_a_memory_py_that_needs_third_party_packages_is_refused(workspace, make_config, log):
    """The probe runs without site-packages: the deployer never imports the function's
    dependencies (here botocore, which the deployer's own Python has)."""
    _edit(workspace["function"], "from __future__ import annotations\n",
          "from __future__ import annotations\nimport botocore\n")  # fmt: skip
    with pytest.raises(DeployError) as caught:
        memory.check(make_config(), log)
    assert "No module named 'botocore'" in caught.value.message
    assert "standard library alone" in caught.value.next_step


def test_deploy_refuses_before_any_stack_changes(aws, make_config, log):
    cfg = make_config(MEMORY="256")
    with pytest.raises(DeployError, match="MEMORY=256 cannot hold"):
        deploy(cfg, aws, log)
    assert stacks.describe(aws.cfn, cfg.bootstrap_stack) is None
    assert stacks.describe(aws.cfn, cfg.app_stack) is None


def _refused_by(module: str, command: str, home, **env: str) -> subprocess.CompletedProcess:
    """`python -m <module> <command>` as make runs it: exit 1 with a message, no traceback."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), **env}
    done = subprocess.run(
        [sys.executable, "-m", module, command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return done


def test_the_cli_prints_the_refusal_not_a_traceback(tmp_path, moto_server):
    done = _refused_by("infra.deploy", "deploy", tmp_path, MEMORY="256", STACK="memory-cli",
                       **moto_server.deployer_env())  # fmt: skip
    assert "error: MEMORY=256 cannot hold the scoring function's worst case" in done.stderr
    assert f"next: deploy with MEMORY={FLOOR} or more" in done.stderr
    assert "memory-cli-bootstrap" not in done.stdout + done.stderr


def test_local_up_refuses_before_building_or_starting_anything(tmp_path):
    done = _refused_by("infra.local", "up", tmp_path, LOCAL_STATE_DIR=str(tmp_path),
                       MEMORY="1024", SCORING_WORKERS="3")  # fmt: skip
    assert "error: step 'settings' failed: MEMORY=1024 cannot hold" in done.stderr
    assert f"next: deploy with MEMORY={needed(3)} or more or SCORING_WORKERS=2" in done.stderr
    assert "==> [1/" not in done.stdout  # no layer build, no endpoint
    assert not (tmp_path / "up.json").exists()
