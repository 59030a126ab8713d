"""One valid instance of every crossline facet, from the credit-scoring story (SCENARIO.md).

The schema and golden tests are parametrized over ``FACETS`` and ask the ``example``
fixture for an instance; a facet without an example here fails them, so a new facet
cannot skip its checks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from openlineage.client.facet_v2 import BaseFacet

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

SM = "arn:aws:sagemaker:eu-west-1:123456789012"
PACKAGE_ARN = f"{SM}:model-package/credit-xgb/73"

EXAMPLES: dict[str, Callable[[], BaseFacet]] = {
    "crossline_sagemakerJob": lambda: CrosslineSagemakerJobRunFacet(
        arn=f"{SM}:training-job/credit-xgb-2027w10-a3c7",
        name="credit-xgb-2027W10-a3c7",
        kind="training",
        image="141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        instanceType="ml.m5.xlarge",
        instanceCount=1,
    ),
    "crossline_hyperparameters": lambda: CrosslineHyperparametersRunFacet(
        hyperparameters={
            "max_depth": "6",
            "eta": "0.2",
            "num_round": "300",
            "objective": "binary:logistic",
        }
    ),
    "crossline_metrics": lambda: CrosslineMetricsRunFacet(
        metrics=[
            CrosslineMetric(
                name="auc",
                value=0.871,
                kind="evaluation",
                source="s3://credit/eval/2027-W10/evaluation.json",
            ),
            CrosslineMetric(
                name="ks",
                value=0.412,
                kind="evaluation",
                source="s3://credit/eval/2027-W10/evaluation.json",
            ),
            CrosslineMetric(
                name="train:logloss",
                value=0.31,
                kind="training",
                source="FinalMetricDataList",
                step=299,
                timestamp=datetime(2027, 3, 6, 3, 14, tzinfo=timezone.utc),
            ),
        ]
    ),
    "crossline_modelPackage": lambda: CrosslineModelPackageDatasetFacet(
        group="credit-xgb",
        version=73,
        arn=PACKAGE_ARN,
        approvalStatus="PendingManualApproval",
        modelDataUrl="s3://credit/models/credit-xgb-2027W10-a3c7/output/model.tar.gz",
    ),
    "crossline_approval": lambda: CrosslineApprovalRunFacet(
        modelPackageArn=PACKAGE_ARN,
        status="Approved",
        decisionTime="2027-03-08T09:42:00Z",
        approverUserProfileName="risk-ops",
        approverIamArn="arn:aws:sts::123456789012:assumed-role/RiskOps/risk-ops@company.com",
        description="AUC 0.871 on 2027-W10 hold-out; within policy.",
        sourceEventId="5f3c0e2a-9a41-4b8e-b2f4-0c6f3f7d1e21",
        sourceEventType="SageMaker Model Package State Change",
    ),
    "crossline_deployment": lambda: CrosslineDeploymentRunFacet(
        endpointName="credit-prod",
        endpointArn=f"{SM}:endpoint/credit-prod",
        variantName="credit-prod-v73",
        modelName="credit-xgb-73",
        # An offset time is normalized to UTC: 10:05+01:00 is 09:05Z.
        deployedTime=datetime(2027, 3, 8, 10, 5, tzinfo=timezone(timedelta(hours=1))),
        modelPackageArn=PACKAGE_ARN,
        endpointConfigName="credit-prod-v73",
    ),
    "crossline_featureSnapshot": lambda: CrosslineFeatureSnapshotDatasetFacet(
        featureGroupName="accounts",
        version="2027-W10",
        offlineStoreUri="s3://credit-features/accounts/2027-W10/",
        featureGroupArn=f"{SM}:feature-group/accounts",
    ),
}


@pytest.fixture
def example() -> Callable[[str], BaseFacet]:
    """``example(key)`` builds the story's instance of the facet registered under ``key``."""

    def build(key: str) -> BaseFacet:
        assert key in EXAMPLES, f"facet {key} has no example in tests/emitters/facets/conftest.py"
        return EXAMPLES[key]()

    return build
