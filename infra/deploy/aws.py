"""One place that turns the environment into AWS clients, with clear messages when it can't.

boto3 reads AWS_PROFILE, AWS_REGION/AWS_DEFAULT_REGION and AWS_ENDPOINT_URL itself, so the
same code reaches AWS or a local endpoint.

Local mode is explicit: `LOCAL_MODE=1`, set by the local tooling (infra/local, the tests that
deploy to moto). `AWS_ENDPOINT_URL` alone says nothing: it may point at a VPC or FIPS endpoint
of real AWS, where the moto-only workarounds must never run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config as BotoConfig

from infra.deploy.errors import DeployError

LOCAL_MODE = "LOCAL_MODE"
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
    # The local endpoint's URL in local mode (LOCAL_MODE=1), else None: the one accessor for
    # "am I deploying to the local endpoint" (moto-only workarounds, resources created
    # through APIs where moto's CloudFormation skips them).
    local_endpoint: str | None = None


def local_mode_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """The endpoint URL when LOCAL_MODE=1 asks for local mode, else None."""
    env = os.environ if environ is None else environ
    flag = env.get(LOCAL_MODE, "").strip()
    if flag in ("", "0"):
        return None
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip()
    if flag != "1":
        raise DeployError(
            f"{LOCAL_MODE}={flag!r} is invalid; expected 1 (deploying to the local endpoint) or "
            "unset (AWS)",
            "unset LOCAL_MODE to deploy to AWS; infra/local sets LOCAL_MODE=1 itself",
        )
    if not endpoint:
        raise DeployError(
            f"{LOCAL_MODE}=1 but AWS_ENDPOINT_URL is not set: local mode needs the local endpoint",
            "export AWS_ENDPOINT_URL as `make local-up` prints it, or unset LOCAL_MODE for AWS",
        )
    return endpoint


def connect(profile: str | None = None) -> Aws:
    local = local_mode_endpoint()
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
        local_endpoint=local,
    )
