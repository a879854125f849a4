"""State machine definitions (infra/statemachines/<name>.asl.json): uploaded beside the function
zip under content-hash keys and named by a template parameter `<Name>DefinitionKey`, so the
definition lives in its own file and CloudFormation reads it (DefinitionS3Location).

On a local endpoint moto's CloudFormation creates state machines that its Step Functions
interpreter cannot execute, so `make_executable` creates each one the app stack declares again
through CreateStateMachine, from the same file with the deployed DefinitionSubstitutions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.cfn.deployed import properties, resolver
from infra.deploy import artifacts
from infra.deploy.config import ROOT

DEFINITIONS = ROOT / "infra" / "statemachines"
_KEY = re.compile(r"^statemachines/([a-z0-9-]+)-[0-9a-f]{64}\.asl\.json$")
_SUB = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def parameter(name: str) -> str:
    """`fanout` → `FanoutDefinitionKey` (the app template's parameter for that definition)."""
    return "".join(part.capitalize() for part in name.split("-")) + "DefinitionKey"


def definitions(directory: Path = DEFINITIONS) -> dict[str, Path]:
    return {p.name.removesuffix(".asl.json"): p for p in sorted(directory.glob("*.asl.json"))}


def upload(s3: Any, bucket: str, template: dict, say: Callable[[str], None]) -> dict[str, str]:
    """Upload every definition the template asks for; returns its parameters."""
    declared = template.get("Parameters", {})
    params = {}
    for name, path in definitions().items():
        if parameter(name) not in declared:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        key = f"statemachines/{name}-{digest}.asl.json"
        artifacts.ensure(s3, bucket, key, path, say)
        params[parameter(name)] = key
    return params


def substitute(text: str, values: dict[str, Any]) -> str:
    """Step Functions' DefinitionSubstitutions: every ${Name} replaced; an unknown one is an
    error rather than a definition that fails at run time."""

    def one(match: re.Match) -> str:
        if match.group(1) not in values:
            raise KeyError(f"${{{match.group(1)}}} has no DefinitionSubstitutions entry")
        return str(values[match.group(1)])

    return _SUB.sub(one, text)


def make_executable(sfn: Any, cfn: Any, stack: str, say: Callable[[str], None]) -> list[str]:
    """Create (or update) every state machine of `stack` in the endpoint's interpreter."""
    res, template = resolver(cfn, stack)
    made = []
    for logical, spec in template.get("Resources", {}).items():
        if spec.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        props = properties(res, template, logical)
        if props is None:
            continue
        match = _KEY.match(props.get("DefinitionS3Location", {}).get("Key", ""))
        if not match:
            raise ValueError(f"{logical}: DefinitionS3Location is not a statemachines/ key")
        text = definitions()[match.group(1)].read_text()
        definition = substitute(text, props.get("DefinitionSubstitutions", {}))
        name, role = props["StateMachineName"], props["RoleArn"]
        arn = f"arn:{res.partition}:states:{res.region}:{res.account}:stateMachine:{name}"
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
            sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
        except sfn.exceptions.StateMachineDoesNotExist:
            sfn.create_state_machine(
                name=name, definition=definition, roleArn=role,
                type=props.get("StateMachineType", "STANDARD"),
            )  # fmt: skip
        say(f"  state machine {name}: executable locally (CreateStateMachine from {match[0]})")
        made.append(arn)
    return made
