"""Lambda's Invoke API for the locally served functions, so that boto3 and the AWS CLI can call
them (`make redrive` does): point only Lambda at it with AWS_ENDPOINT_URL_LAMBDA, which boto3
and the AWS CLI read per service, and keep AWS_ENDPOINT_URL on moto for everything else.

    POST /2015-03-31/functions/{name or ARN}/invocations
    X-Amz-Invocation-Type: RequestResponse (default) | Event | DryRun
    X-Amz-Log-Type: Tail  → X-Amz-Log-Result: the last 4 KB of the invocation's log, base64
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from infra.local.service import LocalLambdaService

_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class InvokeApi:
    def __init__(self, service: LocalLambdaService, port: int = 0):
        handler = type("Handler", (_Handler,), {"service": service})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name="invoke-api"
        )

    def start(self) -> InvokeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    service: LocalLambdaService
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # the service's own log is enough
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _PATH.match(self.path.split("?", 1)[0])
        if not match:
            return self._send(
                404,
                {"Type": "User", "message": f"unknown path {self.path}"},
                error="UnknownOperationException",
            )
        name = unquote(match.group(1))
        if ":function:" in name:
            name = name.split(":function:", 1)[1]
        name = name.split(":", 1)[0]
        if name not in self.service.served:
            arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            return self._send(
                404,
                {"Type": "User", "Message": f"Function not found: {arn}"},
                error="ResourceNotFoundException",
            )
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return self._send(204, None)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return self._send(
                400,
                {"Type": "User", "message": "Could not parse request body"},
                error="InvalidRequestContentException",
            )
        if kind == "Event":
            self.service.invoke_async(name, payload)
            return self._send(202, None)
        inv = self.service.invoke(name, body or b"{}")
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if inv.failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            text = "".join(line.text + "\n" for line in inv.lines).encode()[-4096:]
            headers["X-Amz-Log-Result"] = base64.b64encode(text).decode()
        self._send(200, inv.payload, headers=headers)

    def _send(
        self,
        status: int,
        body: bytes | dict[str, str] | None,  # bytes as the function returned them, or JSON
        error: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error:
            self.send_header("X-Amzn-ErrorType", error)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
