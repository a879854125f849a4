"""Read a deployed app stack as AWS acts on it: its template resolved with its parameters.

moto's CloudFormation does not attach layers, apply the bucket notification or create the
EventInvokeConfig, so these come from the deployed template and parameters (as `sam local`
reads them), never from the local endpoint's Lambda or S3 state. The local Lambda service
(infra/local) and the deployer tests both read a stack through `describe_app`.
"""

from __future__ import annotations

import re
from typing import Any

from infra.deploy import stacks, templates

_NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!]+)\}")
_KEY_IN_DESCRIPTION = re.compile(r"\((layers/[^()]+\.zip)\)$")


class Resolver:
    """Evaluates the intrinsic functions these templates use, with deployed values."""

    def __init__(self, template: dict, params: dict[str, str], ids: dict[str, str], stack: dict):
        arn = stack["StackId"].split(":")
        self.partition, self.region, self.account = arn[1], arn[3], arn[4]
        self.template, self.ids = template, ids
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = params.get(name, str(spec.get("Default", "")))
            if spec.get("Type") == "CommaDelimitedList":
                value = [v.strip() for v in value.split(",")] if value else []
            self.params[name] = value
        self.pseudo = {
            "AWS::StackName": stack["StackName"],
            "AWS::StackId": stack["StackId"],
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn.startswith("Fn::") or fn == "Condition":
                return getattr(self, "fn_" + fn.removeprefix("Fn::").lower())(arg)
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        return self.ids[name]

    def attr(self, resource: str, attribute: str) -> str:
        kind = self.template["Resources"][resource]["Type"]
        pid = self.ids[resource]
        p, r, a = self.partition, self.region, self.account
        known = {
            ("AWS::S3::Bucket", "Arn"): lambda: f"arn:{p}:s3:::{pid}",
            ("AWS::SQS::Queue", "Arn"): lambda: f"arn:{p}:sqs:{r}:{a}:{pid.rsplit('/', 1)[-1]}",
            ("AWS::SQS::Queue", "QueueName"): lambda: pid.rsplit("/", 1)[-1],
            ("AWS::Lambda::Function", "Arn"): lambda: f"arn:{p}:lambda:{r}:{a}:function:{pid}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: f"arn:{p}:logs:{r}:{a}:log-group:{pid}:*",
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:{p}:iam::{a}:role/{pid}",
        }
        return known[(kind, attribute)]()

    def fn_getatt(self, arg: list[str]) -> str:
        return self.attr(arg[0], arg[1])

    def fn_sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return self.attr(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB.sub(one, text)

    def fn_if(self, arg: list) -> Any:
        return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def fn_condition(self, name: str) -> bool:
        return self.condition(name)

    def fn_equals(self, arg: list) -> bool:
        a, b = (self.resolve(x) for x in arg)
        return str(a) == str(b)

    def fn_not(self, arg: list) -> bool:
        return not self.resolve(arg[0])

    def fn_and(self, arg: list) -> bool:
        return all(self.resolve(x) for x in arg)

    def fn_or(self, arg: list) -> bool:
        return any(self.resolve(x) for x in arg)

    def fn_join(self, arg: list) -> str:
        return arg[0].join(str(x) for x in self.resolve(arg[1]))

    def fn_split(self, arg: list) -> list[str]:
        return str(self.resolve(arg[1])).split(arg[0])

    def fn_select(self, arg: list) -> Any:
        return self.resolve(arg[1])[int(self.resolve(arg[0]))]

    def fn_findinmap(self, arg: list) -> Any:
        name, top, second = (self.resolve(x) for x in arg)
        return self.template["Mappings"][name][top][second]

    def fn_base64(self, arg: Any) -> str:
        import base64

        return base64.b64encode(str(self.resolve(arg)).encode()).decode()


def resolver(cfn: Any, stack_name: str) -> tuple[Resolver, dict]:
    stack = stacks.describe(cfn, stack_name)
    if stack is None:
        raise LookupError(f"stack {stack_name} does not exist")
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    template = templates.parse(body) if isinstance(body, str) else body
    ids = stacks.physical_ids(cfn, stack_name)
    return Resolver(template, stacks.parameters_of(stack), ids, stack), template


def properties(res: Resolver, template: dict, logical_id: str) -> dict[str, Any] | None:
    """A resource's properties as deployed, or None when its Condition is false."""
    spec = template["Resources"][logical_id]
    if "Condition" in spec and not res.condition(spec["Condition"]):
        return None
    return res.resolve(spec.get("Properties", {}))


def describe_app(cfn: Any, stack_name: str, lam: Any | None = None) -> dict[str, Any]:
    """The function, its code and layers, the trigger and the async-invoke config of a deployed
    app stack. With a Lambda client, each layer ARN is mapped to its zip in the artifact bucket
    (through the version's description, which ends with "(<content key>)")."""
    res, template = resolver(cfn, stack_name)
    fn = properties(res, template, "Function") or {}
    layers = [{"arn": arn, "bucket": None, "key": None} for arn in fn.get("Layers", [])]
    if lam is not None:
        for layer in layers:
            name, number = layer["arn"].rsplit(":", 1)
            version = lam.get_layer_version(LayerName=name, VersionNumber=int(number))
            match = _KEY_IN_DESCRIPTION.search(version.get("Description", ""))
            if match:
                layer["bucket"], layer["key"] = fn["Code"]["S3Bucket"], match.group(1)
    bucket = properties(res, template, "InputBucket") or {}
    notification = [
        {
            "bucket": bucket.get("BucketName"),
            "events": [c["Event"]],
            "function_arn": c["Function"],
            "filter": {r["Name"]: r["Value"] for r in c["Filter"]["S3Key"]["Rules"]},
        }
        for c in bucket.get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
    ]
    invoke = properties(res, template, "EventInvokeConfig") or {}
    return {
        "function": {
            "name": res.ids.get("Function", fn.get("FunctionName")),
            "handler": fn.get("Handler"),
            "runtime": fn.get("Runtime"),
            "architectures": fn.get("Architectures"),
            "memory": int(fn.get("MemorySize", 128)),
            "timeout": int(fn.get("Timeout", 3)),
            "environment": fn.get("Environment", {}).get("Variables", {}),
            "code": {"bucket": fn["Code"]["S3Bucket"], "key": fn["Code"]["S3Key"]},
            "layers": layers,
            "logging": fn.get("LoggingConfig", {}),
            "reserved_concurrency": (
                int(fn["ReservedConcurrentExecutions"])
                if "ReservedConcurrentExecutions" in fn
                else None
            ),
            "role": fn.get("Role"),
        },
        "notification": notification,
        "event_invoke_config": {
            "qualifier": invoke.get("Qualifier"),
            "maximum_retry_attempts": int(invoke.get("MaximumRetryAttempts", 2)),
            "maximum_event_age_seconds": int(invoke.get("MaximumEventAgeInSeconds", 21600)),
            "on_failure": invoke.get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination"),
            "on_failure_queue_url": res.ids.get("FailureQueue"),
        },
    }
