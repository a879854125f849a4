"""The AWS clients the local Lambda service uses, all pointed at the local endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig


@dataclass
class Clients:
    region: str
    s3: Any
    sqs: Any
    sns: Any
    cfn: Any
    lam: Any
    logs: Any

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Clients:
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            region_name=env.get("AWS_REGION", "us-east-1"),
        )
        config = BotoConfig(
            retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32
        )

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=env["AWS_ENDPOINT_URL"], config=config)

        return cls(
            session.region_name,
            *(client(n) for n in ("s3", "sqs", "sns", "cloudformation", "lambda", "logs")),
        )
