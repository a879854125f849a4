"""Read a deployed stack as AWS acts on it: its original template, resolved with its parameters
and physical ids.

moto's CloudFormation does not attach layers, apply bucket notifications or create
EventInvokeConfig, so, like `sam local`, the local Lambda service (infra/local/discover.py) and
the deployer tests read these from the deployed template, never from the endpoint's Lambda or S3
state.
"""

from __future__ import annotations

from typing import Any

from infra.cfn.intrinsics import Resolver
from infra.cfn.template import parse
from infra.deploy import stacks


def resolver(cfn: Any, stack_name: str) -> tuple[Resolver, dict]:
    """The resolver for a deployed stack, and its original template."""
    stack = stacks.describe(cfn, stack_name)
    if stack is None:
        raise LookupError(f"stack {stack_name} does not exist")
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    template = parse(body) if isinstance(body, str) else body
    ids = stacks.physical_ids(cfn, stack_name)
    return Resolver(template, stacks.parameters_of(stack), ids, stack), template


def properties(res: Resolver, template: dict, logical_id: str) -> dict[str, Any] | None:
    """A resource's properties as deployed, or None when its Condition is false."""
    spec = template["Resources"][logical_id]
    if "Condition" in spec and not res.condition(spec["Condition"]):
        return None
    return res.resolve(spec.get("Properties", {}))
