"""Integration tier: the built artifacts under the real Lambda runtime (RIE + awslambdaric with
the runtime's Python), deployed to a moto server of its own and served by the local Lambda
service, exactly as `make demo` runs them.

The layers are built once per session through `make layers`'s code path (unchanged layers are
reused from build/, so only the first run takes minutes); the app is deployed with `make
deploy`'s code, and the probe functions (functions/probe) with a template of their own.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.prepare import app_outputs_for, isolated_env
from tests.paths import ROOT

PROBE = Path(__file__).resolve().parent / "functions" / "probe"
RUNTIME, ARCH = "python3.12", "x86_64"
STACK = "itest"  # the deployer's STACK: stacks itest-bootstrap, itest-layer-*, itest-app
PROBE_STACK = "probe"
PROBE_RETRIES = 1


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")


@pytest.fixture(scope="session")
def runtime_ready():
    """The runtime's Python and RIE; skipped only when they cannot exist on this machine."""
    from infra.local.rie import RieUnavailable, ensure_rie
    from infra.local.runtime import RuntimeUnavailable, resolve

    try:
        ensure_rie(ARCH)
        return resolve(RUNTIME, ARCH, ROOT / ".local" / "cache")
    except (RieUnavailable, RuntimeUnavailable) as exc:
        pytest.skip(f"the local Lambda runtime cannot run here: {exc}")


@pytest.fixture(scope="session")
def built_artifacts(runtime_ready):
    """build/layers for python3.12/x86_64 and build/functions/*.zip, as `make layers function`."""
    env = isolated_env()
    _run(
        [sys.executable, "-m", "infra.layerbuild", "build", "--runtime", RUNTIME, "--arch", ARCH],
        env,
        "make layers",
    )
    _run([sys.executable, "-m", "infra.deploy", "package"], env, "make function")
    return ROOT / "build"


@dataclass
class Local:
    endpoint: dict[str, str]
    service: Any
    s3: Any
    sqs: Any
    outputs: dict[str, str]  # the app stack's outputs
    probe: dict[str, str]  # the probe stack's physical ids
    lambda_url: str = ""  # the service's Lambda Invoke API (AWS_ENDPOINT_URL_LAMBDA)
    probe_stack: str = PROBE_STACK
    probe_retries: int = PROBE_RETRIES  # the fail probe's MaximumRetryAttempts
    stack: str = STACK  # the deployer's STACK and RUNTIME, for tests that deploy again
    runtime: str = RUNTIME

    def probe_function(self, name: str) -> str:
        return f"{self.probe_stack}-{name}"

    def wait(self, timeout: float = 240) -> None:
        assert self.service.wait_idle(timeout), "events still pending after the timeout"

    def events_for(self, function: str, key: str) -> list:
        return [e for e in self.service.events if e.function == function and key in str(e.payload)]


@pytest.fixture(scope="session")
def local(built_artifacts, tmp_path_factory) -> Iterator[Local]:
    """A moto server of our own (other tiers' stacks stay out of the service's view), the app
    and probe stacks deployed to it, and the local Lambda service serving them."""
    with _serve_local(tmp_path_factory.mktemp("local-lambda")) as served:
        yield served


@pytest.fixture(scope="module")
def local_of_its_own(built_artifacts, tmp_path_factory) -> Iterator[Local]:
    """The same as `local`, for one module whose work would disturb the others' (thousands of
    objects in the buckets, extra fan-outs in the logs, redeploys)."""
    with _serve_local(tmp_path_factory.mktemp("local-lambda-own")) as served:
        yield served


@contextlib.contextmanager
def _serve_local(run_dir: Path) -> Iterator[Local]:
    from infra.endpoint import start_moto_server
    from infra.local.invokeapi import InvokeApi
    from infra.local.service import LocalLambdaService

    moto = start_moto_server(log_path=run_dir / "moto.log")
    service = api = None
    try:
        env = moto.env()
        deploy_env = isolated_env(
            {
                **moto.deployer_env(),
                "RUNTIME": RUNTIME,
                "ARCH": ARCH,
                "STACK": STACK,
                "DEPLOY_POLL_SECONDS": "0.2",
            }
        )
        _run([sys.executable, "-m", "infra.deploy", "deploy"], deploy_env, "make deploy")
        session = boto3.Session(
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        s3 = session.client("s3", endpoint_url=moto.url)
        sqs = session.client("sqs", endpoint_url=moto.url)
        cfn = session.client("cloudformation", endpoint_url=moto.url)
        probe = _deploy_probe(s3, cfn)
        service = LocalLambdaService(
            env,
            ROOT / ".local" / "cache",
            run_dir=run_dir,
            retry_delay=0.2,
            concurrency=2,
            say=print,  # captured; shown with a failing test
        )
        service.start()
        assert not service.problems, service.problems
        api = InvokeApi(service, port=moto.lambda_port).start()
        yield Local(env, service, s3, sqs, app_outputs_for(env, STACK), probe, api.url)
    finally:
        if api:
            api.stop()
        if service:
            service.stop()
        moto.stop()


def _deploy_probe(s3: Any, cfn: Any) -> dict[str, str]:
    bucket = f"probe-artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(PROBE / "probe.py", "probe.py")
    s3.put_object(Bucket=bucket, Key="probe.zip", Body=buf.getvalue())
    params = {"CodeBucket": bucket, "CodeKey": "probe.zip", "RetryAttempts": str(PROBE_RETRIES)}
    cfn.create_stack(
        StackName=PROBE_STACK,
        TemplateBody=(PROBE / "template.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    for _ in range(100):
        stack = cfn.describe_stacks(StackName=PROBE_STACK)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    from infra.deploy.stacks import physical_ids

    return physical_ids(cfn, PROBE_STACK)


@pytest.fixture
def drain_queue(local) -> Callable[[str], list[dict]]:
    """All messages of a queue (by URL or name), removed from it."""
    import json

    def drain(queue: str) -> list[dict]:
        url = (
            queue
            if queue.startswith("http")
            else local.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        )
        out = []
        while True:
            batch = local.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            if not batch.get("Messages"):
                return out
            for m in batch["Messages"]:
                out.append(json.loads(m["Body"]))
                local.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return drain
