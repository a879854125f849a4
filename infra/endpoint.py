"""A local AWS API endpoint: moto server on a free loopback port, in its own process group.

Shared by the tests, the benchmarks and `make demo`, so all of them talk to AWS the same way:
through `AWS_ENDPOINT_URL`, which boto3 and the AWS CLI honour.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]  # so that `-m infra.moto_server` imports from anywhere

# Credentials and region for the local endpoint. moto accepts any; they are fixed so that
# nothing here can ever pick up a real account's credentials by accident.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# Tells the deployer (infra/deploy/aws.py) that it deploys to a local endpoint.
LOCAL_MODE_ENV = {"LOCAL_MODE": "1"}


def stop_process_group(process: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM the process group `process` leads (started with start_new_session=True), then
    SIGKILL it if it has not exited within `timeout` seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def free_port() -> int:
    """A free TCP port on loopback (the OS picks it; loopback only, never another interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MotoServer:
    """A running moto server; `stop()` ends it and its process group."""

    url: str
    process: subprocess.Popen
    log_path: Path | None = None
    # Where the Step Functions interpreter's Lambda tasks go (infra/moto_server.py): whoever
    # serves the functions binds this port (infra/local/invokeapi.py).
    lambda_port: int = 0
    _stopped: bool = field(default=False, repr=False)

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 and the AWS CLI at this endpoint."""
        return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def deployer_env(self) -> dict[str, str]:
        """env() plus LOCAL_MODE=1, for `make deploy`/`destroy`/`redrive` against this endpoint
        (never for the functions it serves: Lambda sets no such variable)."""
        return {**self.env(), **LOCAL_MODE_ENV}

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_process_group(self.process, timeout=10)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_moto_server(port: int | None = None, log_path: Path | None = None) -> MotoServer:
    """Start moto server (with its Step Functions interpreter, see infra/moto_server.py) on
    127.0.0.1 and wait until it answers."""
    port = port or free_port()
    lambda_port = free_port()
    cmd = [sys.executable, "-m", "infra.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(LOCAL_CREDENTIALS, AWS_ENDPOINT_URL_LAMBDA=f"http://127.0.0.1:{lambda_port}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    server = MotoServer(url=url, process=process, log_path=log_path, lambda_port=lambda_port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with code {process.returncode} on start")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto_server did not answer on {url} within 30 s")
