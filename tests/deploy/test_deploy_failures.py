"""Bad input and failed stack operations end in one clear message with the next step.

moto cannot be made to fail a create or a change set, so these use a small hand-written
CloudFormation fake that answers like AWS does in those states."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from infra.deploy import stacks
from infra.deploy.aws import connect
from infra.deploy.errors import DeployError
from tests.paths import ROOT

BODY = "Resources: {}\n"


class FakeCfn:
    """Just enough of the CloudFormation API, in a given state."""

    def __init__(self, status=None, change_set="CREATE_COMPLETE", reason="", final=None, events=(),
                 events_on_execute=()):  # fmt: skip
        self.status, self.change_set, self.reason = status, change_set, reason
        self.final, self.events, self.later = final, list(events), list(events_on_execute)
        self.executed = self.deleted_change_sets = 0
        self.direct_updates = 0

    def describe_stacks(self, StackName):
        if self.status is None:
            import botocore.exceptions

            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ValidationError", "Message": "Stack does not exist"}},
                "DescribeStacks",
            )
        params = [{"ParameterKey": "P", "ParameterValue": "old"}]
        return {"Stacks": [{"StackName": StackName, "StackId": "id", "StackStatus": self.status,
                            "Parameters": params}]}  # fmt: skip

    def get_template(self, **_):
        return {"TemplateBody": BODY}

    def create_change_set(self, **_):
        return {"Id": "cs-arn"}

    def describe_change_set(self, **_):
        return {"ChangeSetId": "cs-arn", "ChangeSetName": "cs", "Status": self.change_set,
                "StatusReason": self.reason, "Changes": [{"ResourceChange": {
                    "Action": "Modify", "LogicalResourceId": "Function",
                    "ResourceType": "AWS::Lambda::Function", "Replacement": "False"}}]}  # fmt: skip

    def delete_change_set(self, **_):
        self.deleted_change_sets += 1

    def execute_change_set(self, **_):
        self.executed += 1
        self.status = self.final
        self.events += self.later

    def describe_stack_events(self, StackName, NextToken=None):
        """Newest first, 100 per page, like AWS."""
        events = list(reversed(self.events))
        start = int(NextToken or 0)
        page = {"StackEvents": events[start : start + 100]}
        if start + 100 < len(events):
            page["NextToken"] = str(start + 100)
        return page

    def update_stack(self, **_):
        self.direct_updates += 1
        self.status = self.final
        self.events += self.later

    def describe_stack_resources(self, **_):
        return {"StackResources": []}


def _event(n, logical, status, reason=""):
    return {"EventId": str(n), "LogicalResourceId": logical, "ResourceStatus": status,
            "ResourceStatusReason": reason, "Timestamp": dt.datetime(2026, 1, 1)}  # fmt: skip


def test_a_stack_in_rollback_complete_names_the_failure_and_says_delete_it():
    cfn = FakeCfn(status="ROLLBACK_COMPLETE", events=[
        _event(1, "app", "CREATE_IN_PROGRESS"),
        _event(2, "InputBucket", "CREATE_FAILED", "t-app-in-1 already exists"),
        _event(3, "Function", "CREATE_FAILED", "Resource creation cancelled"),
        _event(4, "app", "ROLLBACK_COMPLETE"),
    ])  # fmt: skip
    with pytest.raises(DeployError, match="InputBucket: t-app-in-1 already exists") as exc:
        stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lambda _: None, poll=0)
    assert "delete-stack --stack-name app" in exc.value.next_step
    assert cfn.executed == 0


def test_a_failed_change_set_gives_its_reason_and_is_cleaned_up():
    cfn = FakeCfn(status="UPDATE_COMPLETE", change_set="FAILED",
                  reason="Parameter 'CodeKey' must match pattern ^function/")  # fmt: skip
    with pytest.raises(DeployError, match="must match pattern") as exc:
        stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lambda _: None, poll=0)
    assert "make deploy" in exc.value.next_step
    assert cfn.deleted_change_sets == 1 and cfn.executed == 0


def test_a_failed_update_names_the_failing_resource_and_its_reason():
    cfn = FakeCfn(status="UPDATE_COMPLETE", final="UPDATE_ROLLBACK_COMPLETE",
                  events=[_event(0, "Function", "CREATE_FAILED", "an old failure")],
                  events_on_execute=[
        _event(1, "app", "UPDATE_IN_PROGRESS"),
        _event(2, "Function", "UPDATE_FAILED", "Layer version arn:…:9 does not exist"),
        _event(3, "app", "UPDATE_ROLLBACK_COMPLETE"),
    ])  # fmt: skip
    lines = []
    with pytest.raises(DeployError, match="UPDATE_ROLLBACK_COMPLETE: Function: Layer version"):
        stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lines.append, poll=0)
    assert any("Modify  Function" in line for line in lines)  # shown before executing


def test_events_past_the_first_page_are_streamed_and_the_first_failure_found():
    later = [_event(1, "app", "UPDATE_IN_PROGRESS"),
             _event(2, "Function", "UPDATE_FAILED", "the first cause")]  # fmt: skip
    later += [_event(n, f"R{n}", "UPDATE_COMPLETE") for n in range(3, 250)]
    later += [_event(250, "app", "UPDATE_ROLLBACK_COMPLETE")]
    cfn = FakeCfn(status="UPDATE_COMPLETE", final="UPDATE_ROLLBACK_COMPLETE",
                  events=[_event(n, "Old", "UPDATE_FAILED", "old") for n in range(-150, 0)],
                  events_on_execute=later)  # fmt: skip
    lines = []
    with pytest.raises(DeployError, match="Function: the first cause"):
        stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lines.append, poll=0)
    logical = [line.split()[-1] for line in lines if "UPDATE_COMPLETE" in line]
    assert logical == [f"R{n}" for n in range(3, 250)]  # all three pages, in order
    assert not any("Old" in line for line in lines)  # earlier operations are not replayed


def test_on_aws_a_change_set_without_changes_is_never_bypassed():
    cfn = FakeCfn(status="UPDATE_COMPLETE", change_set="FAILED",
                  reason="The submitted information didn't contain changes.")  # fmt: skip
    lines = []
    result = stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lines.append, poll=0)
    assert result.action == "unchanged"
    assert cfn.direct_updates == 0 and cfn.executed == 0
    assert "no changes to any resource" in "\n".join(lines)


def test_in_local_mode_a_change_set_without_changes_falls_back_to_a_direct_update():
    cfn = FakeCfn(status="UPDATE_COMPLETE", change_set="FAILED", final="UPDATE_COMPLETE",
                  reason="The submitted information didn't contain changes.")  # fmt: skip
    result = stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lambda _: None, poll=0,
                           local=True)  # fmt: skip
    assert result.action == "updated" and cfn.direct_updates == 1


def test_a_stack_whose_rollback_failed_says_continue_the_rollback():
    cfn = FakeCfn(status="UPDATE_ROLLBACK_FAILED", events=[
        _event(1, "Function", "UPDATE_FAILED", "Rate exceeded"),
    ])  # fmt: skip
    with pytest.raises(DeployError, match="Function: Rate exceeded") as exc:
        stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lambda _: None, poll=0)
    assert "continue-update-rollback --stack-name app" in exc.value.next_step
    assert cfn.executed == 0


def test_a_busy_stack_is_not_touched():
    cfn = FakeCfn(status="UPDATE_IN_PROGRESS")
    with pytest.raises(DeployError, match="busy"):
        stacks.deploy(cfn, "app", BODY, {}, {"P": "new"}, say=lambda _: None, poll=0)
    assert cfn.executed == 0


def test_no_credentials_says_how_to_get_some(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with pytest.raises(DeployError, match="no AWS credentials") as exc:
        connect()
    assert "aws configure" in exc.value.next_step


def test_no_region_says_how_to_set_one(monkeypatch, tmp_path):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(DeployError, match="no AWS region") as exc:
        connect()
    assert "AWS_REGION" in exc.value.next_step


def test_cli_prints_the_error_and_next_step_and_exits_1(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BUILD_DIR": str(tmp_path / "build"),
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "STACK": "Bad_Name"}  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "infra.deploy", "deploy"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.startswith("error: STACK='Bad_Name' is invalid")
    assert "next: set STACK" in run.stderr


def test_an_unreachable_endpoint_is_not_blamed_on_the_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(DeployError, match="cannot reach AWS") as exc:
        connect()
    assert "AWS_ENDPOINT_URL" in exc.value.next_step


def test_cli_deploys_to_the_endpoint_and_a_second_run_changes_nothing(moto_server, workspace):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workspace["build"].parent), "STACK": "cli",
           "BUILD_DIR": str(workspace["build"]), "FUNCTION_DIR": str(workspace["function"]),
           "DEPLOY_POLL_SECONDS": "0.01", **moto_server.deployer_env()}  # fmt: skip
    command = [sys.executable, "-m", "infra.deploy", "deploy"]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "cli-app: created" in first.stdout and "InputBucketName" in first.stdout
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout


def test_cli_package_writes_one_zip_per_function(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BUILD_DIR": str(tmp_path / "b")}
    run = subprocess.run([sys.executable, "-m", "infra.deploy", "package"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    for name in ("sentiment", "insights"):
        assert (tmp_path / "b" / "functions" / f"{name}.zip").is_file()
    assert "sha256" in run.stdout
