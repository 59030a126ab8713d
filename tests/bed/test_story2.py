"""The second story (tests/STORY2.md) leaves on the bed what a fraud team's real systems would.

These check the bed's side only: that AWS, MLflow, Airflow's OpenLineage events and the
audit files hold the facts STORY2.md lists, so that the collector sources and the trace
test can be written against them.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone

from crossline_bed import scenario_fraud as s2
from crossline_bed.audit_log import read_dynamodb_export
from crossline.emitters.naming import s3_location

SM = f"arn:aws:sagemaker:{s2.REGION}:{s2.ACCOUNT}"
PACKAGE = f"{SM}:model-package/{s2.GROUP}/12"


def _complete(story2, task: str) -> dict:
    return [e for e in story2.run.task_events(task) if e["eventType"] == "COMPLETE"][-1]


def test_the_dag_runs_every_task_and_the_pipeline_task_declares_its_inputs(story2) -> None:
    print(f"\nstory2 fixture wall time: {story2.wall_seconds:.1f} s")
    assert story2.run.state == "success", story2.run.log[-3000:]
    assert set(story2.run.task_states.values()) == {"success"}
    assert set(story2.run.task_states) == {
        "curate_transactions", "train_pipeline", "link_mlflow", "await_approval", "create_model",
        "create_endpoint_config", "deploy", "promote_in_mlflow",
    }
    event = _complete(story2, "train_pipeline")
    assert event["run"]["facets"]["externalQuery"]["externalQueryId"] == story2.execution_arn
    inputs = {(d["namespace"], d["name"]): d for d in event["inputs"]}
    glue_ns = f"arn:aws:glue:{s2.REGION}:{s2.ACCOUNT}"
    merchants = inputs[(glue_ns, "table/fraud_features/merchants")]
    (link,) = merchants["facets"]["symlinks"]["identifiers"]
    table = story2.bed.client("glue").get_table(DatabaseName="fraud_features", Name="merchants")["Table"]
    assert f"{link['namespace']}/{link['name']}" == table["StorageDescriptor"]["Location"] and link["type"] == "LOCATION"
    s3_inputs = {f"{ns}/{name}" for ns, name in inputs if ns.startswith("s3://")}
    sm = story2.bed.client("sagemaker")
    for group in ("fraud-transactions", "fraud-devices"):
        assert sm.describe_feature_group(FeatureGroupName=group)["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"] in s3_inputs
    assert not any(ns.startswith("s3://") and "merchants" in name for ns, name in inputs)


def test_the_pipeline_execution_links_jobs_trial_package_and_mlflow(story2) -> None:
    sm = story2.bed.client("sagemaker")
    execution = sm.describe_pipeline_execution(PipelineExecutionArn=story2.execution_arn)
    execution_id = story2.execution_arn.rsplit("/", 1)[1]
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    assert execution["PipelineExperimentConfig"] == {"ExperimentName": s2.PIPELINE, "TrialName": execution_id}
    steps = {x["StepName"]: x for x in sm.list_pipeline_execution_steps(PipelineExecutionArn=story2.execution_arn)["PipelineExecutionSteps"]}
    assert steps["RegisterModel"]["Metadata"]["RegisterModel"]["Arn"] == PACKAGE == story2.package_arn
    train_arn = steps["TrainModel"]["Metadata"]["TrainingJob"]["Arn"]
    build_arn = steps["BuildTrainingSet"]["Metadata"]["ProcessingJob"]["Arn"]
    job = sm.describe_training_job(TrainingJobName=train_arn.rsplit("/", 1)[1])
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://fraud-ml-eu/train/{s2.WEEK}/"
    assert {"Key": "sagemaker:pipeline-execution-arn", "Value": story2.execution_arn} in sm.list_tags(ResourceArn=train_arn)["Tags"]
    trial = sm.list_trial_components(TrialName=execution_id)["TrialComponentSummaries"]
    assert {c["TrialComponentSource"]["SourceArn"] for c in trial} == {train_arn, build_arn}
    package = sm.describe_model_package(ModelPackageName=PACKAGE)
    assert package["MetadataProperties"]["GeneratedBy"] == story2.execution_arn
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["LastModifiedBy"]["IamIdentity"]["Arn"] == f"arn:aws:sts::{s2.ACCOUNT}:assumed-role/{s2.RELEASE_ROLE}/{s2.RELEASE_SESSION}"
    assert package["LastModifiedTime"].isoformat().startswith("2027-04-09T14:05")
    assert package["CustomerMetadataProperties"] == {"mlflow.run_id": story2.mlflow_run_id, "mlflow.model_version": f"{s2.MLFLOW_MODEL}/1"}
    rejected = sm.describe_model_package(ModelPackageName=f"{SM}:model-package/{s2.GROUP}/{s2.EARLIER_VERSIONS}")
    assert rejected["ModelApprovalStatus"] == "Rejected"


def test_mlflow_holds_the_training_run_the_model_version_and_its_aliases(story2) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(story2.mlflow_url)
    run = client.get_run(story2.mlflow_run_id)
    assert run.info.run_name == f"train-{s2.WEEK}"
    assert run.data.params == {"max_depth": "8", "eta": "0.1", "num_round": "500", "objective": "binary:logistic", "scale_pos_weight": "25"}
    history = client.get_metric_history(story2.mlflow_run_id, "validation:auc")
    assert [(m.step, m.value) for m in history] == sorted(s2.fraud_pipeline.AUC_BY_ROUND.items())
    (dataset,) = run.inputs.dataset_inputs
    assert json.loads(dataset.dataset.source)["uri"] == f"s3://fraud-ml-eu/train/{s2.WEEK}/"
    assert run.data.tags["sagemaker.training_job_arn"].startswith(f"{SM}:training-job/pipelines-")
    started = datetime.fromtimestamp(run.info.start_time / 1000, timezone.utc)
    assert started.isoformat().startswith("2027-04-05T03:0")  # the training job's start, on the bed's clock
    version = client.get_model_version_by_alias(s2.MLFLOW_MODEL, "champion")
    assert version.version == "1" and version.run_id == story2.mlflow_run_id
    assert version.tags["sagemaker.model_package_arn"] == PACKAGE
    assert client.get_model_version_by_alias(s2.MLFLOW_MODEL, "challenger").version == "1"


def test_catalog_feature_store_capture_and_audit_files(story2) -> None:
    glue, sm, s3 = (story2.bed.client(x) for x in ("glue", "sagemaker", "s3"))
    assert [v["Table"]["VersionId"] for v in glue.get_table_versions(DatabaseName="fraud_raw", TableName="card_transactions")["TableVersions"]] in (["1", "2"], ["2", "1"])
    assert len(glue.get_partitions(DatabaseName="fraud_raw", TableName="card_transactions")["Partitions"]) == 2
    assert {t["Name"] for t in glue.get_tables(DatabaseName="fraud_features")["TableList"]} == {"transactions", "merchants", "devices"}
    s3.head_object(Bucket="fraud-ml-eu", Key="curated/transactions_daily/part-00000.parquet")  # the Glue job's catalog output
    assert sorted(g["FeatureGroupName"] for g in sm.list_feature_groups()["FeatureGroupSummaries"]) == sorted(s2.FEATURE_GROUPS)
    for group, files in story2.features.items():
        resolved = sm.describe_feature_group(FeatureGroupName=group)["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
        assert files and all(f.startswith(f"{resolved}/year=2027/month=04/day=04/hour=2") for f in files)

    assert story2.capture.startswith("s3://fraud-ml-eu/datacapture/fraud-scoring-prod/fraud-scorer-v12/2027/04/12/18/")
    bucket, key = s3_location(story2.capture)
    record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()[0])
    assert record["eventMetadata"]["inferenceId"] == s2.INFERENCE_ID

    rows = list(csv.DictReader(story2.audit_csv.open()))
    assert [r["record_id"] for r in rows] == ["AUD-0412", "AUD-0398", "AUD-0405"]
    assert rows[0]["subject"] == PACKAGE and rows[0]["decided_by"] == s2.DECIDER and rows[0]["recorded_by"] == s2.RECORDER
    # DynamoDB keeps no empty attribute: a row's empty note is absent from its item.
    assert read_dynamodb_export(story2.audit_root, story2.audit_export) == [{k: v for k, v in r.items() if v} for r in rows]
    summary = json.loads((story2.audit_export / "manifest-summary.json").read_text())
    assert summary["itemCount"] == 3 and summary["outputFormat"] == "DYNAMODB_JSON"
    s3.head_object(Bucket="fraud-audit-eu", Key=summary["manifestFilesS3Key"])
