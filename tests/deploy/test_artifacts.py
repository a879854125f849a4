"""Artifacts are uploaded once under their content hash; a zip a current stack references is
never marked to expire, one no stack references any more is (and unmarked when used again)."""

from __future__ import annotations

from infra.deploy import artifacts, stacks, templates
from infra.deploy.pipeline import deploy


def _tags(aws, bucket: str, key: str) -> list[dict]:
    return aws.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]


def _bucket(aws, tmp_path) -> str:
    """A bucket of the test's own (the moto server is shared by the session)."""
    name = "artifacts-" + "".join(c for c in tmp_path.name.lower() if c.isalnum())[-40:]
    aws.s3.create_bucket(Bucket=name)
    return name


def test_a_missing_zip_is_uploaded_encrypted_and_a_present_one_is_not_uploaded_again(aws, tmp_path):
    path = tmp_path / "f.zip"
    path.write_bytes(b"zip")
    bucket = _bucket(aws, tmp_path)
    assert artifacts.ensure(aws.s3, bucket, "function/abc.zip", path, say=lambda _: None) == (
        "uploaded"
    )
    head = aws.s3.head_object(Bucket=bucket, Key="function/abc.zip")
    assert head["ServerSideEncryption"] == "AES256"
    path.write_bytes(b"other bytes: would change the object if uploaded again")
    assert artifacts.ensure(aws.s3, bucket, "function/abc.zip", path, say=lambda _: None) == (
        "present"
    )
    body = aws.s3.get_object(Bucket=bucket, Key="function/abc.zip")["Body"].read()
    assert body == b"zip"


def test_only_unreferenced_zips_are_marked_and_a_reused_one_is_unmarked(aws, tmp_path):
    bucket = _bucket(aws, tmp_path)
    for key in ("function/old.zip", "function/new.zip", "layers/pandas/a.zip", "notes.txt"):
        aws.s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging="owner=me")
    used = {"function/new.zip", "layers/pandas/a.zip", "some other parameter value"}

    marked = artifacts.mark_unused(aws.s3, bucket, used, say=lambda _: None)

    assert marked == ["function/old.zip"]
    assert _tags(aws, bucket, "function/old.zip") == [
        {"Key": "owner", "Value": "me"}, artifacts.UNUSED_TAG
    ]  # fmt: skip
    for key in ("function/new.zip", "layers/pandas/a.zip", "notes.txt"):
        assert artifacts.UNUSED_TAG not in _tags(aws, bucket, key), key
    assert artifacts.mark_unused(aws.s3, bucket, used, say=lambda _: None) == []  # idempotent

    # The old code is deployed again: its zip is present, so it is reused and unmarked.
    path = tmp_path / "old.zip"
    path.write_bytes(b"x")
    assert artifacts.ensure(aws.s3, bucket, "function/old.zip", path, lambda _: None) == "reused"
    assert _tags(aws, bucket, "function/old.zip") == [{"Key": "owner", "Value": "me"}]


def test_after_a_code_bump_only_the_previous_code_zip_is_marked(aws, make_config, workspace, log):
    cfg = make_config()
    first = deploy(cfg, aws, log)
    bucket = stacks.physical_ids(aws.cfn, cfg.bootstrap_stack)["ArtifactBucket"]
    (workspace["function"] / "handler.py").write_text(
        (workspace["function"] / "handler.py").read_text() + "\n# a code-only change\n"
    )
    second = deploy(cfg, aws, log)
    assert second.code_key != first.code_key
    assert artifacts.UNUSED_TAG in _tags(aws, bucket, first.code_key)
    assert artifacts.UNUSED_TAG not in _tags(aws, bucket, second.code_key)
    layer_keys = [k for k in artifacts.in_use(aws.cfn, cfg) if k.startswith("layers/")]
    assert len(layer_keys) == 3
    for key in layer_keys:
        assert artifacts.UNUSED_TAG not in _tags(aws, bucket, key)


def test_the_lifecycle_rule_expires_only_zips_tagged_unused():
    rules = templates.load("bootstrap")[1]["Resources"]["ArtifactBucket"]["Properties"][
        "LifecycleConfiguration"
    ]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert len(expiring) == 1
    assert expiring[0]["TagFilters"] == [artifacts.UNUSED_TAG]
    assert not [r for r in rules if "ExpirationDate" in r or "Transitions" in r]
