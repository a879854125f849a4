"""The local Lambda service: what `make demo`, `make local-up` and the integration tests run.

moto server is the AWS API endpoint; this package reads the stacks deployed to it (templates
and parameters, like `sam local`), lays out the deployed function and layer zips as Lambda
does, and runs them under the Runtime Interface Emulator (RIE) with awslambdaric, one RIE per
concurrent instance. S3 objects created in a bucket with a deployed notification produce the
S3 event, delivered asynchronously with the deployed retries and on-failure destination.
"""
