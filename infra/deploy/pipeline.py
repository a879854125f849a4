"""`make deploy`: package → layers → bootstrap → upload → layer stacks → app stack → outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import botocore.exceptions

from infra import layerdescription
from infra.deploy import (
    analytics,
    artifacts,
    contract,
    layers,
    limits,
    memory,
    package,
    stacks,
    statemachines,
    templates,
)
from infra.deploy.aws import Aws
from infra.deploy.config import Config
from infra.deploy.errors import DeployError

Say = Callable[[str], None]
# Each function folder → the app template's parameters for its code key and its layer ARNs
# (a test checks that every folder under functions/ has a row and the template both names).
FUNCTION_PARAMETERS = {
    "sentiment": ("CodeKey", "LayerArns"),
    "insights": ("InsightsCodeKey", "InsightsLayerArns"),
}


@dataclass
class DeployReport:
    stacks: dict[str, str] = field(default_factory=dict)  # stack name -> created|updated|unchanged
    layer_arns: list[str] = field(default_factory=list)
    code_key: str = ""  # the scoring function's
    code_keys: dict[str, str] = field(default_factory=dict)  # function -> its code key
    function_layers: dict[str, list[str]] = field(default_factory=dict)  # function -> ARNs
    outputs: dict[str, str] = field(default_factory=dict)
    published_locally: list[str] = field(default_factory=list)


def deploy(cfg: Config, aws: Aws, say: Say = print) -> DeployReport:
    report = DeployReport()
    memory.check(cfg, say)  # first: a MEMORY the function would refuse at every cold start
    zips = package.build_all(cfg.functions_dir, cfg.build_dir / "functions")
    for name, art in zips.items():
        say(f"function {name}: {art.path} ({art.size} bytes, {art.sha256[:12]}…)")
    unknown = sorted(set(zips) - set(FUNCTION_PARAMETERS))
    if unknown:
        raise DeployError(
            f"function folders {unknown} have no app template parameters",
            "add them to infra/deploy/pipeline.py FUNCTION_PARAMETERS and app.yaml",
        )
    built = layers.select(cfg.build_dir / "layers", cfg.runtime, cfg.arch)
    limits.check_layers(cfg, built, list(zips))
    local = bool(aws.local_endpoint)  # the deployer's local mode (LOCAL_MODE=1)
    # Pins, sizes and concurrency are checked before anything changes: what Lambda would
    # refuse must not leave a half deploy.
    pinned = {name: _pinned_arn(cfg, aws, name, pin) for name, pin in cfg.pins.items()}
    for name, art in zips.items():  # each function with the layers it attaches
        limits.check_unzipped(art.path, layers.for_function(built, name), pinned, aws, cfg)
    limits.check_concurrency(cfg, aws.lam, local)

    body, tmpl = templates.load("bootstrap", local=local)
    boot = stacks.deploy(aws.cfn, cfg.bootstrap_stack, body, tmpl, {}, say, cfg.poll_seconds, local)
    report.stacks[boot.name] = boot.action
    bucket = boot.outputs["ArtifactBucketName"]

    for name, art in zips.items():
        report.code_keys[name] = f"function/{art.sha256}.zip"
        artifacts.ensure(aws.s3, bucket, report.code_keys[name], art.path, say)
    report.code_key = report.code_keys.get("sentiment", "")
    for layer in built:
        if layer.name not in pinned:
            artifacts.ensure(aws.s3, bucket, layer.key, layer.zip_path, say)

    _deploy_layers(cfg, aws, bucket, built, pinned, report, say, local)

    arn_of = {layer.name: arn for layer, arn in zip(built, report.layer_arns, strict=True)}
    per_function = {}
    for name in zips:
        code_param, layers_param = FUNCTION_PARAMETERS[name]
        report.function_layers[name] = [arn_of[x.name] for x in layers.for_function(built, name)]
        per_function[code_param] = report.code_keys[name]
        per_function[layers_param] = ",".join(report.function_layers[name])
    body, tmpl = templates.load("app", local=local)
    params = _app_parameters(cfg, aws, bucket, per_function, tmpl, say)
    app = stacks.deploy(aws.cfn, cfg.app_stack, body, tmpl, params, say, cfg.poll_seconds, local)
    report.stacks[app.name] = app.action
    report.outputs = app.outputs
    if local:
        _versioning_moto_skips(aws, report.outputs, say)
        report.outputs.update(analytics.create_locally(aws, cfg.app_stack, say))
        sfn = boto3.client("stepfunctions", region_name=aws.region)
        statemachines.make_executable(sfn, aws.cfn, cfg.app_stack, say)
    # Only now, with every stack settled: what no current stack names may expire.
    artifacts.mark_unused(aws.s3, bucket, artifacts.in_use(aws.cfn, cfg), say)

    _summarise(report, bucket, say)
    return report


# The layer stacks, one per built layer (a pinned layer's stack is left as it is): content
# addressed by the zip's sha256, so an unchanged layer publishes nothing.
def _deploy_layers(
    cfg: Config, aws: Aws, bucket: str, built: list, pinned: dict[str, str],
    report: DeployReport, say: Say, local: bool,
) -> None:  # fmt: skip
    body, tmpl = templates.load("layer", local=local)
    for layer in built:
        if layer.name in pinned:
            say(f"{cfg.layer_stack(layer.name)}: pinned to {pinned[layer.name]} (stack left as is)")
            report.layer_arns.append(pinned[layer.name])
            continue
        params = {
            "LayerName": cfg.layer_name(layer.name),
            "ContentBucket": bucket,
            "ContentKey": layer.key,
            "Runtime": cfg.runtime,
            "Architecture": cfg.arch,
            "Packages": layer.describe_packages(),
        }
        result = stacks.deploy(
            aws.cfn, cfg.layer_stack(layer.name), body, tmpl, params, say, cfg.poll_seconds, local
        )
        report.stacks[result.name] = result.action
        arn = result.outputs.get("LayerVersionArn", "")
        if not arn.startswith("arn:"):
            arn = _published_version(aws, params, result.name, say, report)
        report.layer_arns.append(arn)


# The app stack's parameters: every setting the deployer passes, the functions' code keys and
# layer lists, the alarms' names as the function declares them, the state machines' keys.
def _app_parameters(
    cfg: Config, aws: Aws, bucket: str, per_function: dict[str, str], tmpl: dict, say: Say
) -> dict[str, str]:
    return {
        "CodeBucket": bucket,
        **per_function,
        "Runtime": cfg.runtime,
        "Architecture": cfg.arch,
        "MemorySize": str(cfg.memory),
        "Timeout": str(cfg.timeout),
        "ReservedConcurrency": str(cfg.concurrency),
        "NoncurrentInputDays": str(cfg.noncurrent_days),
        "TextColumn": cfg.text_column,
        "ScoringEngine": cfg.scoring_engine,
        "ScoringWorkers": cfg.scoring_workers,
        "Analytics": cfg.analytics,
        "AnalyticsText": cfg.analytics_text,
        "LogLevel": cfg.log_level,
        "AlarmEmail": cfg.alarm_email,
        "FanoutThresholdMb": cfg.fanout_threshold_mb,
        "RangeMb": str(cfg.range_mb),
        "FanoutMaxConcurrency": str(cfg.fanout_max_concurrency),
        **contract.alarm_parameters(cfg.function_dir),
        **statemachines.upload(aws.s3, bucket, tmpl, say),
    }


def _summarise(report: DeployReport, bucket: str, say: Say) -> None:
    for name, arns in report.function_layers.items():
        say(f"{name}: code s3://{bucket}/{report.code_keys[name]}, layers "
            + ", ".join(a.split(":layer:")[-1] for a in arns))  # fmt: skip
    if all(action == "unchanged" for action in report.stacks.values()):
        say("nothing changed: every stack already matches the build and the settings")
    say("outputs:")
    for key, value in sorted(report.outputs.items()):
        say(f"  {key:<17} {value}")


def _versioning_moto_skips(aws: Aws, outputs: dict[str, str], say: Say) -> None:
    """moto's CloudFormation ignores the buckets' VersioningConfiguration (both are Enabled in
    app.yaml); apply it through the S3 API so that a local run reads by version, as AWS does."""
    for key in ("InputBucketName", "OutputBucketName"):
        if outputs.get(key):
            aws.s3.put_bucket_versioning(
                Bucket=outputs[key], VersioningConfiguration={"Status": "Enabled"}
            )
    say(f"  {aws.local_endpoint}: bucket versioning applied as app.yaml declares it")


def _pinned_arn(cfg: Config, aws: Aws, name: str, pin: str) -> str:
    layer_name = cfg.layer_name(name)
    arn = (
        pin
        if pin.startswith("arn:")
        else (f"arn:{aws.partition}:lambda:{aws.region}:{aws.account}:layer:{layer_name}:{pin}")
    )
    try:
        layer_arn, number = arn.rsplit(":", 1)
        aws.lam.get_layer_version(LayerName=layer_arn, VersionNumber=int(number))
    except botocore.exceptions.ClientError as exc:
        versions = _versions(aws, layer_name)
        raise DeployError(
            f"PIN_LAYERS: layer version {arn} does not exist ({exc.response['Error']['Code']}); "
            f"versions of {layer_name}: {', '.join(map(str, versions)) or 'none'}",
            f"pin one of those, e.g. PIN_LAYERS={name}={versions[-1] if versions else 1}",
        ) from exc
    return arn


def _versions(aws: Aws, layer_name: str) -> list[int]:
    try:
        pages = aws.lam.get_paginator("list_layer_versions").paginate(LayerName=layer_name)
        return sorted(v["Version"] for page in pages for v in page["LayerVersions"])
    except botocore.exceptions.ClientError:
        return []


def _published_version(
    aws: Aws, params: dict[str, str], stack: str, say: Say, report: DeployReport
) -> str:
    """The layer version a layer stack declares, where the endpoint's CloudFormation did not
    publish it (moto). Only against a local endpoint: found by its content key in the
    description, else published once through the Lambda API from the same bucket and key,
    which is exactly what CloudFormation does on AWS (where the stack's output is used)."""
    if not aws.local_endpoint:
        raise DeployError(
            f"stack {stack} reports no LayerVersionArn output",
            f"inspect it (`aws cloudformation describe-stacks --stack-name {stack}`)",
        )
    description = layerdescription.describe(params["Packages"], params["ContentKey"])
    pages = aws.lam.get_paginator("list_layer_versions").paginate(LayerName=params["LayerName"])
    try:
        for page in pages:
            for version in page["LayerVersions"]:
                if version.get("Description") == description:
                    return version["LayerVersionArn"]
    except botocore.exceptions.ClientError:
        pass
    published = aws.lam.publish_layer_version(
        LayerName=params["LayerName"],
        Description=description,
        Content={"S3Bucket": params["ContentBucket"], "S3Key": params["ContentKey"]},
        CompatibleRuntimes=[params["Runtime"]],
        CompatibleArchitectures=[params["Architecture"]],
    )
    arn = published["LayerVersionArn"]
    say(
        f"  {aws.local_endpoint}: the stack published no version; published {arn} "
        "(local endpoints only)"
    )
    report.published_locally.append(arn)
    return arn
