"""dags/credit_retraining.py is a template: another team's names and three feature groups, unchanged.

Every name comes from the run's conf except the endpoint, which comes from the Airflow
Variable ``credit_retraining_settings`` (a deployment's own setting); the conf wins over
the Variable where both name a setting. The Glue task is mapped over the three groups
when the run starts.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from crossline_bed.airflow import AirflowBed
from crossline_bed.aws import TEST_ENV, MotoServer
from crossline_bed.marquez import MarquezState
from crossline_bed.scenario import STORY_WEEKS

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
GROUPS = ["applicants", "bureau", "transactions"]
CONF = {
    "week": "2027-W10",
    "raw_bucket": "lending-raw",
    "feature_bucket": "lending-features",
    "data_bucket": "lending",
    "code_bucket": "lending-code",
    "exclusion_list": "s3://compliance/blocklist-v3.csv",
    "feature_groups": GROUPS,
    "feature_job_prefix": "fs_",
    "assemble_job_prefix": "lending-assemble",
    "train_job_prefix": "lending-gbm",
    "evaluate_job_prefix": "lending-evaluate",
    "model_package_group": "lending-gbm",
    "package_description": "Lending GBM",
    "role_arn": f"arn:aws:iam::{ACCOUNT}:role/lending-ml",
    "hyperparameters": {"max_depth": "4", "eta": "0.3", "num_round": "120", "objective": "binary:logistic"},
    "code_repo": "github.com/acme/lending-ml",
    "code_commit": "77c0de1",
}
VARIABLE = {"endpoint": "lending-prod", "data_bucket": "not-this-one"}


def _client(moto: MotoServer, service: str):
    import boto3

    keys = {k.lower(): v for k, v in TEST_ENV.items() if k != "AWS_DEFAULT_REGION"}
    return boto3.client(service, endpoint_url=moto.endpoint_url, region_name="us-east-1", **keys)


def _seed(moto: MotoServer) -> None:
    s3, sm = _client(moto, "s3"), _client(moto, "sagemaker")
    for bucket in ("lending-raw", "lending-features", "lending", "lending-code", "compliance"):
        s3.create_bucket(Bucket=bucket)
    for group in GROUPS:
        s3.put_object(Bucket="lending-raw", Key=f"{group}/part-0.csv", Body=f"{group}\n".encode())
        s3.put_object(Bucket="lending-code", Key=f"glue/fs_{group}.py", Body=b"# feature job\n")
    s3.put_object(Bucket="compliance", Key="blocklist-v3.csv", Body=b"id\n1\n")
    sm.create_model_package_group(ModelPackageGroupName="lending-gbm")


def _approve_when_registered(moto: MotoServer, done: threading.Event) -> None:
    sm = _client(moto, "sagemaker")
    while not done.is_set():
        packages = sm.list_model_packages(ModelPackageGroupName="lending-gbm")["ModelPackageSummaryList"]
        if packages:
            sm.update_model_package(ModelPackageArn=packages[0]["ModelPackageArn"], ModelApprovalStatus="Approved")
            return
        time.sleep(0.5)


def test_the_dag_runs_with_other_names_and_three_feature_groups(tmp_path: Path, moto_server: MotoServer, marquez: MarquezState) -> None:
    moto_server.reset()
    _seed(moto_server)
    moto_server.set_clock(STORY_WEEKS[0].starts_at)
    airflow = AirflowBed(tmp_path / "airflow", REPO / "dags", marquez_url=marquez.url, aws_endpoint_url=moto_server.endpoint_url,
                         namespace=f"lending-{uuid.uuid4().hex[:8]}",
                         extra_env={"AIRFLOW_VAR_CREDIT_RETRAINING_SETTINGS": json.dumps(VARIABLE)})
    done = threading.Event()
    approver = threading.Thread(target=_approve_when_registered, args=(moto_server, done), daemon=True)
    approver.start()
    try:
        result = airflow.run_dag("credit_retraining", logical_date=STORY_WEEKS[0].logical_date, conf=CONF)
    finally:
        done.set()
        approver.join(timeout=30)

    assert result.state == "success", result.log[-3000:]
    assert {k: v for k, v in result.task_states.items() if k.startswith("features")} == {
        f"features[{g}]": "success" for g in GROUPS
    }
    outputs = {
        f"{d['namespace']}/{d['name']}"
        for e in result.task_events("features") if e["eventType"] == "COMPLETE" for d in e.get("outputs", [])
    }
    assert outputs == {f"s3://lending-features/{g}/2027-W10" for g in GROUPS}

    sm, glue = _client(moto_server, "sagemaker"), _client(moto_server, "glue")
    assert sorted(glue.list_jobs()["JobNames"]) == [f"fs_{g}" for g in GROUPS]
    (training,) = sm.list_training_jobs()["TrainingJobSummaries"]
    assert training["TrainingJobName"].startswith("lending-gbm-2027W10-")
    job = sm.describe_training_job(TrainingJobName=training["TrainingJobName"])
    assert job["HyperParameters"] == CONF["hyperparameters"]
    assert job["ModelArtifacts"]["S3ModelArtifacts"].startswith("s3://lending/models/lending-gbm-2027W10-")
    names = sorted(p["ProcessingJobName"] for p in sm.list_processing_jobs()["ProcessingJobSummaries"])
    assert [n.rsplit("-", 2)[0] for n in names] == ["lending-assemble", "lending-evaluate"]
    assemble = next(p for p in sm.list_processing_jobs()["ProcessingJobSummaries"] if p["ProcessingJobName"].startswith("lending-assemble"))
    inputs = sm.describe_processing_job(ProcessingJobName=assemble["ProcessingJobName"])["ProcessingInputs"]
    assert [i["S3Input"]["S3Uri"] for i in inputs] == [*(f"s3://lending-features/{g}/2027-W10/" for g in GROUPS), "s3://compliance/blocklist-v3.csv"]
    (package,) = sm.list_model_packages(ModelPackageGroupName="lending-gbm")["ModelPackageSummaryList"]
    assert sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])["ModelPackageDescription"] == "Lending GBM, week 2027-W10"
    endpoint = sm.describe_endpoint(EndpointName="lending-prod")  # the Variable's endpoint
    assert endpoint["EndpointConfigName"] == "lending-prod-v1"
    assert sm.describe_endpoint_config(EndpointConfigName="lending-prod-v1")["DataCaptureConfig"]["DestinationS3Uri"] == "s3://lending/datacapture/"
