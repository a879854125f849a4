"""What Lambda and the account would refuse, checked before any stack changes.

A deploy that CloudFormation rejects half-way leaves a rollback to wait for; these checks say
the same thing up front, with the numbers: five layers, 250 MiB unzipped for the function and
its layers together (pinned versions included), names that fit, and a reserved concurrency
that leaves the account its unreserved minimum.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import botocore.exceptions

from infra import layerdescription
from infra.choices import MAX_LAYERS
from infra.deploy import layers, stacks
from infra.deploy.aws import Aws
from infra.deploy.config import Config
from infra.deploy.errors import DeployError

MAX_UNZIPPED = 250 * 1024 * 1024  # Lambda's limit for function plus layers, unzipped
MAX_STACK_NAME = 128  # CloudFormation
MAX_LAYER_NAME = 140  # Lambda
# AWS keeps this many concurrent executions unreserved in every account and region; a
# reservation that would leave fewer is refused (PutFunctionConcurrency, hence the stack).
UNRESERVED_MINIMUM = 100


def check_layers(cfg: Config, built: list[layers.BuiltLayer], functions: list[str]) -> None:
    """Layer count (per function: each attaches the layers whose layer.toml names it), pin
    names and name lengths: from the build alone, before any AWS call."""
    unknown = sorted(set(cfg.pins) - {layer.name for layer in built})
    if unknown:
        raise DeployError(
            f"PIN_LAYERS names unknown layers {unknown}; the layers are: "
            + ", ".join(layer.name for layer in built)
        )
    for function in functions:
        attached = layers.for_function(built, function)
        if len(attached) > MAX_LAYERS:
            raise DeployError(
                f"{function} attaches {len(attached)} layers, Lambda allows {MAX_LAYERS} per "
                "function",
                "merge layers (layers/<name>/) or narrow their layer.toml `functions`",
            )
    for layer in built:
        stack, name = cfg.layer_stack(layer.name), cfg.layer_name(layer.name)
        if len(stack) > MAX_STACK_NAME or len(name) > MAX_LAYER_NAME:
            raise DeployError(
                f"layer {layer.name!r} is too long a name: its stack {stack!r} "
                f"({len(stack)} characters, at most {MAX_STACK_NAME}) or Lambda layer name "
                f"({len(name)}, at most {MAX_LAYER_NAME}) would be refused",
                "rename the folder layers/<name>/ to something shorter, then `make layers`",
            )


def check_unzipped(
    function_zip: Path,
    built: list[layers.BuiltLayer],
    pinned: Mapping[str, str],
    aws: Aws,
    cfg: Config,
) -> int:
    """The function plus every layer it will load (a pinned version instead of the built one
    of that name), unzipped, within Lambda's limit. Returns the total in bytes."""
    sizes = {"function": unzipped_size(function_zip)}
    bucket = _artifact_bucket(aws, cfg) if pinned else None
    for layer in built:
        if layer.name in pinned:
            sizes[f"{layer.name} (pinned)"] = _pinned_size(aws, pinned[layer.name], bucket)
        else:
            sizes[layer.name] = layer.unzipped_bytes
    total = sum(sizes.values())
    if total > MAX_UNZIPPED:
        listed = ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in sizes.items())
        raise DeployError(
            f"the function and its layers unzip to {total / 2**20:.1f} MiB, over Lambda's "
            f"250 MiB limit ({listed})",
            "slim the largest layer (layers/<name>/layer.toml `omit`) and run `make layers`, "
            "or pin a smaller version",
        )
    return total


def unzipped_size(source: Path | IO[bytes]) -> int:
    with zipfile.ZipFile(source) as archive:
        return sum(info.file_size for info in archive.infolist())


def _artifact_bucket(aws: Aws, cfg: Config) -> str | None:
    if stacks.describe(aws.cfn, cfg.bootstrap_stack) is None:
        return None
    return stacks.physical_ids(aws.cfn, cfg.bootstrap_stack).get("ArtifactBucket")


def _pinned_size(aws: Aws, arn: str, bucket: str | None) -> int:
    """A published version's unzipped size, from its zip (Lambda reports only the zipped
    size): the zip its description names in the artifact bucket (layer.yaml ends the
    description with "(<key>)"), else the copy GetLayerVersion offers for download."""
    layer_arn, number = arn.rsplit(":", 1)
    version = aws.lam.get_layer_version(LayerName=layer_arn, VersionNumber=int(number))
    key = layerdescription.content_key(version.get("Description") or "")
    location = (version.get("Content") or {}).get("Location") or ""
    with tempfile.TemporaryFile() as tmp:
        try:
            if bucket and key:
                aws.s3.download_fileobj(bucket, key, tmp)
            elif location.startswith("https://"):
                with urllib.request.urlopen(location, timeout=300) as response:
                    shutil.copyfileobj(response, tmp, 1 << 20)
            else:
                raise DeployError(f"cannot find the zip of {arn} to check its unzipped size")
        except (OSError, botocore.exceptions.ClientError) as exc:
            raise DeployError(
                f"cannot download {arn} to check its unzipped size: {exc}",
                "check the network, then deploy again",
            ) from exc
        tmp.seek(0)
        return unzipped_size(tmp)


def check_concurrency(cfg: Config, lam: Any, local: bool) -> None:
    """CONCURRENCY must leave the account UNRESERVED_MINIMUM unreserved executions. New
    accounts often have a limit of 10, so no reservation at all is possible there."""
    if cfg.concurrency == 0:
        return
    try:
        settings = lam.get_account_settings()["AccountLimit"]
    except (botocore.exceptions.ClientError, KeyError) as exc:
        if local:
            return  # moto does not implement GetAccountSettings
        raise DeployError(f"cannot read the Lambda account settings: {exc}") from exc
    unreserved = int(settings["UnreservedConcurrentExecutions"])
    limit = int(settings["ConcurrentExecutions"])
    function = f"{cfg.app_stack}-score"  # the name app.yaml gives it
    current = _reserved(lam, function)  # already taken from the unreserved pool
    allowed = unreserved + current - UNRESERVED_MINIMUM
    if cfg.concurrency > allowed:
        raise DeployError(
            f"CONCURRENCY={cfg.concurrency} is more than this account allows: its concurrency "
            f"limit is {limit}, {unreserved} unreserved"
            + (f" (plus {current} already reserved by {function})" if current else "")
            + f", and Lambda keeps {UNRESERVED_MINIMUM} unreserved, so at most "
            f"{max(allowed, 0)} can be reserved",
            "deploy with a smaller CONCURRENCY (0 reserves nothing), or request a higher "
            "'Concurrent executions' quota in Service Quotas",
        )


def _reserved(lam: Any, function: str) -> int:
    try:
        found = lam.get_function_concurrency(FunctionName=function)
    except botocore.exceptions.ClientError:
        return 0  # no such function yet
    return int(found.get("ReservedConcurrentExecutions") or 0)
