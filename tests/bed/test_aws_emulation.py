"""What teams run, on the bed's AWS: Pipelines, Experiments, Feature Store, Glue.

Each test drives the bed through boto3 as a team would and checks both what happened and
that every response of the actions the bed adds or changes matches botocore's output
shape (``crossline_bed.shapes``).
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import boto3
import pytest

from crossline_bed.feature_store import write_offline_records
from crossline_bed.shapes import response_problems

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ml"
CHECKED = {
    "DescribePipelineExecution", "ListPipelineExecutions", "ListPipelineExecutionSteps",
    "ListPipelineParametersForExecution", "DescribeTrialComponent", "ListTrialComponents",
    "DescribeFeatureGroup", "ListFeatureGroups", "CreateFeatureGroup", "StartPipelineExecution",
}


@pytest.fixture
def recorded(aws: str) -> tuple[dict[str, Any], list[tuple[str, str, Any, Any]]]:
    calls: list[tuple[str, str, Any, Any]] = []
    clients = {}
    for service in ("sagemaker", "s3", "glue", "sagemaker-metrics"):
        client = boto3.client(service, endpoint_url=aws, region_name=REGION)
        if service in ("sagemaker", "glue"):
            def after(http_response: Any, parsed: dict[str, Any], model: Any, _s: str = service, **_: Any) -> None:
                if http_response.status_code < 300 and model.name in CHECKED:
                    calls.append((_s, model.name, json.loads(http_response.content or b"{}"), parsed))
            client.meta.events.register(f"after-call.{service}", after)
        clients[service] = client
    clients["s3"].create_bucket(Bucket="team-data")
    return clients, calls


def _shapes_ok(calls: list[tuple[str, str, Any, Any]]) -> None:
    problems = [p for service, name, raw, parsed in calls for p in response_problems(service, name, raw, parsed)]
    assert problems == []


DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [
        {"Name": "InputData", "Type": "String", "DefaultValue": "s3://team-data/raw/"},
        {"Name": "MaxDepth", "Type": "Integer", "DefaultValue": 5},
    ],
    "PipelineExperimentConfig": {"ExperimentName": {"Get": "Execution.PipelineName"}, "TrialName": {"Get": "Execution.PipelineExecutionId"}},
    "Steps": [
        {"Name": "Prepare", "Type": "Processing", "Arguments": {
            "AppSpecification": {"ImageUri": "img/sklearn:1"}, "RoleArn": ROLE,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}},
            "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": {"Get": "Parameters.InputData"}, "LocalPath": "/in", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["s3://team-data/train", {"Get": "Execution.PipelineExecutionId"}]}}, "LocalPath": "/out", "S3UploadMode": "EndOfJob"}}]},
        }},
        {"Name": "Train", "Type": "Training", "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": "img/xgboost:1", "TrainingInputMode": "File"}, "RoleArn": ROLE,
            "HyperParameters": {"max_depth": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxDepth"}]}}, "objective": "binary:logistic"},
            "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                "S3Uri": {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://team-data/models"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }},
        {"Name": "Register", "Type": "RegisterModel", "Arguments": {
            "ModelPackageGroupName": "team-models", "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {"Containers": [{"Image": "img/xgboost:1", "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}],
                                       "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        }},
    ],
}


def _wait(sm: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] != "Executing" or time.monotonic() > deadline:
            return described
        time.sleep(0.3)


def test_a_pipeline_execution_runs_its_steps_as_sagemaker_does(recorded) -> None:
    clients, calls = recorded
    sm, s3 = clients["sagemaker"], clients["s3"]
    sm.create_model_package_group(ModelPackageGroupName="team-models")
    sm.create_pipeline(PipelineName="team-train", PipelineDefinition=json.dumps(DEFINITION), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName="team-train", PipelineParameters=[{"Name": "MaxDepth", "Value": "7"}])["PipelineExecutionArn"]
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
    described = _wait(sm, arn)
    execution_id = arn.rsplit("/", 1)[1]

    assert described["PipelineExecutionStatus"] == "Succeeded" and "FailureReason" not in described
    assert described["PipelineExperimentConfig"] == {"ExperimentName": "team-train", "TrialName": execution_id}
    steps = {s["StepName"]: s for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]}
    assert {n: s["StepStatus"] for n, s in steps.items()} == {"Prepare": "Succeeded", "Train": "Succeeded", "Register": "Succeeded"}
    train_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    prepare_arn = steps["Prepare"]["Metadata"]["ProcessingJob"]["Arn"]
    package_arn = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    train_name = train_arn.rsplit("/", 1)[1]
    assert train_name.startswith(f"pipelines-{execution_id}-Train-") and len(train_name) <= 63

    job = sm.describe_training_job(TrainingJobName=train_name)
    assert job["HyperParameters"] == {"max_depth": "7", "objective": "binary:logistic"}
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://team-data/train/{execution_id}"
    assert {"Key": "sagemaker:pipeline-execution-arn", "Value": arn} in sm.list_tags(ResourceArn=train_arn)["Tags"]
    package = sm.describe_model_package(ModelPackageName=package_arn)
    assert package["MetadataProperties"]["GeneratedBy"] == arn
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    s3.head_object(Bucket="team-data", Key=f"models/{train_name}/output/model.tar.gz")  # the job runner wrote it

    in_trial = sm.list_trial_components(TrialName=execution_id)["TrialComponentSummaries"]
    assert {c["TrialComponentSource"]["SourceArn"] for c in in_trial} == {train_arn, prepare_arn}
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert sorted((p["Name"], p["Value"]) for p in parameters) == [("InputData", "s3://team-data/raw/"), ("MaxDepth", "7")]
    (summary,) = sm.list_pipeline_executions(PipelineName="team-train")["PipelineExecutionSummaries"]
    assert summary["PipelineExecutionStatus"] == "Succeeded" and "PipelineExecutionFailureReason" not in summary
    _shapes_ok(calls)


def test_a_failing_step_fails_the_execution_and_stops_the_rest(recorded) -> None:
    clients, calls = recorded
    sm = clients["sagemaker"]
    broken = {**DEFINITION, "Steps": [DEFINITION["Steps"][0], {"Name": "Check", "Type": "Condition", "Arguments": {}}, DEFINITION["Steps"][1]]}
    broken["Steps"][2] = {**broken["Steps"][2], "DependsOn": ["Check"]}
    sm.create_pipeline(PipelineName="team-broken", PipelineDefinition=json.dumps(broken), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName="team-broken")["PipelineExecutionArn"]
    described = _wait(sm, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: One or more steps failed."
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Prepare", "Succeeded"), ("Check", "Failed")]
    assert "does not run Condition steps" in steps[1]["FailureReason"]
    sm.create_pipeline(PipelineName="team-p3", PipelineDefinition=json.dumps(DEFINITION), RoleArn=ROLE)
    with pytest.raises(sm.exceptions.ClientError, match="ValidationException.*not in the pipeline definition"):
        sm.start_pipeline_execution(PipelineName="team-p3", PipelineParameters=[{"Name": "Nope", "Value": "1"}])
    assert sm.list_pipeline_executions(PipelineName="team-p3")["PipelineExecutionSummaries"] == []
    _shapes_ok(calls)


def test_trial_components_carry_parameters_artifacts_and_metric_summaries(recorded) -> None:
    clients, calls = recorded
    sm, metrics = clients["sagemaker"], clients["sagemaker-metrics"]
    sm.create_training_job(
        TrainingJobName="tj", AlgorithmSpecification={"TrainingImage": "img/xgboost:1", "TrainingInputMode": "File"}, RoleArn=ROLE,
        HyperParameters={"max_depth": "6", "objective": "binary:logistic"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://team-data/train"}}}],
        OutputDataConfig={"S3OutputPath": "s3://team-data/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10}, StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    job = sm.describe_training_job(TrainingJobName="tj")
    component = sm.describe_trial_component(TrialComponentName="tj-aws-training-job")
    assert component["Source"] == {"SourceArn": job["TrainingJobArn"], "SourceType": "SageMakerTrainingJob"}
    assert component["Parameters"]["max_depth"] == {"NumberValue": 6.0}
    assert component["Parameters"]["objective"] == {"StringValue": "binary:logistic"}
    assert component["Parameters"]["SageMaker.InstanceType"] == {"StringValue": "ml.m5.large"}
    assert component["InputArtifacts"]["train"] == {"Value": "s3://team-data/train", "MediaType": "text/csv"}
    assert component["OutputArtifacts"]["SageMaker.ModelArtifact"]["Value"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert {m["MetricName"]: m["Last"] for m in component["Metrics"]} == final
    assert {m["SourceArn"] for m in component["Metrics"]} == {job["TrainingJobArn"]}

    sm.create_experiment(ExperimentName="exp")
    sm.create_trial(TrialName="trial-1", ExperimentName="exp")
    sm.create_trial_component(TrialComponentName="manual", Parameters={"lr": {"NumberValue": 0.1}},
                              InputArtifacts={"data": {"Value": "s3://team-data/train"}})
    sm.associate_trial_component(TrialComponentName="manual", TrialName="trial-1")
    now = time.time()
    metrics.batch_put_metrics(TrialComponentName="manual", MetricData=[
        {"MetricName": "loss", "Timestamp": now, "Step": step, "Value": value} for step, value in enumerate((0.9, 0.5, 0.4))
    ])
    (loss,) = sm.describe_trial_component(TrialComponentName="manual")["Metrics"]
    assert (loss["Min"], loss["Max"], loss["Last"], loss["Count"]) == (0.4, 0.9, 0.4, 3)
    assert [c["TrialComponentName"] for c in sm.list_trial_components(ExperimentName="exp")["TrialComponentSummaries"]] == ["manual"]
    by_source = sm.list_trial_components(SourceArn=job["TrainingJobArn"])["TrialComponentSummaries"]
    assert [c["TrialComponentName"] for c in by_source] == ["tj-aws-training-job"]
    with pytest.raises(sm.exceptions.ClientError, match="only one of"):
        sm.list_trial_components(ExperimentName="exp", TrialName="trial-1")
    _shapes_ok(calls)


def test_feature_groups_resolve_their_offline_store_and_register_a_glue_table(recorded) -> None:
    import pyarrow.parquet as pq
    from datetime import datetime, timezone

    clients, calls = recorded
    sm, s3, glue = clients["sagemaker"], clients["s3"], clients["glue"]
    features = [{"FeatureName": "id", "FeatureType": "String"}, {"FeatureName": "event_time", "FeatureType": "String"},
                {"FeatureName": "amount", "FeatureType": "Fractional"}]
    for name, catalog in (("team-tx", {"Database": "team_features", "TableName": "tx"}), ("team-cards", None)):
        config: dict[str, Any] = {"S3StorageConfig": {"S3Uri": "s3://team-data/offline"}}
        if catalog:
            config["DataCatalogConfig"] = {**catalog, "Catalog": "AwsDataCatalog"}
        sm.create_feature_group(FeatureGroupName=name, RecordIdentifierFeatureName="id", EventTimeFeatureName="event_time",
                                FeatureDefinitions=features, OfflineStoreConfig=config, RoleArn=ROLE)
    tx = sm.describe_feature_group(FeatureGroupName="team-tx")
    epoch = int(tx["CreationTime"].timestamp())
    resolved = tx["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
    assert resolved == f"s3://team-data/offline/{ACCOUNT}/sagemaker/{REGION}/offline-store/team-tx-{epoch}/data"
    assert tx["OfflineStoreConfig"]["DataCatalogConfig"] == {"Catalog": "AwsDataCatalog", "Database": "team_features", "TableName": "tx"}
    assert tx["OfflineStoreStatus"] == {"Status": "Active"}
    table = glue.get_table(DatabaseName="team_features", Name="tx")["Table"]
    assert table["StorageDescriptor"]["Location"] == resolved
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]][-3:] == ["write_time", "api_invocation_time", "is_deleted"]
    cards = sm.describe_feature_group(FeatureGroupName="team-cards")["OfflineStoreConfig"]["DataCatalogConfig"]
    assert cards["Database"] == "sagemaker_featurestore" and cards["TableName"].startswith("team_cards_")
    assert sorted(g["FeatureGroupName"] for g in sm.list_feature_groups(NameContains="team-")["FeatureGroupSummaries"]) == ["team-cards", "team-tx"]
    assert [g["FeatureGroupName"] for g in sm.list_feature_groups(SortBy="Name", SortOrder="Ascending", MaxResults=1)["FeatureGroupSummaries"]] == ["team-cards"]

    written = write_offline_records(s3, sm, "team-tx", [
        {"id": "t1", "event_time": "2027-04-02T09:15:00Z", "amount": 12.5},
        {"id": "t2", "event_time": "2027-04-02T09:40:10Z", "amount": 99.0},
        {"id": "t3", "event_time": "2027-04-02T11:05:00Z", "amount": 3.0},
    ], written_at=datetime(2027, 4, 2, 12, tzinfo=timezone.utc))
    assert [w.rsplit("/", 1)[0] for w in written] == [f"{resolved}/year=2027/month=04/day=02/hour=09", f"{resolved}/year=2027/month=04/day=02/hour=11"]
    assert written[0].rsplit("/", 1)[1].startswith("20270402T094010Z_") and written[0].endswith(".parquet")
    key = written[0].split("/", 3)[3]
    rows = pq.read_table(io.BytesIO(s3.get_object(Bucket="team-data", Key=key)["Body"].read())).to_pylist()
    assert [r["id"] for r in rows] == ["t1", "t2"] and rows[0]["is_deleted"] is False
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_feature_group(FeatureGroupName="nope")
    _shapes_ok(calls)


def test_glue_jobs_write_to_outputs_named_in_common_argument_forms(recorded) -> None:
    clients, _ = recorded
    glue, s3 = clients["glue"], clients["s3"]
    glue.create_database(DatabaseInput={"Name": "curated"})
    glue.create_table(DatabaseName="curated", TableInput={"Name": "cards", "StorageDescriptor": {"Location": "s3://team-data/curated/cards/"}})
    glue.create_job(Name="curate", Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://team-data/c.py"},
                    DefaultArguments={"--target_database": "curated"})
    glue.start_job_run(JobName="curate", Arguments={"--source_table": "raw.cards", "--target_table": "cards", "--s3_output": "s3://team-data/copy/"})
    s3.head_object(Bucket="team-data", Key="curated/cards/part-00000.parquet")
    s3.head_object(Bucket="team-data", Key="copy/part-00000.parquet")
