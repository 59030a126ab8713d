"""The approval emitter names who approved a model package, and when, in Marquez."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline_bed.marquez import MarquezState
from crossline.emitters.approval import DETAIL_TYPE, handle
from crossline.errors import InvalidEvent, SourceError

APPROVER = "risk-ops@company.com"


def _register(sm) -> str:
    sm.create_model_package_group(ModelPackageGroupName="credit-xgb")
    return sm.create_model_package(
        ModelPackageGroupName="credit-xgb",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "xgboost:1.7-1", "ModelDataUrl": "s3://credit/models/a3c7/output/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def _as_approver(aws: str):
    iam = boto3.client("iam", endpoint_url=aws)
    role = iam.create_role(RoleName="risk-ops", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    creds = boto3.client("sts", endpoint_url=aws).assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName=APPROVER)["Credentials"]
    return boto3.client(
        "sagemaker", endpoint_url=aws, aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
    )


def _state_change(arn: str, status: str) -> dict:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": "aws.sagemaker",
        "account": "123456789012", "region": "us-east-1", "resources": [arn],
        "detail": {"ModelPackageArn": arn, "ModelPackageGroupName": "credit-xgb", "ModelApprovalStatus": status},
    }


def test_approval_event_names_the_approver_in_marquez(aws: str, marquez: MarquezState, namespace: str) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws)
    arn = _register(sm)
    _as_approver(aws).update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="Validated by model risk, ticket MR-311"
    )
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=marquez.url)))
    event = _state_change(arn, "Approved")

    emitted = handle(event, sagemaker_client=sm, client=client, namespace=namespace)
    again = handle(event, sagemaker_client=sm, client=client, namespace=namespace)  # EventBridge redelivers

    assert again.run.runId == emitted.run.runId
    runs = requests.get(f"{marquez.url}/api/v1/namespaces/{namespace}/jobs/model_registry.approval.credit-xgb/runs", timeout=10).json()["runs"]
    assert [r["id"] for r in runs] == [emitted.run.runId]
    facets = requests.get(f"{marquez.url}/api/v1/jobs/runs/{emitted.run.runId}/facets", params={"type": "run"}, timeout=10).json()["facets"]
    approval = facets["crossline_approval"]
    assert approval["approverIamArn"] == f"arn:aws:sts::123456789012:assumed-role/risk-ops/{APPROVER}"
    assert approval["status"] == "Approved"
    assert approval["description"] == "Validated by model risk, ticket MR-311"
    assert approval["sourceEventId"] == event["id"]
    assert approval["decisionTime"] == emitted.eventTime.replace("+00:00", "Z")
    package = requests.get(f"{marquez.url}/api/v1/namespaces/arn:aws:sagemaker:us-east-1:123456789012/datasets/model-package%2Fcredit-xgb%2F1", timeout=10).json()
    assert package["facets"]["crossline_modelPackage"]["approvalStatus"] == "Approved"


def test_a_status_only_update_keeps_the_description(aws: str) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws)
    arn = _register(sm)
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="first review")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    package = sm.describe_model_package(ModelPackageName=arn)
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == ("Rejected", "first review")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"detail-type": "SageMaker Endpoint State Change", "detail": {}}, "not a 'SageMaker Model Package State Change' event"),
        ({"detail-type": DETAIL_TYPE, "id": "e-1", "detail": {}}, "names no ModelPackageArn"),
        ("not an event", "detail-type is 'str'"),
    ],
)
def test_malformed_events_are_refused(event, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        handle(event, sagemaker_client=None, client=None, namespace="n")


def test_unknown_package_is_a_source_error(aws: str) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-xgb/99"
    with pytest.raises(SourceError, match="cannot describe model package .*credit-xgb/99"):
        handle(_state_change(arn, "Approved"), sagemaker_client=sm, client=None, namespace="n")
