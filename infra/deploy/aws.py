"""One place that turns the environment into AWS clients, with clear messages when it can't.

boto3 reads AWS_PROFILE, AWS_REGION/AWS_DEFAULT_REGION and AWS_ENDPOINT_URL itself, so the
same code reaches AWS or a local endpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config as BotoConfig

from infra.deploy.errors import DeployError

# Synchronous invokes (redrive) can last the function's whole timeout.
_LONG_READS = BotoConfig(read_timeout=960, retries={"max_attempts": 3, "mode": "standard"})


@dataclass
class Aws:
    region: str
    account: str
    partition: str
    cfn: Any
    s3: Any
    lam: Any
    sqs: Any

    @property
    def local_endpoint(self) -> str | None:
        """The endpoint URL when boto3 is pointed somewhere other than AWS (e.g. moto)."""
        return os.environ.get("AWS_ENDPOINT_URL") or None


def connect(profile: str | None = None) -> Aws:
    profile = profile or os.environ.get("AWS_PROFILE") or None
    try:
        # AWS_REGION first, as the AWS CLI v2 does (botocore itself reads AWS_DEFAULT_REGION).
        session = boto3.Session(
            profile_name=profile, region_name=os.environ.get("AWS_REGION") or None
        )
    except botocore.exceptions.ProfileNotFound as exc:
        raise DeployError(
            str(exc), "check AWS_PROFILE against `aws configure list-profiles`"
        ) from exc
    region = session.region_name
    if not region:
        raise DeployError(
            "no AWS region: neither AWS_REGION nor the profile names one",
            "export AWS_REGION=eu-west-1 (or your region), or set `region` in your profile",
        )
    if session.get_credentials() is None:
        raise DeployError(
            "no AWS credentials found (environment, profile, SSO or instance role)",
            "run `aws configure` or `aws sso login --profile <name>` and export AWS_PROFILE",
        )
    try:
        identity = session.client("sts").get_caller_identity()
    except botocore.exceptions.EndpointConnectionError as exc:
        raise DeployError(
            f"cannot reach AWS: {exc}",
            "check the network, AWS_REGION and (for a local endpoint) AWS_ENDPOINT_URL",
        ) from exc
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise DeployError(
            f"AWS rejected the credentials: {exc}",
            "refresh them (`aws sso login`, new keys) and check with `aws sts get-caller-identity`",
        ) from exc
    partition = identity["Arn"].split(":")[1]
    return Aws(
        region=region,
        account=identity["Account"],
        partition=partition,
        cfn=session.client("cloudformation"),
        s3=session.client("s3"),
        lam=session.client("lambda", config=_LONG_READS),
        sqs=session.client("sqs"),
    )
