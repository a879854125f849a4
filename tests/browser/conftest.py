"""Browser tier: the functional tier's local S3 endpoint and real scoring job, plus Chromium."""

from tests.functional.conftest import aws_env, buckets, harness, reference_scorer, s3  # noqa: F401
