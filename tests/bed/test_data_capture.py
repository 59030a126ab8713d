"""Endpoint data capture records, written through boto3 to the moto server and read back."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest

from crossline_bed.data_capture import record_inference
from crossline_bed.errors import BedError

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://credit/datacapture/",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}
SCORED = datetime(2027, 3, 12, 10, 14, 3, tzinfo=timezone.utc)
ROW = "8231,0.42,17,3,1200.5"


@pytest.fixture
def clients(aws: str) -> tuple[Any, Any]:
    s3 = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    s3.create_bucket(Bucket="credit")
    return s3, boto3.client("sagemaker", endpoint_url=aws, region_name="us-east-1")


def config_for(sm: Any, version: int, capture: dict[str, Any] | None = CAPTURE) -> str:
    sm.create_model(ModelName=f"credit-xgb-v{version}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    name = f"credit-prod-v{version}-config"
    extra = {"DataCaptureConfig": capture} if capture else {}
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": f"credit-prod-v{version}",
                "ModelName": f"credit-xgb-v{version}",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        **extra,
    )
    return name


def read(s3: Any, uri: str) -> list[dict[str, Any]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def test_record_lands_under_the_serving_variants_hour_in_aws_format(clients: tuple[Any, Any]) -> None:
    s3, sm = clients
    sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName=config_for(sm, 73))

    uri = record_inference(s3, sm, "credit-prod", "loan-8231", SCORED, ROW, "0.137")

    assert re.fullmatch(
        r"s3://credit/datacapture/credit-prod/credit-prod-v73/2027/03/12/10/14-03-000-[0-9a-f-]{36}\.jsonl", uri
    ), uri
    [record] = read(s3, uri)
    event_id = record["eventMetadata"]["eventId"]
    assert str(uuid.UUID(event_id)) == event_id
    assert record == {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": ROW, "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.137", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": event_id, "inferenceId": "loan-8231", "inferenceTime": "2027-03-12T10:14:03Z"},
        "eventVersion": "0",
    }
    # Listing the hour folder is how a collector finds it.
    listed = s3.list_objects_v2(Bucket="credit", Prefix="datacapture/credit-prod/credit-prod-v73/2027/03/12/10/")
    assert [o["Key"] for o in listed["Contents"]] == [uri.removeprefix("s3://credit/")]


def test_after_the_swap_records_land_under_the_new_variant(clients: tuple[Any, Any]) -> None:
    s3, sm = clients
    sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName=config_for(sm, 73))
    before = record_inference(s3, sm, "credit-prod", "loan-8231", SCORED, ROW, "0.137")
    sm.update_endpoint(EndpointName="credit-prod", EndpointConfigName=config_for(sm, 74))
    after = record_inference(
        s3, sm, "credit-prod", "loan-9001", datetime(2027, 3, 16, 8, 0, 0, 250000, tzinfo=timezone.utc), ROW, "0.2"
    )

    assert "/credit-prod-v73/2027/03/12/10/" in before
    assert re.search(r"/credit-prod/credit-prod-v74/2027/03/16/08/00-00-250-[0-9a-f-]{36}\.jsonl$", after), after


def test_input_only_capture_writes_no_output(clients: tuple[Any, Any]) -> None:
    s3, sm = clients
    config = config_for(sm, 73, {**CAPTURE, "CaptureOptions": [{"CaptureMode": "Input"}]})
    sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName=config)

    [record] = read(s3, record_inference(s3, sm, "credit-prod", "loan-8231", SCORED, ROW, "0.137"))

    assert list(record["captureData"]) == ["endpointInput"]


@pytest.mark.parametrize(
    "capture",
    [None, {**CAPTURE, "EnableCapture": False}],
    ids=["no-capture-config", "capture-disabled"],
)
def test_capture_off_is_a_bed_error(clients: tuple[Any, Any], capture: dict[str, Any] | None) -> None:
    s3, sm = clients
    sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName=config_for(sm, 73, capture))

    with pytest.raises(BedError, match="data capture is off for endpoint 'credit-prod'"):
        record_inference(s3, sm, "credit-prod", "loan-8231", SCORED, ROW, "0.137")
    assert s3.list_objects_v2(Bucket="credit").get("Contents") is None


def test_unknown_endpoint_is_a_bed_error(clients: tuple[Any, Any]) -> None:
    s3, sm = clients
    with pytest.raises(BedError, match="cannot describe endpoint 'nope'"):
        record_inference(s3, sm, "nope", "loan-8231", SCORED, ROW, "0.137")
