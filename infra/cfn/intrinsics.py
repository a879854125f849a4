"""Evaluate a template's intrinsic functions with deployed values (parameters, physical ids).

The supported intrinsics are the table `INTRINSICS` (and the `Fn::GetAtt` attributes the table
`ATTRIBUTES`); anything else raises `UnsupportedIntrinsic` naming it, so a template that grows a
new intrinsic fails with a message rather than being read wrongly.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

NO_VALUE: Any = object()  # what `Ref: AWS::NoValue` leaves: the key or item is dropped
_SUB = re.compile(r"\$\{([^}!]+)\}")


class TemplateError(ValueError):
    """The template cannot be evaluated here; the message names what and why."""


class UnsupportedIntrinsic(TemplateError):
    """An intrinsic function (or `Fn::GetAtt` attribute) that the resolver does not implement."""


class Resolver:
    """Evaluates intrinsic functions against one deployed stack's values."""

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
            return [v for v in (self.resolve(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref" or fn == "Condition" or fn.startswith("Fn::"):
                evaluate = INTRINSICS.get(fn)
                if evaluate is None:
                    raise UnsupportedIntrinsic(
                        f"{fn} is not supported by the template resolver (infra/cfn); "
                        f"supported: {', '.join(INTRINSICS)}"
                    )
                return evaluate(self, arg)
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.ids:
            return self.ids[name]
        raise TemplateError(
            f"Ref {name}: not a parameter, a supported pseudo parameter "
            f"({', '.join(self.pseudo)}) or a deployed resource of the stack"
        )

    def attr(self, resource: str, attribute: str) -> str:
        spec = self.template.get("Resources", {}).get(resource)
        if spec is None:
            raise TemplateError(f"Fn::GetAtt {resource}.{attribute}: no resource {resource}")
        kind = spec["Type"]
        build = ATTRIBUTES.get((kind, attribute))
        if build is None:
            supported = ", ".join(f"{k}.{a}" for k, a in ATTRIBUTES)
            raise UnsupportedIntrinsic(
                f"Fn::GetAtt {resource}.{attribute}: attribute {attribute} of {kind} is not "
                f"supported by the template resolver (infra/cfn); supported: {supported}"
            )
        if resource not in self.ids:
            raise TemplateError(f"Fn::GetAtt {resource}.{attribute}: {resource} is not deployed")
        return build(self, self.ids[resource])

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return self.attr(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB.sub(one, text)

    def _equals(self, arg: list) -> bool:
        a, b = (self.resolve(x) for x in arg)
        return str(a) == str(b)

    def _find_in_map(self, arg: list) -> Any:
        name, top, second = (self.resolve(x) for x in arg)
        return self.template["Mappings"][name][top][second]


Intrinsic = Callable[[Resolver, Any], Any]

# The intrinsic functions the resolver evaluates (as the deployed stack's values give them).
INTRINSICS: dict[str, Intrinsic] = {
    "Ref": Resolver.ref,
    "Fn::GetAtt": lambda r, arg: r.attr(arg[0], arg[1]),
    "Fn::Sub": Resolver._sub,
    "Fn::If": lambda r, arg: r.resolve(arg[1] if r.condition(arg[0]) else arg[2]),
    "Condition": Resolver.condition,
    "Fn::Equals": Resolver._equals,
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(x) for x in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(x) for x in arg),
    "Fn::Join": lambda r, arg: arg[0].join(str(x) for x in r.resolve(arg[1])),
    "Fn::Split": lambda r, arg: str(r.resolve(arg[1])).split(arg[0]),
    "Fn::Select": lambda r, arg: r.resolve(arg[1])[int(r.resolve(arg[0]))],
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Base64": lambda r, arg: base64.b64encode(str(r.resolve(arg)).encode()).decode(),
}


def _queue_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


# `Fn::GetAtt` attributes, built from the resource's physical id (as CloudFormation reports it).
ATTRIBUTES: dict[tuple[str, str], Callable[[Resolver, str], str]] = {
    ("AWS::S3::Bucket", "Arn"): lambda r, pid: f"arn:{r.partition}:s3:::{pid}",
    ("AWS::SQS::Queue", "Arn"): lambda r, pid: (
        f"arn:{r.partition}:sqs:{r.region}:{r.account}:{_queue_name(pid)}"
    ),
    ("AWS::SQS::Queue", "QueueName"): lambda r, pid: _queue_name(pid),
    ("AWS::Lambda::Function", "Arn"): lambda r, pid: (
        f"arn:{r.partition}:lambda:{r.region}:{r.account}:function:{pid}"
    ),
    ("AWS::Logs::LogGroup", "Arn"): lambda r, pid: (
        f"arn:{r.partition}:logs:{r.region}:{r.account}:log-group:{pid}:*"
    ),
    ("AWS::IAM::Role", "Arn"): lambda r, pid: f"arn:{r.partition}:iam::{r.account}:role/{pid}",
}
