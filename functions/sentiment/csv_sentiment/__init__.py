"""Stream a CSV from S3 through VADER into the output bucket.

The package is pure and testable without AWS except `s3io` (the only module that talks to S3)
and `job` (which wires the steps together); `handler.py` beside it is the thin Lambda edge.
"""
