"""Package the function and deploy bootstrap, layer and app stacks with CloudFormation.

A pipeline of small steps (chalice-style): read settings → package → select layers →
bootstrap stack → upload artifacts → layer stacks → app stack → outputs. Every step that
talks to AWS takes its client as a parameter, so the same code runs against AWS or any
endpoint boto3 is pointed at (`AWS_ENDPOINT_URL`).
"""
