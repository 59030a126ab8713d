"""A small ML pipeline for the emitters' tests: one of each AWS operator crossline covers.

Glue feature job -> training -> evaluation (processing) -> register -> model ->
endpoint config -> endpoint. Names come from params so each test run is its own.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
    SageMakerProcessingOperator,
    SageMakerRegisterModelVersionOperator,
    SageMakerTrainingOperator,
)
from airflow.providers.amazon.aws.utils.sagemaker import ApprovalStatus
from airflow.sdk import DAG

ROLE = "arn:aws:iam::123456789012:role/crossline-test"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
P = "{{ params.prefix }}"

with DAG(
    dag_id="emitters_ml_pipeline",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=False,
    params={"prefix": "t", "week": "2027-W10"},
) as dag:
    features = GlueJobOperator(
        task_id="features_accounts",
        job_name=f"{P}-features-accounts",
        script_location="s3://credit-code/glue/features.py",
        s3_bucket="credit-code",
        iam_role_arn=ROLE,
        create_job_kwargs={"GlueVersion": "4.0"},
        script_args={
            "--input_paths": "s3://credit-raw/accounts/",
            "--output_path": f"s3://credit-features/{P}/accounts/{{{{ params.week }}}}/",
            "--feature_group": f"{P}-accounts",
            "--snapshot_version": "{{ params.week }}",
            "--crossline-code-repo": "github.com/acme/credit-features",
            "--crossline-code-commit": "9c1e0d2",
        },
        verbose=False,
    )
    train = SageMakerTrainingOperator(
        task_id="train",
        print_log=False,
        check_interval=1,
        config={
            "TrainingJobName": f"{P}-credit-xgb",
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": {"max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic"},
            "InputDataConfig": [
                {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://credit-features/{P}/accounts/{{{{ params.week }}}}/"}}}
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://credit/{P}/models/"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "Tags": [
                {"Key": "crossline:code-repo", "Value": "github.com/acme/credit-ml"},
                {"Key": "crossline:code-commit", "Value": "a14f2b9"},
            ],
        },
    )
    evaluate = SageMakerProcessingOperator(
        task_id="evaluate",
        print_log=False,
        check_interval=1,
        config={
            "ProcessingJobName": f"{P}-evaluate",
            "AppSpecification": {"ImageUri": IMAGE},
            "RoleArn": ROLE,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10}},
            "ProcessingInputs": [
                {"InputName": "model", "S3Input": {"S3Uri": f"s3://credit/{P}/models/{P}-credit-xgb/output/model.tar.gz", "LocalPath": "/opt/ml/processing/model", "S3DataType": "S3Prefix", "S3InputMode": "File"}}
            ],
            "ProcessingOutputConfig": {"Outputs": [
                {"OutputName": "evaluation", "S3Output": {"S3Uri": f"s3://credit/{P}/eval/", "LocalPath": "/opt/ml/processing/evaluation", "S3UploadMode": "EndOfJob"}}
            ]},
        },
    )
    register = SageMakerRegisterModelVersionOperator(
        task_id="register",
        image_uri=IMAGE,
        model_url=f"s3://credit/{P}/models/{P}-credit-xgb/output/model.tar.gz",
        package_group_name=f"{P}-credit-xgb",
        model_approval=ApprovalStatus.PENDING_MANUAL_APPROVAL,
    )
    model = SageMakerModelOperator(
        task_id="model",
        config={
            "ModelName": f"{P}-credit-model",
            "PrimaryContainer": {"ModelPackageName": "{{ ti.xcom_pull(task_ids='register') }}"},
            "ExecutionRoleArn": ROLE,
        },
    )
    endpoint_config = SageMakerEndpointConfigOperator(
        task_id="endpoint_config",
        config={
            "EndpointConfigName": f"{P}-credit-config",
            "ProductionVariants": [
                {"VariantName": f"{P}-v1", "ModelName": f"{P}-credit-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        },
    )
    endpoint = SageMakerEndpointOperator(
        task_id="endpoint",
        wait_for_completion=False,
        config={"EndpointName": f"{P}-credit-prod", "EndpointConfigName": f"{P}-credit-config"},
    )
    features >> train >> evaluate >> register >> model >> endpoint_config >> endpoint
