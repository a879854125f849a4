"""`python -m infra.moto_server -H 127.0.0.1 -p PORT`: moto server with its Step Functions
interpreter on, and the interpreter's AWS clients honouring AWS_ENDPOINT_URL_<SERVICE>.

moto executes state machines only when `execute_state_machine` is set (off by default). In
server mode the interpreter builds its clients (Lambda tasks, S3 item readers, aws-sdk tasks)
pinned to its own port, where Lambda would need Docker images; here a client for a service
whose AWS_ENDPOINT_URL_<SERVICE> is set goes there instead, so `lambda:invoke` tasks reach the
local Lambda service and the real function (infra/local/invokeapi.py). Everything else is
moto's own `moto_server` (the cmdline keeps the name, which `make local-down` checks).
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _endpoint_for(service: str) -> str | None:
    # The names boto3 itself reads (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL_S3, …).
    return os.environ.get("AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")) or None


class _Boto3:
    """Stands in for the `boto3` module inside moto's interpreter client factory."""

    def __init__(self, real: Any):
        self._real = real

    def client(self, *args: Any, **kwargs: Any) -> Any:
        service = kwargs.get("service_name") or (args[0] if args else "")
        endpoint = _endpoint_for(service)
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        return self._real.client(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def enable_interpreter() -> None:
    """Turn on moto's Step Functions interpreter and route its clients as described above."""
    import boto3
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.utils import boto_client

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    boto_client.boto3 = _Boto3(boto3)  # every interpreter client is made through this module


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    enable_interpreter()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
