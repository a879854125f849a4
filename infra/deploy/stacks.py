"""Deploy one stack with a change set: show it, execute it, stream its events, explain failure.

A stack whose deployed template and parameters already equal the new ones is left alone
(reported "unchanged") without creating a change set, so an identical deploy calls nothing
that could change anything.
"""

from __future__ import annotations

import ast
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from infra.deploy.errors import DeployError

Say = Callable[[str], None]

_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_BUSY = ("_IN_PROGRESS",)
_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
_DONE = _OK | {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
}


# States a deploy cannot continue from, and the way out of each.
_STUCK = {
    "UPDATE_ROLLBACK_FAILED": "continue the rollback (`aws cloudformation "
    "continue-update-rollback --stack-name {name}`), then deploy again",
    "ROLLBACK_FAILED": "delete the stack (`aws cloudformation delete-stack --stack-name {name}`)"
    ", then deploy again",
    "DELETE_FAILED": "finish deleting it (`aws cloudformation delete-stack --stack-name {name}`;"
    " see the events for what blocked it), then deploy again",
}


@dataclass(frozen=True)
class StackResult:
    name: str
    action: str  # created | updated | unchanged
    outputs: dict[str, str]


def describe(cfn: Any, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def parameters_of(stack: dict) -> dict[str, str]:
    """Deployed parameter values as strings (list parameters joined by commas).

    Some endpoints (moto) report a CommaDelimitedList value as a Python list literal.
    """
    result = {}
    for p in stack.get("Parameters", []):
        value = p.get("ResolvedValue", p.get("ParameterValue", ""))
        if value.startswith("[") and value.endswith("]"):
            with contextlib.suppress(ValueError, SyntaxError, TypeError):
                value = ",".join(ast.literal_eval(value))
        result[p["ParameterKey"]] = value
    return result


def physical_ids(cfn: Any, name: str) -> dict[str, str]:
    resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def outputs_of(cfn: Any, name: str, template: dict) -> dict[str, str]:
    """The stack's outputs. Where the endpoint reports none (moto after a change set), an
    output that is a plain `Ref` to a resource is read from that resource's physical id,
    which is what `Ref` returns for every resource these templates output."""
    stack = describe(cfn, name) or {}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    if len(outputs) < len(template.get("Outputs", {})):
        ids = physical_ids(cfn, name)
        for key, spec in template.get("Outputs", {}).items():
            ref = spec.get("Value", {}).get("Ref") if isinstance(spec.get("Value"), dict) else None
            if key not in outputs and ref in ids:
                outputs[key] = ids[ref]
    return outputs


def deploy(
    cfn: Any,
    name: str,
    body: str,
    template: dict,
    params: dict[str, str],
    say: Say = print,
    poll: float = 2.0,
    local: bool = False,
) -> StackResult:
    """Create or update stack `name`. `local` (the deployer's local mode) allows the one
    moto-only fallback below; on AWS the printed change set is always what gets executed."""
    stack = describe(cfn, name)
    status = stack["StackStatus"] if stack else None
    if status == "ROLLBACK_COMPLETE":
        reason = _first_failure(cfn, name) or "see the stack's events"
        raise DeployError(
            f"stack {name} is in ROLLBACK_COMPLETE: its first create failed ({reason}) and "
            "it cannot be updated",
            f"fix the cause, delete the stack (`aws cloudformation delete-stack --stack-name "
            f"{name}`; for the app stack `make destroy`, which also removes the empty buckets "
            "the failed create kept), then deploy again",
        )
    if status in _STUCK:
        raise DeployError(
            f"stack {name} is in {status}: {_first_failure(cfn, name) or 'see its events'}",
            _STUCK[status].format(name=name),
        )
    if status and status.endswith(_BUSY) and status != "REVIEW_IN_PROGRESS":
        raise DeployError(
            f"stack {name} is busy ({status})",
            f"wait for it (`aws cloudformation wait stack-update-complete --stack-name {name}`)"
            " and deploy again",
        )
    creating = status in (None, "REVIEW_IN_PROGRESS")
    if not creating and _same(cfn, name, stack, body, params):
        say(f"{name}: unchanged")
        return StackResult(name, "unchanged", outputs_of(cfn, name, template))

    change_set = _create_change_set(cfn, name, body, params, creating, poll)
    seen = marker(cfn, name)
    if change_set is None and not local:
        # AWS found nothing to change although the text differs: a cosmetic difference (a
        # comment, formatting). Nothing is executed that was not shown.
        say(f"{name}: unchanged (the change set reports no changes to any resource)")
        return StackResult(name, "unchanged", outputs_of(cfn, name, template))
    if change_set is None:
        # Local mode only: the template or parameters differ from the deployed ones, yet moto
        # reports "no changes" (it compares with the stack's *creation* parameters), so the
        # update goes directly; "No updates" from it is reported as unchanged.
        say(
            f"{name}: the change set reports no changes, yet the template or parameters differ;"
            " trying a direct update"
        )
        if not _update_directly(cfn, name, body, params):
            say(f"{name}: unchanged")
            return StackResult(name, "unchanged", outputs_of(cfn, name, template))
        total = 0
    else:
        _print_changes(say, name, change_set)
        cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
        total = len(change_set.get("Changes", []))
    final = _stream(cfn, name, seen, total, say, poll)
    if final not in _OK:
        reason = _first_failure(cfn, name, seen) or "see the stack's events in the console"
        raise DeployError(
            f"stack {name} ended in {final}: {reason}",
            "fix the cause and run `make deploy` again"
            + (
                f" (first delete the stack: `aws cloudformation delete-stack --stack-name {name}`)"
                if final == "ROLLBACK_COMPLETE"
                else ""
            ),
        )
    action = "created" if creating else "updated"
    say(f"{name}: {action} ({final})")
    return StackResult(name, action, outputs_of(cfn, name, template))


def _same(cfn: Any, name: str, stack: dict, body: str, params: dict[str, str]) -> bool:
    deployed = cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    if not isinstance(deployed, str) or deployed.strip() != body.strip():
        return False
    current = parameters_of(stack)
    return all(current.get(k) == v for k, v in params.items())


def _update_directly(cfn: Any, name: str, body: str, params: dict[str, str]) -> bool:
    try:
        cfn.update_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
    except botocore.exceptions.ClientError as exc:
        if any(s in str(exc) for s in _NO_CHANGES):
            return False
        raise DeployError(f"CloudFormation refused the update of {name}: {exc}") from exc
    return True


def _create_change_set(
    cfn: Any, name: str, body: str, params: dict[str, str], creating: bool, poll: float
) -> dict | None:
    try:
        created = cfn.create_change_set(
            StackName=name,
            ChangeSetName=f"deploy-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6}",
            ChangeSetType="CREATE" if creating else "UPDATE",
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM"],
            Description="make deploy",
        )
    except botocore.exceptions.ClientError as exc:
        raise DeployError(
            f"CloudFormation refused the change set for {name}: {exc}",
            "check the template with `make lint` and the settings, then deploy again",
        ) from exc
    arn = created["Id"]
    while True:
        desc = cfn.describe_change_set(ChangeSetName=arn)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        time.sleep(poll)
    if desc["Status"] == "FAILED":
        reason = desc.get("StatusReason", "")
        cfn.delete_change_set(ChangeSetName=arn)
        if any(s in reason for s in _NO_CHANGES):
            return None
        raise DeployError(
            f"the change set for {name} failed: {reason}",
            "fix the cause named above, then run `make deploy` again",
        )
    changes = list(desc.get("Changes", []))
    while desc.get("NextToken"):
        desc = cfn.describe_change_set(ChangeSetName=arn, NextToken=desc["NextToken"])
        changes += desc.get("Changes", [])
    return {**desc, "Changes": changes}


def _print_changes(say: Say, name: str, change_set: dict) -> None:
    say(f"{name}: change set {change_set['ChangeSetName']}")
    for change in change_set["Changes"]:
        rc = change.get("ResourceChange", {})
        replace = rc.get("Replacement")
        note = (
            " (replacement)"
            if replace == "True"
            else " (may replace)"
            if replace == "Conditional"
            else ""
        )
        action, logical, kind = (
            rc.get("Action", "?"),
            rc.get("LogicalResourceId"),
            rc.get("ResourceType"),
        )
        say(f"  {action:<7} {logical} [{kind}]{note}")


def marker(cfn: Any, name: str) -> set[str]:
    """The ids of the stack's newest events (one page): every event after them is new."""
    return {e["EventId"] for e in _events(cfn, name, pages=1)}


def _events(
    cfn: Any, name: str, until: set[str] | None = None, pages: int | None = None
) -> list[dict]:
    """The stack's events, newest first, page after page, stopping at the first event in
    `until` (older ones belong to earlier operations) or after `pages` pages."""
    events: list[dict] = []
    token = None
    read = 0
    try:
        while True:
            page = cfn.describe_stack_events(
                StackName=name, **({"NextToken": token} if token else {})
            )
            read += 1
            for event in page["StackEvents"]:
                if until and event["EventId"] in until:
                    return events
                events.append(event)
            token = page.get("NextToken")
            if not token or (pages and read >= pages):
                return events
    except botocore.exceptions.ClientError:
        return events


def _stream(cfn: Any, name: str, seen: set[str], total: int, say: Say, poll: float) -> str:
    """Print new stack events with progress until the stack settles; returns its status."""
    seen = set(seen)  # the caller's set still marks where this operation began
    done = 0
    while True:
        stack = describe(cfn, name)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        for event in reversed(_events(cfn, name, until=seen)):
            seen.add(event["EventId"])
            state = event.get("ResourceStatus", "")
            logical = event.get("LogicalResourceId", "")
            is_resource = event.get("ResourceType") != "AWS::CloudFormation::Stack"
            if is_resource and state.endswith("_COMPLETE"):
                done += 1
            reason = event.get("ResourceStatusReason") or ""
            progress = f"[{min(done, total)}/{total}]" if total and is_resource else ""
            say(f"  {progress:>7} {state:<20} {logical} {reason}".rstrip())
        if status in _DONE:
            return status
        time.sleep(poll)


def _first_failure(cfn: Any, name: str, skip: set[str] | None = None) -> str | None:
    """The earliest failed resource event (the cause; later ones are consequences)."""
    for event in reversed(_events(cfn, name, until=skip)):
        if (
            event.get("ResourceStatus", "").endswith("_FAILED")
            and event.get("LogicalResourceId") != name
        ):
            return f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '?')}"
    return None
