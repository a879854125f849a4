"""The steps `make demo` and `make local-up` share: build the layers and the function, prepare
the local runtime, start the endpoint, deploy with `make deploy`'s code; and where their runs
keep state."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from infra.deploy import memory
from infra.deploy.config import Config
from infra.deploy.errors import DeployError
from infra.endpoint import MotoServer, start_moto_server
from infra.local.steps import StepFailed, Steps, say

ROOT = Path(__file__).resolve().parents[2]
# Runs (logs, pids, up.json) go under LOCAL_STATE_DIR (default .local/) so that tests can run
# `demo` and `up` beside a developer's own `make local-up`; the caches are always shared.
STATE = Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")
CACHE = ROOT / ".local" / "cache"


def _settings() -> tuple[str, str, str]:
    """RUNTIME, ARCH and STACK as `make deploy` defaults them (it validates them too)."""
    d = Config()
    return (
        os.environ.get("RUNTIME") or d.runtime,
        os.environ.get("ARCH") or d.arch,
        os.environ.get("STACK") or d.stack,
    )


def isolated_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus anything that could reach a real AWS account."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env.update(extra or {})
    return env


def build_and_deploy(steps: Steps, run_dir: Path) -> tuple[MotoServer, dict[str, str]]:
    """Steps shared by demo and up: layers, function, runtime, endpoint, deploy."""
    # What `make deploy` refuses without AWS (its variables, a MEMORY the function would refuse
    # at every cold start) is refused before minutes of building, not at the deploy step.
    try:
        memory.check(Config.from_env(), say)
    except DeployError as exc:
        raise StepFailed("settings", str(exc)) from exc
    runtime, arch, stack = _settings()
    py = sys.executable
    with steps.step(f"layers for {runtime}/{arch} (`make layers`; unchanged layers are reused)"):
        steps.run(
            "layers",
            [py, "-m", "infra.layerbuild", "build", "--runtime", runtime, "--arch", arch],
            isolated_env(),
        )
    with steps.step("function package (`make function`)"):
        steps.run("function", [py, "-m", "infra.deploy", "package"], isolated_env())
    with steps.step(f"local Lambda runtime: Python for {runtime}, /var/runtime, RIE"):
        from infra.local.rie import ensure_rie
        from infra.local.runtime import resolve

        rt = resolve(runtime, arch, CACHE)
        say(f"python {rt.version}: {rt.python}")
        say(f"/var/runtime (boto3, awslambdaric): {rt.packages}")
        say(f"RIE: {ensure_rie(arch)}")
    with steps.step("local AWS endpoint (moto server on loopback)"):
        run_dir.mkdir(parents=True, exist_ok=True)
        moto = start_moto_server(log_path=run_dir / "moto.log")
        say(f"{moto.url}  (log: {run_dir / 'moto.log'})")
    env = {**moto.env()}
    try:
        with steps.step(f"deploy stacks {stack}-* to {moto.url} (`make deploy`'s code)"):
            deploy_env = isolated_env(
                {
                    **moto.deployer_env(),
                    "RUNTIME": runtime,
                    "ARCH": arch,
                    "STACK": stack,
                    "DEPLOY_POLL_SECONDS": "0.2",
                }
            )
            steps.run("deploy", [py, "-m", "infra.deploy", "deploy"], deploy_env)
    except BaseException:
        moto.stop()
        raise
    return moto, env


def app_outputs(env: dict[str, str]) -> dict[str, str]:
    return app_outputs_for(env, _settings()[2])


def app_outputs_for(env: dict[str, str], stack: str) -> dict[str, str]:
    """The app stack's outputs (InputBucketName, OutputBucketName, FunctionName, …)."""
    import boto3

    from infra.deploy import stacks, templates

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    _, template = templates.load("app")
    return stacks.outputs_of(cfn, f"{stack}-app", template)


def interrupt(*_: object) -> None:
    raise KeyboardInterrupt
