"""Content versions tell apart two datasets written to the same S3 path."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from crossline_bed.process import free_port
from crossline.emitters.content import read_content_version as content_version
from crossline.errors import SourceError


@pytest.fixture
def s3(aws: str):
    client = boto3.client("s3", endpoint_url=aws)
    client.create_bucket(Bucket="versioned")
    client.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    client.create_bucket(Bucket="plain")
    return client


def test_object_version_is_its_version_id(s3) -> None:
    first = s3.put_object(Bucket="versioned", Key="policy/excl-v14.csv", Body=b"8231\n")["VersionId"]
    assert content_version(s3, "s3://versioned/policy/excl-v14.csv") == first
    second = s3.put_object(Bucket="versioned", Key="policy/excl-v14.csv", Body=b"8231\n9000\n")["VersionId"]
    assert content_version(s3, "s3://versioned/policy/excl-v14.csv") == second != first


def test_unversioned_object_falls_back_to_etag(s3) -> None:
    etag = s3.put_object(Bucket="plain", Key="a.csv", Body=b"x")["ETag"].strip('"')
    assert content_version(s3, "s3://plain/a.csv") == etag


def test_prefix_version_changes_with_content_and_only_with_content(s3) -> None:
    s3.put_object(Bucket="versioned", Key="train/2027-W10/part-0", Body=b"a")
    s3.put_object(Bucket="versioned", Key="train/2027-W10/part-1", Body=b"b")
    s3.put_object(Bucket="versioned", Key="train/2027-W100/part-0", Body=b"not under the prefix")
    before = content_version(s3, "s3://versioned/train/2027-W10/")
    assert before == content_version(s3, "s3://versioned/train/2027-W10")
    assert before is not None and before.startswith("sha256:")
    s3.put_object(Bucket="versioned", Key="train/2027-W10/part-1", Body=b"b2")
    after = content_version(s3, "s3://versioned/train/2027-W10/")
    assert after != before
    s3.delete_object(Bucket="versioned", Key="train/2027-W10/part-1")
    assert content_version(s3, "s3://versioned/train/2027-W10/") not in (before, after)


def test_nothing_there_is_none(s3) -> None:
    assert content_version(s3, "s3://versioned/nothing/here/") is None
    assert content_version(s3, "s3://versioned/nothing.csv") is None


def test_unreachable_s3_is_a_source_error() -> None:
    dead = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(SourceError, match="cannot read the content version of s3://x/y.csv"):
        content_version(dead, "s3://x/y.csv")
