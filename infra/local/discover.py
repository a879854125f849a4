"""What is deployed, read from the endpoint's stacks: templates resolved with their parameters.

moto's CloudFormation does not attach layers, apply bucket notifications or keep
EventInvokeConfig, so, like `sam local`, everything comes from the deployed templates (through
the shared template resolver, `infra.cfn`), never from moto's Lambda or S3 state. Any
stack is read, not only ours: the integration tests deploy their own small functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import botocore.exceptions

from infra import layerdescription
from infra.cfn.deployed import properties, resolver
from infra.cfn.intrinsics import Resolver, TemplateError

_SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


@dataclass(frozen=True)
class Layer:
    arn: str
    bucket: str
    key: str


@dataclass(frozen=True)
class InvokeConfig:
    """A function's EventInvokeConfig (Lambda's defaults when none is deployed)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_failure: str | None = None  # destination ARN
    on_success: str | None = None


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    stack: str
    handler: str
    runtime: str
    arch: str
    memory: int
    timeout: int
    code_bucket: str
    code_key: str
    layers: tuple[Layer, ...]
    environment: dict[str, str]
    log_group: str
    log_format: str
    reserved_concurrency: int | None
    dead_letter_arn: str | None
    invoke_config: InvokeConfig = field(default_factory=InvokeConfig)
    application_log_level: str = "INFO"  # LoggingConfig's, for JSON logs (Lambda's default)

    @property
    def fingerprint(self) -> tuple:
        """What decides the running instances: a change means new instances."""
        return (
            self.handler,
            self.runtime,
            self.arch,
            self.memory,
            self.timeout,
            self.code_bucket,
            self.code_key,
            self.layers,
            tuple(sorted(self.environment.items())),
            self.log_group,
            self.log_format,
            self.application_log_level,
        )


@dataclass(frozen=True)
class Notification:
    """One LambdaConfiguration of a bucket's NotificationConfiguration."""

    bucket: str
    function: str  # function name
    events: tuple[str, ...]  # e.g. ("s3:ObjectCreated:*",)
    prefix: str = ""
    suffix: str = ""

    def matches(self, event_name: str, key: str) -> bool:
        """`event_name` as in the record ("ObjectCreated:Put"); `key` decoded."""
        full = "s3:" + event_name
        kind_ok = any(
            full == e or (e.endswith(":*") and full.startswith(e[:-1])) for e in self.events
        )
        return kind_ok and key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(frozen=True)
class Deployment:
    functions: dict[str, Function]
    notifications: tuple[Notification, ...]
    stacks: tuple[tuple[str, str], ...]  # (name, last change) of the stacks read
    problems: tuple[str, ...] = ()  # resources that could not be resolved, with why


def stack_versions(cfn: Any) -> tuple[tuple[str, str], ...]:
    """(name, what the stack is now) of every settled stack: cheap to poll for redeploys.
    Parameters and the template's digest are included because moto sets no LastUpdatedTime."""
    out = []
    for page in cfn.get_paginator("describe_stacks").paginate():
        for s in page["Stacks"]:
            if s["StackStatus"] not in _SETTLED:
                continue
            body = cfn.get_template(StackName=s["StackName"])["TemplateBody"]
            params = sorted(
                (p["ParameterKey"], p.get("ParameterValue", "")) for p in s.get("Parameters", [])
            )
            state = repr((s.get("LastUpdatedTime"), s["StackStatus"], params, str(body)))
            out.append((s["StackName"], hashlib.sha256(state.encode()).hexdigest()))
    return tuple(sorted(out))


def discover(cfn: Any, lam: Any | None = None) -> Deployment:
    versions = stack_versions(cfn)
    functions: dict[str, Function] = {}
    notifications: list[Notification] = []
    invoke_configs: dict[str, InvokeConfig] = {}
    layer_contents: dict[str, tuple[str, str]] = {}  # layer name -> (bucket, key) as deployed
    problems: list[str] = []
    read = []
    for name, _ in versions:
        try:
            res, template = resolver(cfn, name)
        except (botocore.exceptions.ClientError, LookupError, ValueError) as exc:
            problems.append(f"stack {name}: cannot read its template ({exc})")
            continue
        read.append((name, res, template))
    for name, res, template in read:
        for logical, spec in template.get("Resources", {}).items():
            kind = spec.get("Type")
            if kind not in (
                "AWS::Lambda::Function",
                "AWS::S3::Bucket",
                "AWS::Lambda::EventInvokeConfig",
                "AWS::Lambda::LayerVersion",
            ):
                continue
            try:
                props = properties(res, template, logical)
            except (TemplateError, KeyError, IndexError, TypeError) as exc:
                problems.append(f"{name}/{logical}: cannot resolve {exc!r}")
                continue
            if props is None:
                continue
            if kind == "AWS::Lambda::LayerVersion":
                content = props.get("Content", {})
                layer_contents[props.get("LayerName", "")] = (content["S3Bucket"], content["S3Key"])
            elif kind == "AWS::Lambda::EventInvokeConfig":
                invoke_configs[_function_name(props["FunctionName"])] = _invoke_config(props)
            elif kind == "AWS::S3::Bucket":
                bucket = props.get("BucketName") or res.ids.get(logical, "")
                notifications += _notifications(bucket, props)
            else:
                fn = _function(name, res, logical, props)
                if fn is not None:
                    functions[fn.name] = fn
    for fname, fn in list(functions.items()):
        layers = [_layer(arn, fn.code_bucket, lam, layer_contents, problems) for arn in fn.layers]
        if None in layers:
            # Running without a layer would fail in confusing ways (or, worse, pass on the
            # dev venv's packages): the function is not served and the problem says why.
            problems.append(f"function {fname}: not served, a layer's content is unknown")
            del functions[fname]
            continue
        config = invoke_configs.get(fname, InvokeConfig())
        functions[fname] = replace(fn, layers=tuple(layers), invoke_config=config)
    return Deployment(functions, tuple(notifications), versions, tuple(problems))


def _function_name(ref: str) -> str:
    """A function name from a name, partial ARN or ARN (without qualifier)."""
    if ":function:" in ref:
        return ref.split(":function:", 1)[1].split(":", 1)[0]
    return ref.split(":", 1)[0]


def _function(stack: str, res: Resolver, logical: str, props: dict) -> Function | None:
    code = props.get("Code", {})
    if "S3Bucket" not in code:
        return None  # inline (ZipFile) or image functions are not served locally
    name = res.ids.get(logical) or props.get("FunctionName") or logical
    logging = props.get("LoggingConfig", {})
    reserved = props.get("ReservedConcurrentExecutions")
    return Function(
        name=name,
        arn=f"arn:{res.partition}:lambda:{res.region}:{res.account}:function:{name}",
        stack=stack,
        handler=props.get("Handler", "index.handler"),
        runtime=props.get("Runtime", "python3.12"),
        arch=(props.get("Architectures") or ["x86_64"])[0],
        memory=int(props.get("MemorySize", 128)),
        timeout=int(props.get("Timeout", 3)),
        code_bucket=code["S3Bucket"],
        code_key=code["S3Key"],
        layers=tuple(props.get("Layers", [])),  # ARNs for now; mapped to content in discover()
        environment={
            k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()
        },
        log_group=logging.get("LogGroup") or f"/aws/lambda/{name}",
        log_format=logging.get("LogFormat", "Text"),
        application_log_level=logging.get("ApplicationLogLevel") or "INFO",
        reserved_concurrency=int(reserved) if reserved not in (None, "") else None,
        dead_letter_arn=props.get("DeadLetterConfig", {}).get("TargetArn"),
    )


def _invoke_config(props: dict) -> InvokeConfig:
    dest = props.get("DestinationConfig", {})
    return InvokeConfig(
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
        maximum_event_age_seconds=int(props.get("MaximumEventAgeInSeconds", 21600)),
        on_failure=dest.get("OnFailure", {}).get("Destination"),
        on_success=dest.get("OnSuccess", {}).get("Destination"),
    )


def _notifications(bucket: str, props: dict) -> list[Notification]:
    out = []
    for c in props.get("NotificationConfiguration", {}).get("LambdaConfigurations", []):
        rules = {
            r["Name"].lower(): r["Value"]
            for r in c.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        }
        out.append(
            Notification(
                bucket=bucket,
                function=_function_name(c["Function"]),
                events=(c["Event"],),
                prefix=rules.get("prefix", ""),
                suffix=rules.get("suffix", ""),
            )
        )
    return out


def _layer(arn: str, code_bucket: str, lam: Any, contents: dict, problems: list) -> Layer | None:
    """A layer version ARN → its zip. First as the deployer publishes on a local endpoint (the
    version's description names its content key, which also finds pinned old versions),
    else the layer stack that declares that layer name."""
    if lam is not None:
        try:
            name, number = arn.rsplit(":", 1)
            version = lam.get_layer_version(LayerName=name, VersionNumber=int(number))
            key = layerdescription.content_key(version.get("Description", ""))
            if key:
                return Layer(arn, code_bucket, key)
        except (botocore.exceptions.ClientError, ValueError):
            pass
    layer_name = arn.split(":layer:", 1)[-1].rsplit(":", 1)[0]
    if layer_name in contents:
        bucket, key = contents[layer_name]
        return Layer(arn, bucket, key)
    problems.append(f"layer {arn}: no deployed layer stack or version describes its content")
    return None
