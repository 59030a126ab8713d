"""The credit-scoring story of SCENARIO.md, played on the local bed.

Contract: ``CreditBed`` drives the bed the way the world around the pipeline would:
``seed()`` creates what exists before the story starts (versioned buckets, raw data, the
Glue scripts, the exclusion list, the IAM roles, and the model package group's 72 earlier
versions, so that the story's first registration is version 73); ``run_week()`` runs the
real ``dags/credit_retraining.py`` through Airflow for one week and, while its approval
sensor waits, approves the new package in the Model Registry as ``risk-ops@company.com``
(an assumed-role session, as a person at a bank would act) and hands the registry's
EventBridge event to crossline's approval emitter; ``infer()`` records an endpoint
invocation in data capture, as SageMaker would.

Nothing here writes lineage by hand: lineage comes from Airflow's OpenLineage provider
with crossline's extractors, from the approval emitter, and from SageMaker's own
(emulated) lineage. The AWS side's clock is the bed's: each step sets it to the story's
time, so SageMaker's records carry March 2027. Airflow's own event times are the
machine's: they say when lineage was emitted, not when the story happened.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3

from crossline_bed.airflow import AirflowBed, DagRunResult
from crossline_bed.aws import TEST_ENV
from crossline_bed.errors import BedError

DAG_ID = "credit_retraining"
ACCOUNT = "123456789012"
APPROVER_ROLE = "risk-ops"
APPROVER = "risk-ops@company.com"
GROUP = "credit-xgb"
EARLIER_VERSIONS = 72
BUCKETS = ("credit-raw", "credit-features", "credit", "credit-code", "policy")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class Week:
    """One weekly run of the story: when it runs, and when risk approves its model."""

    week: str
    logical_date: datetime
    starts_at: datetime
    approved_at: datetime
    approval_note: str


@dataclass(frozen=True)
class Inference:
    inference_id: str
    at: datetime
    features: str
    score: str


STORY_WEEKS = (
    Week("2027-W10", utc("2027-03-06T01:00:00Z"), utc("2027-03-06T03:13:00Z"), utc("2027-03-08T09:42:00Z"),
         "Validated by model risk: AUC and KS within policy; ticket MR-311"),
    Week("2027-W11", utc("2027-03-13T01:00:00Z"), utc("2027-03-13T03:13:00Z"), utc("2027-03-15T08:55:00Z"),
         "Validated by model risk; ticket MR-318"),
)
STORY_INFERENCES = (
    Inference("loan-8231", utc("2027-03-12T10:14:03Z"), "8231,41,52000,0.38,3", "0.83"),
    Inference("loan-9120", utc("2027-03-16T11:02:40Z"), "9120,29,31000,0.52,1", "0.22"),
)


@dataclass
class CreditBed:
    """The story's world on the bed: AWS (moto server + extensions), Airflow and Marquez."""

    aws: Any  # crossline_bed.aws.MotoServer: endpoint_url, set_clock()
    airflow: AirflowBed
    conf: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, **credentials: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws.endpoint_url,
            region_name=TEST_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=credentials.get("key", TEST_ENV["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=credentials.get("secret", TEST_ENV["AWS_SECRET_ACCESS_KEY"]),
            aws_session_token=credentials.get("token", TEST_ENV["AWS_SESSION_TOKEN"]),
        )

    # -- before the story -----------------------------------------------------------------
    def seed(self, at: datetime = utc("2027-03-01T08:00:00Z")) -> None:
        self.aws.set_clock(at)
        s3, iam, sm = self.client("s3"), self.client("iam"), self.client("sagemaker")
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="credit-raw", Key="accounts/part-00000.csv", Body=b"id,age,income,utilisation\n8231,41,52000,0.38\n")
        s3.put_object(Bucket="credit-raw", Key="behaviour/part-00000.csv", Body=b"id,late_payments_12m\n8231,3\n")
        for group in ("accounts", "behaviour"):
            s3.put_object(Bucket="credit-code", Key=f"glue/features_{group}.py", Body=f"# builds the {group} feature snapshot\n".encode())
        s3.put_object(Bucket="policy", Key="excl-v14.csv", Body=b"id,reason\n1044,fraud-hold\n5521,deceased\n")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
        for role in ("credit-ml", APPROVER_ROLE):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        sm.create_model_package_group(ModelPackageGroupName=GROUP, ModelPackageGroupDescription="Credit scoring XGBoost")
        for version in range(1, EARLIER_VERSIONS + 1):
            sm.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelPackageDescription=f"Credit XGBoost, earlier version {version}",
                ModelApprovalStatus="Rejected",
                InferenceSpecification={
                    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                                    "ModelDataUrl": f"s3://credit/models/history/v{version}/model.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )

    # -- the weekly run ---------------------------------------------------------------------
    def run_week(self, week: Week, *, emit: Callable[[Any], None], timeout: float = 600) -> DagRunResult:
        """Run the DAG for ``week``; approve its package when the sensor waits for it."""
        self.aws.set_clock(week.starts_at)
        sm = self.client("sagemaker")
        known = self._latest_version(sm)
        running = self.airflow.start_dag(DAG_ID, logical_date=week.logical_date, conf={**self.conf, "week": week.week})
        outcome: dict[str, Any] = {}
        approver = threading.Thread(
            target=self._approve_when_registered, args=(known, week, emit, running, outcome), daemon=True, name="risk-ops"
        )
        approver.start()
        result = running.wait(timeout)
        approver.join(timeout=60)
        if "error" in outcome:
            raise BedError(f"risk-ops could not approve week {week.week}: {outcome['error']!r}") from outcome["error"]
        return result

    def _latest_version(self, sm: Any) -> int:
        page = sm.list_model_packages(ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
        summaries = page["ModelPackageSummaryList"]
        return int(summaries[0]["ModelPackageVersion"]) if summaries else 0

    def _approve_when_registered(
        self, known: int, week: Week, emit: Callable[[Any], None], running: Any, outcome: dict[str, Any]
    ) -> None:
        """risk-ops watches the registry; a failure is kept for ``run_week`` to raise."""
        try:
            sm = self.client("sagemaker")
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and running.proc.poll() is None:
                page = sm.list_model_packages(ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
                newest = page["ModelPackageSummaryList"][0]
                if int(newest["ModelPackageVersion"]) > known and newest["ModelApprovalStatus"] == "PendingManualApproval":
                    outcome["event"] = self.approve(newest["ModelPackageArn"], week.approved_at, week.approval_note, emit)
                    return
                time.sleep(0.5)
        except Exception as err:  # surfaced by run_week, after the DAG has finished
            outcome["error"] = err

    def approve(self, package_arn: str, at: datetime, note: str, emit: Callable[[Any], None]) -> dict[str, Any]:
        """risk-ops approves in the registry; EventBridge's event goes to the approval emitter."""
        self.aws.set_clock(at)
        role = self.client("iam").get_role(RoleName=APPROVER_ROLE)["Role"]["Arn"]
        creds = self.client("sts").assume_role(RoleArn=role, RoleSessionName=APPROVER)["Credentials"]
        approver = self.client("sagemaker", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
        approver.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved", ApprovalDescription=note)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": at.isoformat().replace("+00:00", "Z"),
            "region": TEST_ENV["AWS_DEFAULT_REGION"],
            "resources": [package_arn],
            "detail": {"ModelPackageArn": package_arn, "ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved"},
        }
        emit(event)
        return event

    # -- after deployment -------------------------------------------------------------------
    def infer(self, inference: Inference, endpoint: str = "credit-prod") -> str:
        """The endpoint serves one request at the story's time; data capture records it."""
        from crossline_bed.data_capture import record_inference

        self.aws.set_clock(inference.at)
        return record_inference(
            self.client("s3"), self.client("sagemaker"), endpoint, inference.inference_id, inference.at,
            inference.features, inference.score,
        )


def approval_emitter(sagemaker_client: Any, openlineage_client: Any, namespace: str) -> Callable[[dict[str, Any]], None]:
    """What EventBridge invokes on the bed: crossline's approval handler, with the bed's clients."""
    from crossline.emitters.approval import handle

    def emit(event: dict[str, Any]) -> None:
        handle(event, sagemaker_client=sagemaker_client, client=openlineage_client, namespace=namespace)

    return emit


@dataclass
class PlayedStory:
    """What the two weeks left behind: the bed, the runs, and where each inference was captured."""

    bed: CreditBed
    namespace: str
    runs: dict[str, DagRunResult] = field(default_factory=dict)
    captures: dict[str, str] = field(default_factory=dict)


def play_story(aws: Any, airflow: AirflowBed, namespace: str) -> PlayedStory:
    """SCENARIO.md's two weeks: W10, loan-8231 on 12 March, W11 with the swap, loan-9120.

    The approval emitter reports to the same destinations as the DAG's events.
    """
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.composite import CompositeConfig, CompositeTransport

    bed = CreditBed(aws, airflow)
    bed.seed()
    lineage = OpenLineageClient(transport=CompositeTransport(CompositeConfig.from_dict(airflow.transport_config())))
    emit = approval_emitter(bed.client("sagemaker"), lineage, namespace)
    played = PlayedStory(bed, namespace)
    (w10, w11), (loan_8231, loan_9120) = STORY_WEEKS, STORY_INFERENCES
    for week, inference in ((w10, loan_8231), (w11, loan_9120)):
        result = bed.run_week(week, emit=emit)
        if result.state != "success":
            raise BedError(f"the {week.week} run of {DAG_ID} ended {result.state}:\n{result.log[-3000:]}")
        played.runs[week.week] = result
        played.captures[inference.inference_id] = bed.infer(inference)
    return played
