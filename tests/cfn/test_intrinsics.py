"""The template resolver (infra/cfn) that the local Lambda service and the deployer tests read
deployed stacks with: what it evaluates, and a clear error naming what it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cfn.deployed import properties
from infra.cfn.intrinsics import INTRINSICS, Resolver, TemplateError, UnsupportedIntrinsic
from infra.cfn.template import parse

STACK = {
    "StackName": "demo-app",
    "StackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/demo-app/abc",
}
TEMPLATE = parse("""
Parameters:
  Prefix: {Type: String, Default: input/}
  Arns: {Type: CommaDelimitedList}
  Count: {Type: Number, Default: 0}
Mappings:
  Sizes: {small: {memory: 256}}
Conditions:
  HasCount: !Not [!Equals [!Ref Count, 0]]
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-in-${AWS::AccountId}-${AWS::Region}"
  Topic:
    Type: AWS::SNS::Topic
    Condition: HasCount
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Layers: !Ref Arns
      MemorySize: !FindInMap [Sizes, small, memory]
      Reserved: !If [HasCount, !Ref Count, !Ref AWS::NoValue]
      Dest: !GetAtt Queue.Arn
      Joined: !Join ["/", [!Ref Prefix, !Select [1, !Split [",", "a,b,c"]]]]
      Sub2: !Sub ["${Q}-${Bucket.Arn}", {Q: !GetAtt Queue.QueueName}]
      List: [one, !Ref AWS::NoValue, two]
""")
IDS = {"Queue": "https://sqs.eu-west-1.amazonaws.com/111122223333/demo-q", "Bucket": "b"}


def test_resolves_the_intrinsics_the_templates_use():
    res = Resolver(TEMPLATE, {"Arns": "arn:1,arn:2"}, IDS, STACK)
    fn = properties(res, TEMPLATE, "Fn")
    assert fn == {
        "Layers": ["arn:1", "arn:2"],
        "MemorySize": 256,
        "Dest": "arn:aws:sqs:eu-west-1:111122223333:demo-q",
        "Joined": "input//b",
        "Sub2": "demo-q-arn:aws:s3:::b",
        "List": ["one", "two"],
    }
    bucket = properties(res, TEMPLATE, "Bucket")
    assert bucket["BucketName"] == "demo-app-in-111122223333-eu-west-1"
    assert properties(res, TEMPLATE, "Topic") is None  # its Condition is false


def test_conditions_follow_the_deployed_parameters():
    res = Resolver(TEMPLATE, {"Arns": "arn:1", "Count": "5"}, IDS, STACK)
    assert properties(res, TEMPLATE, "Fn")["Reserved"] == "5"
    assert properties(res, TEMPLATE, "Topic") == {}


def test_an_undeployed_resource_is_an_error_naming_it_not_a_guess():
    res = Resolver(TEMPLATE, {"Arns": ""}, {}, STACK)
    with pytest.raises(TemplateError, match=r"Fn::GetAtt Queue\.Arn: Queue is not deployed"):
        properties(res, TEMPLATE, "Fn")
    with pytest.raises(TemplateError, match="Ref Nowhere: not a parameter"):
        res.resolve({"Ref": "Nowhere"})


@pytest.mark.parametrize(
    ("node", "named"),
    [
        ({"Fn::ImportValue": "shared-vpc"}, "Fn::ImportValue"),
        ({"Fn::GetAZs": ""}, "Fn::GetAZs"),
        ({"Fn::Join": ["", [{"Fn::Cidr": ["10.0.0.0/16", 2, 8]}]]}, "Fn::Cidr"),
    ],
)
def test_an_unsupported_intrinsic_is_named_with_the_supported_ones(node, named):
    res = Resolver(TEMPLATE, {"Arns": ""}, IDS, STACK)
    with pytest.raises(UnsupportedIntrinsic) as caught:
        res.resolve({"Properties": {"Value": node}})
    message = str(caught.value)
    assert message.startswith(f"{named} is not supported")
    assert all(name in message for name in INTRINSICS)


def test_an_unsupported_getatt_attribute_is_named():
    res = Resolver(TEMPLATE, {"Arns": ""}, IDS, STACK)
    with pytest.raises(
        UnsupportedIntrinsic,
        match=r"Fn::GetAtt Topic.TopicName: attribute "
        r"TopicName of AWS::SNS::Topic is not supported.*AWS::S3::Bucket.Arn",
    ):
        res.resolve({"Fn::GetAtt": ["Topic", "TopicName"]})  # fmt: skip
    with pytest.raises(TemplateError, match="no resource Missing"):
        res.resolve({"Fn::Sub": "${Missing.Arn}"})


TEMPLATES = sorted(
    [
        *Path(__file__).resolve().parents[2].joinpath("infra", "templates").glob("*.yaml"),
        Path(__file__).resolve().parents[1]
        / "integration"
        / "functions"
        / "probe"
        / "template.yaml",
    ]
)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_resource_of_the_projects_templates_resolves(path):
    """The table covers every intrinsic and attribute our templates use (conditions both ways)."""
    template = parse(path.read_text())
    ids = {name: f"https://queue.example/{name}" for name in template.get("Resources", {})}
    required = {n: "x" for n, p in template.get("Parameters", {}).items() if "Default" not in p}
    for params in ({}, {"AlarmEmail": "ops@example.com", "ReservedConcurrency": "3"}):
        res = Resolver(template, required | params, ids, STACK)
        for logical in template.get("Resources", {}):
            properties(res, template, logical)
