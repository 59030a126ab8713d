"""The moto server of the bed serves real boto3 calls and resets between tests."""

import boto3


def test_s3_roundtrip_through_moto_server(aws: str) -> None:
    s3 = boto3.client("s3", endpoint_url=aws)
    s3.create_bucket(Bucket="credit")
    s3.put_object(Bucket="credit", Key="train/2027-W10/part-0.csv", Body=b"a,b\n1,2\n")
    body = s3.get_object(Bucket="credit", Key="train/2027-W10/part-0.csv")["Body"].read()
    assert body == b"a,b\n1,2\n"


def test_reset_clears_state(aws: str) -> None:
    s3 = boto3.client("s3", endpoint_url=aws)
    assert s3.list_buckets()["Buckets"] == []
