"""CloudFormation templates as data, shared by the deployer, the local Lambda service and the
tests (as SAM CLI keeps its template reading in one library used by build and local):

- `template`: parse a template body (YAML with short-form intrinsics, or JSON);
- `intrinsics`: evaluate a template's intrinsic functions with deployed values;
- `deployed`: read a deployed stack (its original template, parameters and physical ids).
"""
