"""The bed clock in the moto server: what moto stamps happens at the time the bed is set to.

Every test takes the ``aws`` fixture: its reset returns the shared server to real time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
import requests

from crossline_bed.aws import MotoServer
from crossline_bed.data_capture import record_inference
from crossline_bed.errors import BedError

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7"
TRAINING_END = datetime(2027, 3, 6, 3, 13, 30, tzinfo=timezone.utc)


@pytest.fixture
def sm(aws: str) -> Any:
    return boto3.client("sagemaker", endpoint_url=aws, region_name="us-east-1")


def train(sm: Any, name: str) -> dict[str, Any]:
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://credit/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    return sm.describe_training_job(TrainingJobName=name)


def close_to(moment: datetime, expected: datetime, seconds: float = 30) -> bool:
    return abs((moment - expected).total_seconds()) < seconds


def test_moto_stamps_at_the_bed_clock(moto_server: MotoServer, sm: Any) -> None:
    now = moto_server.set_clock(TRAINING_END)
    assert close_to(now, TRAINING_END)

    job = train(sm, "credit-xgb-2027W10-a3c7")

    assert close_to(job["CreationTime"], TRAINING_END)
    assert close_to(job["TrainingEndTime"], TRAINING_END)
    assert TRAINING_END <= moto_server.now() < TRAINING_END + timedelta(minutes=1)
    # SageMaker's own lineage is stamped by the same clock.
    [model] = sm.list_artifacts(ArtifactType="Model")["ArtifactSummaries"]
    assert close_to(model["CreationTime"], TRAINING_END)


def test_the_clock_ticks_on_and_can_move_again(moto_server: MotoServer, aws: str) -> None:
    first = moto_server.set_clock(TRAINING_END)
    later = moto_server.now()
    assert first <= later < TRAINING_END + timedelta(minutes=1)
    approval = datetime(2027, 3, 8, 9, 42, tzinfo=timezone.utc)
    assert close_to(moto_server.set_clock(approval), approval)


def test_set_clock_none_returns_to_real_time(moto_server: MotoServer, sm: Any) -> None:
    moto_server.set_clock(TRAINING_END)
    moto_server.set_clock(None)
    real = datetime.now(timezone.utc)
    assert close_to(moto_server.now(), real)
    assert close_to(train(sm, "today")["CreationTime"], real)


def test_reset_restores_real_time(moto_server: MotoServer, aws: str) -> None:
    moto_server.set_clock(TRAINING_END)
    moto_server.reset()
    assert close_to(moto_server.now(), datetime.now(timezone.utc))
    assert requests.get(f"{aws}/crossline-bed/clock", timeout=10).json()["travelling"] is False


def test_capture_refuses_an_inference_older_than_the_endpoints_last_change(
    moto_server: MotoServer, sm: Any, aws: str
) -> None:
    s3 = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    s3.create_bucket(Bucket="credit")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "credit-prod-v74", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
        DataCaptureConfig={
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://credit/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    moto_server.set_clock(datetime(2027, 3, 15, 9, 0, tzinfo=timezone.utc))
    sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName="c")

    # The 12 March inference was served by what was deployed then, not by this.
    with pytest.raises(BedError, match="record inferences in time order"):
        record_inference(
            s3, sm, "credit-prod", "loan-8231", datetime(2027, 3, 12, 10, 14, 3, tzinfo=timezone.utc), "1", "0"
        )


@pytest.mark.parametrize(
    ("method", "route", "body", "status"),
    [
        ("POST", "clock", {"at": "not a time"}, 400),
        ("POST", "clock", {}, 400),
        ("POST", "clock", ["2027-03-06T03:13:30Z"], 400),
        ("PUT", "clock", {"at": None}, 405),
        ("GET", "nowhere", None, 404),
    ],
)
def test_admin_routes_refuse_bad_requests(aws: str, method: str, route: str, body: Any, status: int) -> None:
    response = requests.request(method, f"{aws}/crossline-bed/{route}", json=body, timeout=10)
    assert response.status_code == status
    assert "error" in response.json()


def test_client_raises_bed_error_on_a_refused_request(moto_server: MotoServer, aws: str) -> None:
    with pytest.raises(BedError, match="HTTP 404"):
        moto_server._admin("GET", "nowhere")
