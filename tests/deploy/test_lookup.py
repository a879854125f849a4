"""The resolver that reads deployed templates (shared with the local Lambda service)."""

from __future__ import annotations

import pytest

from infra.deploy import templates
from infra.deploy.lookup import Resolver, properties

STACK = {
    "StackName": "demo-app",
    "StackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/demo-app/abc",
}
TEMPLATE = templates.parse("""
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


def test_an_unknown_resource_is_a_key_error_not_a_guess():
    res = Resolver(TEMPLATE, {"Arns": ""}, {}, STACK)
    with pytest.raises(KeyError):
        properties(res, TEMPLATE, "Fn")
