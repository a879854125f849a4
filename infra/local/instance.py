"""One Lambda execution environment: an RIE process running awslambdaric with the runtime's
Python, serving one request at a time (concurrent requests crash RIE, and a Lambda instance
serves one at a time too).

RIE initialises the runtime on the first request (its cold start) and again after a timeout
or a crash; its INIT REPORT line gives the init duration. Its stdout is split per request
(START … END, REPORT) so that logs are kept per invocation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from infra.endpoint import free_port, stop_process_group
from infra.local.discover import Function
from infra.local.layout import Layout
from infra.local.runtime import Runtime

_RAPID = re.compile(r"^\d\d \w{3} \d{4} [\d:,]+ \[(\w+)\] \(rapid\) (.*)$")
_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([\d.]+)\)")
_INIT_FIELD = re.compile(r"Init Duration: [\d.]+ ms")
_DURATION = re.compile(r"\tDuration: ([\d.]+) ms")
_TIMED_OUT = b"Task timed out after"
_ERROR_KEYS = {"errorMessage", "errorType", "requestId", "stackTrace", "cause"}
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@dataclass
class LogLine:
    ts: float
    text: str


@dataclass
class Invocation:
    """What one request did, as Lambda would report it."""

    request_id: str
    status: str = "success"  # success | error | timeout
    payload: bytes = b""
    error: dict | None = None
    cold: bool = False
    init_ms: float | None = None
    duration_ms: float | None = None
    stream: str = ""
    lines: list[LogLine] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def failed(self) -> bool:
        return self.status != "success"


def lambda_environment(
    fn: Function, layout: Layout, runtime: Runtime, stream: str, endpoint_env: dict[str, str]
) -> dict[str, str]:
    """The variables Lambda sets (names as documented), the function's own, and what reaches the
    local endpoint. Nothing from the caller's environment leaks in (no real credentials)."""
    env = {
        "PATH": f"{Path(runtime.python).parent}:/usr/local/bin:/usr/bin:/bin:{layout.opt}/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(layout.task),
        "LAMBDA_RUNTIME_DIR": str(runtime.packages),
        "LD_LIBRARY_PATH": f"{layout.task}/lib:{layout.opt}/lib",
        "_HANDLER": fn.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "PYTHONPATH": ":".join(layout.python_path(fn.runtime, runtime.packages)),
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # see runtime.py: /var/task and /opt are read-only
        # The host's AWS config files must not reach the function (profiles, real keys).
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if fn.log_format == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        # As Lambda does: it outranks POWERTOOLS_LOG_LEVEL in Powertools' Logger.
        env["AWS_LAMBDA_LOG_LEVEL"] = fn.application_log_level
    env.update(endpoint_env)  # AWS_ENDPOINT_URL, local credentials and region
    env.update(fn.environment)
    return env


class Instance:
    def __init__(
        self,
        fn: Function,
        layout: Layout,
        runtime: Runtime,
        rie: Path,
        endpoint_env: dict[str, str],
        debug_log: Path | None = None,
        pid_dir: Path | None = None,
    ):
        self.fn = fn
        now = datetime.now(UTC)
        self.stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.port = free_port()
        self.api_port = free_port()
        env = lambda_environment(fn, layout, runtime, self.stream, endpoint_env)
        cmd = [
            str(rie),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{self.api_port}",
            "--log-level",
            "info",
            runtime.python,
            "-m",
            "awslambdaric",
            fn.handler,
        ]
        self._debug = open(debug_log, "a", encoding="utf-8") if debug_log else None  # noqa: SIM115
        self.process = subprocess.Popen(
            cmd,
            cwd=layout.task,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        # A record of the process group, so that `down` can end it even if the service was
        # killed without a chance to stop its instances.
        self._pid_file = pid_dir / str(self.process.pid) if pid_dir else None
        if self._pid_file:
            pid_dir.mkdir(parents=True, exist_ok=True)
            self._pid_file.write_text(str(rie))
        self._current: Invocation | None = None
        self._by_id: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"rie-{fn.name}")
        self._reader.start()
        self._wait_listening()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _wait_listening(self) -> None:
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self.alive:
                self.stop()
                raise RuntimeError(f"RIE exited with code {self.process.returncode} on start")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"RIE did not listen on 127.0.0.1:{self.port} within 10 s")

    def invoke(self, payload: bytes, request_id: str | None = None) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        inv = Invocation(request_id, stream=self.stream)
        with self._lock:
            self._by_id[request_id] = inv
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}",
            data=payload,
            method="POST",
            headers={"X-Amzn-RequestId": request_id, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.fn.timeout + 60) as resp:
                body = resp.read()
        except (urllib.error.URLError, OSError) as exc:
            # RIE itself died or hung: Lambda reports the environment's failure the same way.
            self.stop()
            inv.status, inv.error = (
                "error",
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: the execution environment "
                    f"failed ({exc})",
                },
            )
            inv.payload = json.dumps(inv.error).encode()
            inv.done.set()
            return inv
        inv.payload = body
        # RIE writes END/REPORT just after answering; wait for them so the record is whole.
        inv.done.wait(5)
        if body.startswith(_TIMED_OUT):
            # Lambda logs and returns "<time> <request id> Task timed out after N seconds".
            message = f"{_stamp(_end_time(inv))} {request_id} {body.decode().strip()}"
            inv.status, inv.error = "timeout", {"errorMessage": message}
            inv.payload = json.dumps(inv.error).encode()
            _insert_before_end(inv, message)
        else:
            error = _as_error(body)
            if error is not None:
                inv.status, inv.error = "error", error
        with self._lock:
            self._by_id.pop(request_id, None)
        return inv

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            now = time.time()
            rapid = _RAPID.match(text)
            if self._debug:
                self._debug.write(text + "\n")
                self._debug.flush()
            if rapid:
                cur = self._current
                if cur is not None and "INIT START" in rapid.group(2):
                    cur.cold = True
                m = _INIT_REPORT.search(rapid.group(2))
                if m and cur is not None:
                    cur.init_ms = float(m.group(1))
                continue
            if text.startswith("START RequestId: "):
                rid = text.split()[2]
                with self._lock:
                    self._current = self._by_id.get(rid) or Invocation(rid, stream=self.stream)
            cur = self._current
            if cur is None:
                continue
            cur.lines.append(LogLine(now, text))
            if text.startswith("REPORT RequestId: "):
                if cur.init_ms is not None:
                    # RIE's REPORT prints a near-zero Init Duration; its INIT REPORT line has
                    # the real one, which is what Lambda's REPORT shows.
                    text = _INIT_FIELD.sub(f"Init Duration: {cur.init_ms:.2f} ms", text)
                    cur.lines[-1] = LogLine(now, text)
                m = _DURATION.search(text)
                cur.duration_ms = float(m.group(1)) if m else None
                self._current = None
                cur.done.set()
        if self._debug:
            self._debug.close()

    def stop(self) -> None:
        if self._pid_file:
            self._pid_file.unlink(missing_ok=True)
        if self.process.poll() is not None:
            return
        stop_process_group(self.process)


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _end_time(inv: Invocation) -> float:
    ends = [x.ts for x in inv.lines if x.text.startswith("END RequestId: ")]
    return ends[0] if ends else time.time()


def _insert_before_end(inv: Invocation, message: str) -> None:
    for i, line in enumerate(inv.lines):
        if line.text.startswith("END RequestId: "):
            inv.lines.insert(i, LogLine(line.ts, message))
            return
    inv.lines.append(LogLine(time.time(), message))


def _as_error(body: bytes) -> dict | None:
    """The runtime's error document (RIE answers 200 and sets no X-Amz-Function-Error header,
    so an error is recognised by its shape, as `sam local` does)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and "errorMessage" in doc and set(doc) <= _ERROR_KEYS:
        return doc
    if isinstance(doc, dict) and "errorType" in doc and set(doc) <= _ERROR_KEYS:
        return doc
    return None
