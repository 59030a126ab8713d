"""The bed's job runner leaves in S3 what the AWS jobs would have written."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest

ROLE = "arn:aws:iam::123456789012:role/bed"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture
def s3(aws: str):
    client = boto3.client("s3", endpoint_url=aws)
    for bucket in ("credit", "credit-features", "credit-code"):
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


def test_glue_run_writes_its_output_path(aws: str, s3) -> None:
    glue = boto3.client("glue", endpoint_url=aws)
    glue.create_job(Name="features_accounts", Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://credit-code/f.py"})
    args = {"--output_path": "s3://credit-features/accounts/2027-W10/", "--feature_group": "accounts"}
    glue.start_job_run(JobName="features_accounts", Arguments=args)
    body = s3.get_object(Bucket="credit-features", Key="accounts/2027-W10/part-00000.parquet")["Body"].read()
    assert json.loads(body) == {"job": "features_accounts", "arguments": args}


def test_training_writes_a_real_model_archive(aws: str, s3) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws)
    sm.create_training_job(
        TrainingJobName="credit-xgb-2027W10-a3c7",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"max_depth": "6"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://credit/train/2027-W10/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://credit/models/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    key = "models/credit-xgb-2027W10-a3c7/output/model.tar.gz"
    raw = s3.get_object(Bucket="credit", Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as archive:
        model = json.load(archive.extractfile("model.json"))
    assert model["hyperparameters"] == {"max_depth": "6"}
    assert model["inputs"] == ["s3://credit/train/2027-W10/"]


def _processing(sm, name: str, outputs: list[tuple[str, str]]) -> None:
    sm.create_processing_job(
        ProcessingJobName=name,
        AppSpecification={"ImageUri": IMAGE},
        RoleArn=ROLE,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10}},
        ProcessingInputs=[{"InputName": "train", "S3Input": {"S3Uri": "s3://credit/train/2027-W10/", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingOutputConfig={"Outputs": [
            {"OutputName": out_name, "S3Output": {"S3Uri": uri, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}
            for out_name, uri in outputs
        ]},
    )


def test_evaluation_output_gets_a_model_quality_report(aws: str, s3) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws)
    _processing(sm, "evaluate-2027W10", [("evaluation", "s3://credit/eval/2027-W10/")])
    report = json.loads(s3.get_object(Bucket="credit", Key="eval/2027-W10/evaluation.json")["Body"].read())
    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"auc", "ks"}
    assert 0.8 <= metrics["auc"]["value"] <= 0.9 and 0.35 <= metrics["ks"]["value"] <= 0.45


def test_outputs_to_a_missing_bucket_are_not_written(aws: str, s3) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws)
    _processing(sm, "assemble-2027W10", [("train", "s3://nowhere/train/2027-W10/"), ("copy", "s3://credit/copy/")])
    assert "nowhere" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert s3.list_objects_v2(Bucket="credit", Prefix="copy/")["KeyCount"] == 1
