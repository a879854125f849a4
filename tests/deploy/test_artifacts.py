"""Artifacts are uploaded once under their content hash, and kept young while referenced."""

from __future__ import annotations

import datetime as dt

import botocore.exceptions

from infra.deploy import artifacts


class FakeS3:
    def __init__(self, age_days: float | None):
        self.age, self.calls = age_days, []

    def head_object(self, Bucket, Key):
        if self.age is None:
            raise botocore.exceptions.ClientError({"Error": {"Code": "404"}}, "HeadObject")
        return {"LastModified": dt.datetime.now(dt.UTC) - dt.timedelta(days=self.age)}

    def upload_file(self, path, bucket, key, ExtraArgs):
        self.calls.append(("upload", key, ExtraArgs))

    def copy_object(self, **kwargs):
        self.calls.append(("copy", kwargs["Key"], kwargs["CopySource"]))


def test_a_missing_zip_is_uploaded_encrypted(tmp_path):
    path = tmp_path / "f.zip"
    path.write_bytes(b"zip")
    s3 = FakeS3(age_days=None)
    assert artifacts.ensure(s3, "b", "function/abc.zip", path, say=lambda _: None) == "uploaded"
    assert s3.calls == [("upload", "function/abc.zip", {"ServerSideEncryption": "AES256"})]


def test_a_present_zip_is_not_uploaded_again(tmp_path):
    s3 = FakeS3(age_days=2)
    assert artifacts.ensure(s3, "b", "k", tmp_path / "absent.zip", say=lambda _: None) == "present"
    assert s3.calls == []


def test_an_old_zip_still_referenced_is_refreshed_so_the_lifecycle_rule_spares_it(tmp_path):
    s3 = FakeS3(age_days=45)
    result = artifacts.ensure(s3, "b", "k", tmp_path / "absent.zip", say=lambda _: None)
    assert result == "refreshed"
    assert s3.calls == [("copy", "k", {"Bucket": "b", "Key": "k"})]
