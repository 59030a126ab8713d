"""credit_retraining: the weekly credit-scoring model pipeline, as a team deploys it.

Glue builds the week's feature-store snapshots (accounts, behaviour); a SageMaker
Processing job assembles the training set from them and the exclusion list; XGBoost
trains; a second Processing job evaluates the model; the model is registered as a new
package version, PendingManualApproval; a sensor waits until risk approves it in the
Model Registry (the approval itself is reported by crossline's approval emitter, which
listens to the registry's EventBridge events); then the approved version is deployed to
the endpoint, a blue/green swap when the endpoint already serves an older version, with
data capture on.

Everything names itself from the DAG params (override them per run, or set their
defaults in your deployment) and the logical date: the ISO week of the logical date is
the week unless ``week`` is given. AWS is the ``aws_default`` connection, so the same
file runs against AWS and against crossline's local bed (moto's endpoint).

Lineage: the OpenLineage provider with crossline's extractors
(``crossline.emitters.airflow.EXTRACTORS``) emits every task's datasets and ML facts.
Nothing in this file is crossline-specific except the ``crossline:code-*`` tags that
name the training code's commit.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
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
from airflow.sdk import DAG, Param, task
from airflow.sdk.bases.sensor import PokeReturnValue

PARAMS = {
    "week": Param(None, type=["null", "string"], description="ISO week, e.g. 2027-W10; default: the logical date's"),
    "raw_bucket": "credit-raw",
    "feature_bucket": "credit-features",
    "data_bucket": "credit",
    "code_bucket": "credit-code",
    "exclusion_list": "s3://policy/excl-v14.csv",
    "feature_groups": ["accounts", "behaviour"],
    "model_package_group": "credit-xgb",
    "endpoint": "credit-prod",
    "role_arn": "arn:aws:iam::123456789012:role/credit-ml",
    "training_image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "processing_image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "instance_type": "ml.m5.xlarge",
    "endpoint_instance_type": "ml.m5.large",
    "hyperparameters": {"max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic"},
    "code_repo": "github.com/acme/credit-ml",
    "code_commit": "a14f2b9",
}


def plan(params: dict[str, Any], logical_date: datetime, run_id: str) -> dict[str, str]:
    """Every name of one weekly run, derived from the params, the week and the run."""
    week = params.get("week") or logical_date.strftime("%G-W%V")
    compact = week.replace("-", "")
    suffix = hashlib.sha1(run_id.encode()).hexdigest()[:4]
    data = params["data_bucket"]
    train_job = f"credit-xgb-{compact}-{suffix}"
    return {
        "week": week,
        "assemble_job": f"credit-assemble-{compact}-{suffix}",
        "train_job": train_job,
        "evaluate_job": f"credit-evaluate-{compact}-{suffix}",
        "training_set": f"s3://{data}/train/{week}/",
        "model_output": f"s3://{data}/models/",
        "model_artifact": f"s3://{data}/models/{train_job}/output/model.tar.gz",
        "evaluation": f"s3://{data}/eval/{week}/",
        "data_capture": f"s3://{data}/datacapture/",
    }


def _p(key: str) -> str:
    return "{{ plan(params, logical_date, run_id)['%s'] }}" % key


def _snapshot(group: str) -> str:
    return "s3://{{ params.feature_bucket }}/%s/%s/" % (group, _p("week"))


VERSION = "{{ ti.xcom_pull(task_ids='register').rsplit('/', 1)[1] }}"
PACKAGE_ARN = "{{ ti.xcom_pull(task_ids='register') }}"


def _processing_input(name: str, uri: str, local: str, data_type: str = "S3Prefix") -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": data_type, "S3InputMode": "File"},
    }


def _processing_output(name: str, uri: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "S3Output": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/{name}", "S3UploadMode": "EndOfJob"},
    }


def _resources(instance_type: str = "{{ params.instance_type }}") -> dict[str, Any]:
    return {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 30}}


with DAG(
    dag_id="credit_retraining",
    description="Weekly credit-scoring retraining: features, training, evaluation, registry, approval, blue/green deploy",
    schedule="0 1 * * SAT",
    start_date=datetime(2026, 1, 3),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    user_defined_macros={"plan": plan},
    default_args={"retries": 0},
    tags=["credit", "ml"],
) as dag:
    features = [
        GlueJobOperator(
            task_id=f"features_{group}",
            job_name=f"features_{group}",
            script_location="s3://{{ params.code_bucket }}/glue/features_%s.py" % group,
            s3_bucket="{{ params.code_bucket }}",
            iam_role_arn="{{ params.role_arn }}",
            create_job_kwargs={"GlueVersion": "4.0", "WorkerType": "G.1X", "NumberOfWorkers": 2},
            script_args={
                "--input_paths": "s3://{{ params.raw_bucket }}/%s/" % group,
                "--output_path": _snapshot(group),
                "--feature_group": group,
                "--snapshot_version": _p("week"),
            },
            wait_for_completion=True,
            verbose=False,
        )
        for group in PARAMS["feature_groups"]
    ]

    assemble = SageMakerProcessingOperator(
        task_id="assemble_training_set",
        print_log=False,
        check_interval=5,
        config={
            "ProcessingJobName": _p("assemble_job"),
            "AppSpecification": {"ImageUri": "{{ params.processing_image }}", "ContainerEntrypoint": ["python3", "/opt/ml/code/assemble.py"]},
            "RoleArn": "{{ params.role_arn }}",
            "ProcessingResources": _resources(),
            "ProcessingInputs": [
                *[_processing_input(g, _snapshot(g), f"/opt/ml/processing/{g}") for g in PARAMS["feature_groups"]],
                _processing_input("exclusions", "{{ params.exclusion_list }}", "/opt/ml/processing/exclusions", "S3Prefix"),
            ],
            "ProcessingOutputConfig": {"Outputs": [_processing_output("train", _p("training_set"))]},
        },
    )

    train = SageMakerTrainingOperator(
        task_id="train",
        print_log=False,
        check_interval=5,
        config={
            "TrainingJobName": _p("train_job"),
            "AlgorithmSpecification": {"TrainingImage": "{{ params.training_image }}", "TrainingInputMode": "File"},
            "RoleArn": "{{ params.role_arn }}",
            "HyperParameters": {k: "{{ params.hyperparameters['%s'] }}" % k for k in PARAMS["hyperparameters"]},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _p("training_set")}},
                }
            ],
            "OutputDataConfig": {"S3OutputPath": _p("model_output")},
            "ResourceConfig": {"InstanceType": "{{ params.instance_type }}", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 4 * 3600},
            "Tags": [
                {"Key": "crossline:code-repo", "Value": "{{ params.code_repo }}"},
                {"Key": "crossline:code-commit", "Value": "{{ params.code_commit }}"},
                {"Key": "week", "Value": _p("week")},
            ],
        },
    )

    evaluate = SageMakerProcessingOperator(
        task_id="evaluate",
        print_log=False,
        check_interval=5,
        config={
            "ProcessingJobName": _p("evaluate_job"),
            "AppSpecification": {"ImageUri": "{{ params.processing_image }}", "ContainerEntrypoint": ["python3", "/opt/ml/code/evaluate.py"]},
            "RoleArn": "{{ params.role_arn }}",
            "ProcessingResources": _resources(),
            "ProcessingInputs": [
                _processing_input("model", _p("model_artifact"), "/opt/ml/processing/model", "S3Prefix"),
                _processing_input("test", _p("training_set"), "/opt/ml/processing/test"),
            ],
            "ProcessingOutputConfig": {"Outputs": [_processing_output("evaluation", _p("evaluation"))]},
        },
    )

    register = SageMakerRegisterModelVersionOperator(
        task_id="register",
        image_uri="{{ params.training_image }}",
        model_url=_p("model_artifact"),
        package_group_name="{{ params.model_package_group }}",
        package_desc="Credit XGBoost, week " + _p("week"),
        model_approval=ApprovalStatus.PENDING_MANUAL_APPROVAL,
    )

    @task.sensor(task_id="await_approval", poke_interval=5, timeout=timedelta(days=7).total_seconds(), mode="poke")
    def await_approval(package_arn: str) -> PokeReturnValue:
        """Done when the Model Registry says Approved; a rejection fails the run."""
        package = SageMakerHook(aws_conn_id="aws_default").conn.describe_model_package(ModelPackageName=package_arn)
        status = package["ModelApprovalStatus"]
        if status == "Rejected":
            raise AirflowFailException(f"{package_arn} was rejected: {package.get('ApprovalDescription', '')}")
        return PokeReturnValue(is_done=status == "Approved", xcom_value=package_arn)

    approved = await_approval(register.output)

    model = SageMakerModelOperator(
        task_id="create_model",
        config={
            "ModelName": "{{ params.model_package_group }}-v" + VERSION,
            "PrimaryContainer": {"ModelPackageName": PACKAGE_ARN},
            "ExecutionRoleArn": "{{ params.role_arn }}",
        },
    )

    endpoint_config = SageMakerEndpointConfigOperator(
        task_id="create_endpoint_config",
        config={
            "EndpointConfigName": "{{ params.endpoint }}-v" + VERSION,
            "ProductionVariants": [
                {
                    "VariantName": "{{ params.endpoint }}-v" + VERSION,
                    "ModelName": "{{ params.model_package_group }}-v" + VERSION,
                    "InitialInstanceCount": 1,
                    "InstanceType": "{{ params.endpoint_instance_type }}",
                }
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": _p("data_capture"),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        },
    )

    # Create the endpoint the first time; afterwards the operator falls back to
    # UpdateEndpoint, which SageMaker performs as a blue/green swap.
    deploy = SageMakerEndpointOperator(
        task_id="deploy",
        operation="create",
        wait_for_completion=True,
        check_interval=5,
        config={
            "EndpointName": "{{ params.endpoint }}",
            "EndpointConfigName": "{{ params.endpoint }}-v" + VERSION,
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                    "TerminationWaitInSeconds": 0,
                }
            },
        },
    )

    features >> assemble >> train >> evaluate >> register
    approved >> model >> endpoint_config >> deploy
