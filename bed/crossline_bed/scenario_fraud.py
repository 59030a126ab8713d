"""The second story: a payments team's fraud scorer, on the bed, with nothing of crossline's conventions.

Contract: ``play_fraud_story(aws, airflow_home, marquez_url, mlflow, workdir, namespace)``
plays the story once on its own moto server and MLflow server and returns a
``PlayedFraudStory`` (its clients, the DAG run, the MLflow run, the capture URI, the
audit files). ``FraudBed.client(service)`` is a boto3 client of the team's account in
eu-west-1. Every name, time and expected answer is listed in ``tests/STORY2.md``; the
constants below are the source of truth for them.

The team (account 210987654321, region eu-west-1, reached by assuming
``fraud-ml`` from the bed's default account, as a cross-account team would):

- Glue Data Catalog: ``fraud_raw.card_transactions`` (partitioned by ``dt``, two
  partitions, one update so it has two table versions), ``fraud_curated.transactions_daily``,
  and ``fraud_features.{transactions,merchants,devices}``, the tables Feature Store
  registers for the three feature groups ``fraud-transactions``, ``fraud-merchants``,
  ``fraud-devices`` (offline stores under ``s3://fraud-features-eu/offline``).
- The DAG ``fraud_scoring_weekly`` (``crossline_bed/story_dags/fraud_scoring.py``) runs a
  Glue curation job, the SageMaker Pipeline ``fraud-train`` (``crossline_bed.fraud_pipeline``),
  links the MLflow run to the package, waits for approval, deploys
  ``fraud-scoring-prod`` with data capture, promotes the MLflow version to ``champion``.
- While the pipeline trains, the training script's MLflow run is logged (the bed runs
  no container). After the change board, the release role ``fraud-release`` (session
  ``release-pipeline``) approves the package in the registry; the manual audit log says
  who decided (``j.martin@acme-payments.example``) and who wrote it down
  (``a.kowalski@acme-payments.example``), and also holds a row that conflicts with the
  registry (version 11 "Approved", rejected in the registry) for the manual source's
  "a system's record wins; the conflict is reported" rule.
- ``txn-55012`` is scored on 12 April 2027 and captured.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3

from crossline_bed import audit_log, fraud_pipeline
from crossline_bed.airflow import AirflowBed, DagRunResult
from crossline_bed.aws import TEST_ENV
from crossline_bed.errors import BedError
from crossline_bed.feature_store import write_offline_records

DAG_ID = "fraud_scoring_weekly"
DAGS = Path(__file__).resolve().parent / "story_dags"
ACCOUNT, REGION = "210987654321", "eu-west-1"
TEAM_ROLE, RELEASE_ROLE, RELEASE_SESSION = "fraud-ml", "fraud-release", "release-pipeline"
BUCKETS = ("fraud-raw-eu", "fraud-features-eu", "fraud-ml-eu", "fraud-code-eu", "fraud-audit-eu")
PIPELINE, GROUP, ENDPOINT, MLFLOW_MODEL = "fraud-train", "fraud-scorer", "fraud-scoring-prod", "fraud-scorer"
FEATURE_GROUPS = {"fraud-transactions": "transactions", "fraud-merchants": "merchants", "fraud-devices": "devices"}
FEATURE_DB, BLOCKLIST = "fraud_features", "s3://fraud-ml-eu/policy/blocked-merchants-2027-04.csv"
EARLIER_VERSIONS, WEEK = 11, "2027-W14"
DECIDER, RECORDER, TICKET = "j.martin@acme-payments.example", "a.kowalski@acme-payments.example", "FRAUD-CAB-2291"
INFERENCE_ID = "txn-55012"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


TIMES = {
    "seed": utc("2027-04-01T08:00:00Z"),
    "features_written": utc("2027-04-05T02:00:00Z"),
    "dag_start": utc("2027-04-05T03:00:00Z"),
    "decided": utc("2027-04-09T13:30:00Z"),
    "approved": utc("2027-04-09T14:05:00Z"),
    "recorded": utc("2027-04-09T16:20:00Z"),
    "inference": utc("2027-04-12T18:22:07Z"),
    "exported": utc("2027-04-13T06:00:00Z"),
}
LOGICAL_DATE = utc("2027-04-05T03:00:00Z")


def audit_records(package_arn: str, rejected_arn: str) -> list[audit_log.AuditRecord]:
    """The manual audit log: the approval behind the release role, a conflicting row, the blocklist's sign-off."""
    return [
        audit_log.AuditRecord("AUD-0412", "2027-04-09T16:20:00Z", RECORDER, package_arn, "model_approval", "Approved",
                              DECIDER, "2027-04-09T13:30:00Z", TICKET,
                              "Model risk committee approved; applied in the registry by the fraud-release role"),
        audit_log.AuditRecord("AUD-0398", "2027-03-31T09:10:00Z", RECORDER, rejected_arn, "model_approval", "Approved",
                              DECIDER, "2027-03-30T15:00:00Z", "FRAUD-CAB-2240", "Entered before the registry rejection"),
        audit_log.AuditRecord("AUD-0405", "2027-04-02T11:00:00Z", "compliance@acme-payments.example", BLOCKLIST,
                              "exclusion_list_approval", "Approved", "l.weber@acme-payments.example",
                              "2027-04-02T10:45:00Z", "COMP-118"),
    ]


@dataclass
class FraudBed:
    aws: Any  # crossline_bed.aws.MotoServer
    credentials: dict[str, str] = field(default_factory=dict)

    def client(self, service: str, **credentials: str) -> Any:
        creds = credentials or self.credentials
        return boto3.client(service, endpoint_url=self.aws.endpoint_url, region_name=REGION,
                            aws_access_key_id=creds["key"], aws_secret_access_key=creds["secret"],
                            aws_session_token=creds["token"])

    def assume(self, role: str, session: str) -> dict[str, str]:
        sts = boto3.client("sts", endpoint_url=self.aws.endpoint_url, region_name=REGION,
                           **{k.lower(): v for k, v in TEST_ENV.items() if k != "AWS_DEFAULT_REGION"})
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=session)["Credentials"]
        return {"key": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"]}

    def seed(self) -> None:
        self.aws.set_clock(TIMES["seed"])
        self.credentials = self.assume(TEAM_ROLE, "fraud-platform")
        s3, glue, iam, sm = (self.client(s) for s in ("s3", "glue", "iam", "sagemaker"))
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        for role in (TEAM_ROLE, RELEASE_ROLE):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        s3.put_object(Bucket="fraud-raw-eu", Key="card_transactions/dt=2027-04-03/part-0.parquet", Body=b"raw 2027-04-03")
        s3.put_object(Bucket="fraud-raw-eu", Key="card_transactions/dt=2027-04-04/part-0.parquet", Body=b"raw 2027-04-04")
        s3.put_object(Bucket="fraud-code-eu", Key="glue/curate_transactions.py", Body=b"# curates card transactions\n")
        s3.put_object(Bucket="fraud-ml-eu", Key="policy/blocked-merchants-2027-04.csv", Body=b"merchant_id,reason\nM-7731,chargebacks\n")
        columns = [{"Name": "txn_id", "Type": "string"}, {"Name": "amount", "Type": "double"}, {"Name": "merchant_id", "Type": "string"}]
        for database in ("fraud_raw", "fraud_curated"):
            glue.create_database(DatabaseInput={"Name": database})
        raw = {"Name": "card_transactions", "PartitionKeys": [{"Name": "dt", "Type": "string"}], "TableType": "EXTERNAL_TABLE",
               "StorageDescriptor": {"Columns": columns, "Location": "s3://fraud-raw-eu/card_transactions/"}}
        glue.create_table(DatabaseName="fraud_raw", TableInput=raw)
        raw["StorageDescriptor"]["Columns"] = [*columns, {"Name": "device_id", "Type": "string"}]
        glue.update_table(DatabaseName="fraud_raw", TableInput=raw)  # a second table version
        for day in ("2027-04-03", "2027-04-04"):
            glue.create_partition(DatabaseName="fraud_raw", TableName="card_transactions", PartitionInput={
                "Values": [day], "StorageDescriptor": {"Columns": columns, "Location": f"s3://fraud-raw-eu/card_transactions/dt={day}/"}})
        glue.create_table(DatabaseName="fraud_curated", TableInput={"Name": "transactions_daily", "TableType": "EXTERNAL_TABLE",
                          "StorageDescriptor": {"Columns": columns, "Location": "s3://fraud-ml-eu/curated/transactions_daily/"}})
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{TEAM_ROLE}"
        stores = {}
        for group, table in FEATURE_GROUPS.items():
            sm.create_feature_group(
                FeatureGroupName=group, RecordIdentifierFeatureName="entity_id", EventTimeFeatureName="event_time",
                FeatureDefinitions=[{"FeatureName": "entity_id", "FeatureType": "String"}, {"FeatureName": "event_time", "FeatureType": "String"},
                                    {"FeatureName": f"{table}_risk", "FeatureType": "Fractional"}],
                OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://fraud-features-eu/offline"},
                                    "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": FEATURE_DB, "TableName": table}},
                RoleArn=role_arn, Description=f"Fraud features: {table}",
            )
            stores[group] = sm.describe_feature_group(FeatureGroupName=group)["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
        sm.create_model_package_group(ModelPackageGroupName=GROUP, ModelPackageGroupDescription="Card fraud scorer")
        for version in range(1, EARLIER_VERSIONS + 1):
            sm.create_model_package(
                ModelPackageGroupName=GROUP, ModelPackageDescription=f"Fraud scorer, earlier version {version}",
                ModelApprovalStatus="Rejected", InferenceSpecification={
                    "Containers": [{"Image": fraud_pipeline.TRAINING_IMAGE, "ModelDataUrl": f"s3://fraud-ml-eu/models/history/v{version}/model.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
            )
        sm.create_pipeline(PipelineName=PIPELINE, RoleArn=role_arn, PipelineDefinition=fraud_pipeline.definition(
            role_arn=role_arn, offline_stores=stores, blocklist=BLOCKLIST, data_bucket="fraud-ml-eu", package_group=GROUP))

    def ingest_features(self) -> dict[str, list[str]]:
        """Feature Store's offline ingestion for the week: one Parquet file per group and hour."""
        self.aws.set_clock(TIMES["features_written"])
        s3, sm = self.client("s3"), self.client("sagemaker")
        written = {}
        for group, table in FEATURE_GROUPS.items():
            records = [{"entity_id": f"{table[:3]}-{i}", "event_time": f"2027-04-04T2{i}:15:00Z", f"{table}_risk": 0.1 * (i + 1)}
                       for i in range(3)]
            written[group] = write_offline_records(s3, sm, group, records, written_at=TIMES["features_written"])
        return written


@dataclass
class PlayedFraudStory:
    bed: FraudBed
    namespace: str
    run: DagRunResult
    mlflow_url: str
    mlflow_run_id: str
    execution_arn: str
    package_arn: str
    capture: str
    features: dict[str, list[str]]
    audit_csv: Path
    audit_export: Path
    audit_root: Path
    wall_seconds: float = 0.0


def _watch(what: str, outcome: dict[str, Any], running: Any, check: Callable[[], bool], timeout: float = 600) -> threading.Thread:
    def loop() -> None:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and running.proc.poll() is None:
                if check():
                    return
                time.sleep(0.5)
        except Exception as err:  # raised by play_fraud_story once the DAG has finished
            outcome[f"{what} error"] = err

    thread = threading.Thread(target=loop, daemon=True, name=what)
    thread.start()
    return thread


def play_fraud_story(aws: Any, airflow_home: Path, marquez_url: str | None, mlflow_url: str, workdir: Path, namespace: str) -> PlayedFraudStory:
    """Seed, ingest, run the week's DAG (training run logged, approval given), score one transaction, export the audit log."""
    from crossline_bed.data_capture import record_inference

    bed = FraudBed(aws)
    bed.seed()
    features = bed.ingest_features()
    creds = bed.credentials
    airflow = AirflowBed(airflow_home, DAGS, marquez_url=marquez_url, aws_endpoint_url=aws.endpoint_url, namespace=namespace,
                         extra_env={
                             "AWS_ACCESS_KEY_ID": creds["key"], "AWS_SECRET_ACCESS_KEY": creds["secret"],
                             "AWS_SESSION_TOKEN": creds["token"], "AWS_DEFAULT_REGION": REGION, "MLFLOW_TRACKING_URI": mlflow_url,
                             "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "extra": {"endpoint_url": aws.endpoint_url, "region_name": REGION}}),
                         })
    aws.set_clock(TIMES["dag_start"])
    sm = bed.client("sagemaker")
    running = airflow.start_dag(DAG_ID, logical_date=LOGICAL_DATE, conf={"week": WEEK})
    found: dict[str, Any] = {}

    def training_started() -> bool:  # the training script logs to MLflow while its job runs
        executions = sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
        if not executions:
            return False
        arn = executions[0]["PipelineExecutionArn"]
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
        job_arn = next((s["Metadata"]["TrainingJob"]["Arn"] for s in steps if "TrainingJob" in s.get("Metadata", {})), None)
        if job_arn is None:
            return False
        job = sm.describe_training_job(TrainingJobName=job_arn.rsplit("/", 1)[1])
        found["execution_arn"] = arn
        found["run_id"] = fraud_pipeline.log_training_run(mlflow_url, job, arn, WEEK, job["TrainingStartTime"])
        return True

    def linked_then_approved() -> bool:  # the release role approves once the change board has decided
        page = sm.list_model_packages(ModelPackageGroupName=GROUP, SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
        newest = page["ModelPackageSummaryList"][0]
        if int(newest["ModelPackageVersion"]) <= EARLIER_VERSIONS:
            return False
        package = sm.describe_model_package(ModelPackageName=newest["ModelPackageArn"])
        if "mlflow.run_id" not in package.get("CustomerMetadataProperties", {}):
            return False
        aws.set_clock(TIMES["approved"])
        release = bed.client("sagemaker", **bed.assume(RELEASE_ROLE, RELEASE_SESSION))
        release.update_model_package(ModelPackageArn=newest["ModelPackageArn"], ModelApprovalStatus="Approved",
                                     ApprovalDescription=f"Change board {TICKET}; see the audit log")
        found["package_arn"] = newest["ModelPackageArn"]
        return True

    outcome: dict[str, Any] = {}
    watchers = [_watch("trainer", outcome, running, training_started), _watch("release", outcome, running, linked_then_approved)]
    result = running.wait(900)
    for watcher in watchers:
        watcher.join(timeout=60)
    errors = [e for k, e in outcome.items() if k.endswith("error")]
    if errors or result.state != "success":
        raise BedError(f"the fraud story's DAG ended {result.state} ({errors!r}):\n{result.log[-3000:]}")

    aws.set_clock(TIMES["inference"])
    capture = record_inference(bed.client("s3"), sm, ENDPOINT, INFERENCE_ID, TIMES["inference"],
                               "55012,249.90,M-2207,0.61,D-88", "0.91")
    rejected = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{EARLIER_VERSIONS}"
    records = audit_records(found["package_arn"], rejected)
    audit_root = workdir / "audit"
    csv_path = audit_log.write_csv(records, audit_root / "fraud-audit-log.csv")
    export = audit_log.write_dynamodb_export(
        records, audit_root, table_arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/fraud-audit-log",
        bucket="fraud-audit-eu", prefix="exports", export_time=TIMES["exported"])
    aws.set_clock(TIMES["exported"])
    audit_log.upload(export, audit_root, bed.client("s3"), "fraud-audit-eu")
    bed.client("s3").put_object(Bucket="fraud-audit-eu", Key="csv/fraud-audit-log.csv", Body=csv_path.read_bytes())
    return PlayedFraudStory(bed, namespace, result, mlflow_url, found["run_id"], found["execution_arn"], found["package_arn"],
                            capture, features, csv_path, export, audit_root)
