"""A malformed facet value is refused when the facet is built, naming the facet and field."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from crossline.emitters.facets import (
    CrosslineApprovalRunFacet,
    CrosslineDeploymentRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineHyperparametersRunFacet,
    CrosslineMetric,
    CrosslineMetricsRunFacet,
    CrosslineModelPackageDatasetFacet,
    CrosslineSagemakerJobRunFacet,
)
from crossline.errors import InvalidEvent

SM = "arn:aws:sagemaker:eu-west-1:123456789012"
PACKAGE = f"{SM}:model-package/credit-xgb/73"


def job(**change: Any) -> CrosslineSagemakerJobRunFacet:
    fields = {"arn": f"{SM}:training-job/credit-xgb-a3c7", "name": "credit-xgb-a3c7", "kind": "training"}
    return CrosslineSagemakerJobRunFacet(**{**fields, **change})


def metric(**change: Any) -> CrosslineMetric:
    return CrosslineMetric(**{"name": "auc", "value": 0.871, "kind": "evaluation", **change})


def package(**change: Any) -> CrosslineModelPackageDatasetFacet:
    fields = {"group": "credit-xgb", "version": 73, "arn": PACKAGE, "approvalStatus": "Approved"}
    return CrosslineModelPackageDatasetFacet(**{**fields, **change})


def approval(**change: Any) -> CrosslineApprovalRunFacet:
    fields = {
        "modelPackageArn": PACKAGE,
        "status": "Approved",
        "decisionTime": "2027-03-08T09:42:00Z",
        "approverUserProfileName": "risk-ops",
    }
    return CrosslineApprovalRunFacet(**{**fields, **change})


def deployment(**change: Any) -> CrosslineDeploymentRunFacet:
    fields = {
        "endpointName": "credit-prod",
        "endpointArn": f"{SM}:endpoint/credit-prod",
        "variantName": "credit-prod-v73",
        "modelName": "credit-xgb-73",
        "deployedTime": "2027-03-08T11:00:00+00:00",
    }
    return CrosslineDeploymentRunFacet(**{**fields, **change})


def snapshot(**change: Any) -> CrosslineFeatureSnapshotDatasetFacet:
    fields = {
        "featureGroupName": "accounts",
        "version": "2027-W10",
        "offlineStoreUri": "s3://credit-features/accounts/2027-W10/",
    }
    return CrosslineFeatureSnapshotDatasetFacet(**{**fields, **change})


NAIVE = datetime(2027, 3, 8, 9, 42)

MALFORMED: list[tuple[str, Callable[[], object], str]] = [
    # SageMaker job
    ("job arn empty", lambda: job(arn=""), "CrosslineSagemakerJobRunFacet.arn: must not be empty"),
    ("job arn not an ARN", lambda: job(arn="credit-xgb-a3c7"), "CrosslineSagemakerJobRunFacet.arn: not an ARN"),
    ("job arn wrong service", lambda: job(arn="arn:aws:glue:eu-west-1:123456789012:job/x"),
     "CrosslineSagemakerJobRunFacet.arn: must be a sagemaker ARN"),
    ("job arn not a job", lambda: job(arn=f"{SM}:endpoint/credit-prod"),
     "CrosslineSagemakerJobRunFacet.arn: must be a training-job or processing-job"),
    ("job name wrong type", lambda: job(name=7), "CrosslineSagemakerJobRunFacet.name: must be a string, got int"),
    ("job kind unknown", lambda: job(kind="notebook"), "CrosslineSagemakerJobRunFacet.kind: must be one of"),
    ("job kind contradicts ARN", lambda: job(kind="processing"),
     "CrosslineSagemakerJobRunFacet.kind: 'processing' does not match ARN"),
    ("job name contradicts ARN", lambda: job(name="other-job"),
     "CrosslineSagemakerJobRunFacet.name: 'other-job' is not the job of ARN"),
    ("job instance count zero", lambda: job(instanceCount=0),
     "CrosslineSagemakerJobRunFacet.instanceCount: must be an integer >= 1"),
    ("job instance count text", lambda: job(instanceCount="2"),
     "CrosslineSagemakerJobRunFacet.instanceCount: must be an integer >= 1"),
    # hyperparameters
    ("hyperparameter value a number", lambda: CrosslineHyperparametersRunFacet(hyperparameters={"max_depth": 6}),
     "CrosslineHyperparametersRunFacet.hyperparameters: value of 'max_depth' must be a string, got int"),
    ("hyperparameter empty key", lambda: CrosslineHyperparametersRunFacet(hyperparameters={"": "6"}),
     "CrosslineHyperparametersRunFacet.hyperparameters: keys must be non-empty strings"),
    ("hyperparameters a list", lambda: CrosslineHyperparametersRunFacet(hyperparameters=[("eta", "0.2")]),
     "CrosslineHyperparametersRunFacet.hyperparameters: must be a mapping, got list"),
    # metrics
    ("metric value text", lambda: metric(value="0.871"),
     "CrosslineMetricsRunFacet.metrics[].value: must be a number, got str '0.871'"),
    ("metric value bool", lambda: metric(value=True), "CrosslineMetricsRunFacet.metrics[].value: must be a number"),
    ("metric value NaN", lambda: metric(value=float("nan")),
     "CrosslineMetricsRunFacet.metrics[].value: must be a finite number"),
    ("metric kind unknown", lambda: metric(kind="validation"),
     "CrosslineMetricsRunFacet.metrics[].kind: must be one of ['evaluation', 'training'], got 'validation'"),
    ("metric name empty", lambda: metric(name=" "), "CrosslineMetricsRunFacet.metrics[].name: must not be empty"),
    ("metric step negative", lambda: metric(step=-1), "CrosslineMetricsRunFacet.metrics[].step: must be an integer >= 0"),
    ("metric naive timestamp", lambda: metric(timestamp=NAIVE),
     "CrosslineMetricsRunFacet.metrics[].timestamp: must carry a time zone"),
    ("metrics hold a dict", lambda: CrosslineMetricsRunFacet(metrics=[{"name": "auc", "value": 0.8}]),
     "CrosslineMetricsRunFacet.metrics: item 0 must be a CrosslineMetric"),
    # model package
    ("package arn empty", lambda: package(arn=""), "CrosslineModelPackageDatasetFacet.arn: must not be empty"),
    ("package arn not an ARN", lambda: package(arn="credit-xgb/73"), "CrosslineModelPackageDatasetFacet.arn: not an ARN"),
    ("package arn of a group", lambda: package(arn=f"{SM}:model-package-group/credit-xgb"),
     "CrosslineModelPackageDatasetFacet.arn: must be a model-package ARN"),
    ("package arn of another version", lambda: package(version=74),
     "CrosslineModelPackageDatasetFacet.arn: '" + PACKAGE + "' is not version 74"),
    ("package version zero", lambda: package(version=0),
     "CrosslineModelPackageDatasetFacet.version: must be an integer >= 1"),
    ("package status lower-case", lambda: package(approvalStatus="approved"),
     "CrosslineModelPackageDatasetFacet.approvalStatus: must be one of"),
    ("package model data not S3", lambda: package(modelDataUrl="https://example.com/model.tar.gz"),
     "CrosslineModelPackageDatasetFacet.modelDataUrl: no OpenLineage naming rule"),
    ("package model data a bucket", lambda: package(modelDataUrl="s3://credit/"),
     "CrosslineModelPackageDatasetFacet.modelDataUrl: S3 URI names a bucket but no key"),
    # approval
    ("approval naive datetime", lambda: approval(decisionTime=NAIVE),
     "CrosslineApprovalRunFacet.decisionTime: must carry a time zone, got naive"),
    ("approval naive string", lambda: approval(decisionTime="2027-03-08T09:42:00"),
     "CrosslineApprovalRunFacet.decisionTime: must carry a time zone"),
    ("approval time not a time", lambda: approval(decisionTime="last Tuesday"),
     "CrosslineApprovalRunFacet.decisionTime: is not an ISO 8601 time"),
    ("approval time a number", lambda: approval(decisionTime=1804412520),
     "CrosslineApprovalRunFacet.decisionTime: must be a datetime or ISO 8601 string"),
    ("approval without approver", lambda: approval(approverUserProfileName=None),
     "CrosslineApprovalRunFacet: an approver is required"),
    ("approver ARN not IAM", lambda: approval(approverIamArn=f"{SM}:user-profile/d-1/risk-ops"),
     "CrosslineApprovalRunFacet.approverIamArn: must be a iam or sts ARN"),
    ("approver ARN not an ARN", lambda: approval(approverIamArn="risk-ops@company.com"),
     "CrosslineApprovalRunFacet.approverIamArn: not an ARN"),
    ("approval status unknown", lambda: approval(status="Deployed"), "CrosslineApprovalRunFacet.status: must be one of"),
    ("approval package empty", lambda: approval(modelPackageArn=""),
     "CrosslineApprovalRunFacet.modelPackageArn: must not be empty"),
    # deployment
    ("deployment endpoint arn empty", lambda: deployment(endpointArn=""),
     "CrosslineDeploymentRunFacet.endpointArn: must not be empty"),
    ("deployment endpoint arn of a config", lambda: deployment(endpointArn=f"{SM}:endpoint-config/credit-prod"),
     "CrosslineDeploymentRunFacet.endpointArn: must be a endpoint ARN"),
    ("deployment endpoint name contradicts ARN", lambda: deployment(endpointName="credit-staging"),
     "CrosslineDeploymentRunFacet.endpointName: 'credit-staging' is not the endpoint of"),
    ("deployment naive time", lambda: deployment(deployedTime=NAIVE),
     "CrosslineDeploymentRunFacet.deployedTime: must carry a time zone"),
    ("deployment variant missing", lambda: deployment(variantName=None),
     "CrosslineDeploymentRunFacet.variantName: must be a string, got NoneType"),
    # feature snapshot
    ("snapshot store not S3", lambda: snapshot(offlineStoreUri="credit-features/accounts"),
     "CrosslineFeatureSnapshotDatasetFacet.offlineStoreUri: no OpenLineage naming rule"),
    ("snapshot store an S3 ARN", lambda: snapshot(offlineStoreUri="arn:aws:s3:::credit-features/accounts"),
     "CrosslineFeatureSnapshotDatasetFacet.offlineStoreUri: must be an s3:// URI"),
    ("snapshot version empty", lambda: snapshot(version=""),
     "CrosslineFeatureSnapshotDatasetFacet.version: must not be empty"),
    ("snapshot group ARN of another group", lambda: snapshot(featureGroupArn=f"{SM}:feature-group/behaviour"),
     "CrosslineFeatureSnapshotDatasetFacet.featureGroupName: 'accounts' is not the feature group of"),
    ("snapshot group ARN malformed", lambda: snapshot(featureGroupArn="arn:aws:sagemaker:eu-west-1:123:feature-group/a"),
     "CrosslineFeatureSnapshotDatasetFacet.featureGroupArn: not an ARN"),
]


@pytest.mark.parametrize(("build", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_values_are_refused_at_construction(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidEvent, match=re.escape(message)):
        build()


def test_setting_a_malformed_value_later_is_refused_too() -> None:
    facet = package()
    with pytest.raises(InvalidEvent, match=re.escape("CrosslineModelPackageDatasetFacet.version")):
        facet.version = 0
    with pytest.raises(InvalidEvent, match=re.escape("CrosslineApprovalRunFacet.decisionTime")):
        approval().decisionTime = NAIVE  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2027-03-08T09:42:00Z", "2027-03-08T09:42:00Z"),
        ("2027-03-08T10:42:00+01:00", "2027-03-08T09:42:00Z"),
        ("2027-03-08T09:42:00.250000+00:00", "2027-03-08T09:42:00.250000Z"),
    ],
)
def test_times_are_stored_as_utc(given: str, stored: str) -> None:
    assert approval(decisionTime=given).decisionTime == stored


def test_sagemaker_spelling_of_names_is_accepted() -> None:
    """AWS lower-cases names in ARNs; the facet keeps the name as given and still matches."""
    facet = job(arn=f"{SM}:training-job/credit-xgb-2027w10-a3c7", name="credit-xgb-2027W10-a3c7")
    assert facet.name == "credit-xgb-2027W10-a3c7"


def test_arns_join_names_whatever_their_case() -> None:
    """AWS lower-cases names in most SageMaker ARNs, but not all APIs (nor moto) do."""
    from crossline.emitters.facets import CrosslineSagemakerJobRunFacet

    facet = CrosslineSagemakerJobRunFacet(
        arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/credit-xgb-2027W10-a3c7",
        name="credit-xgb-2027W10-a3c7",
        kind="training",
    )
    assert facet.name == "credit-xgb-2027W10-a3c7"
