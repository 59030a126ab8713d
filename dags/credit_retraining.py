"""credit_retraining: the weekly credit-scoring model pipeline, as a team deploys it.

Glue builds the week's feature-store snapshots, one job per feature group; a SageMaker
Processing job assembles the training set from them and the exclusion list; XGBoost
trains; a second Processing job evaluates the model; the model is registered as a new
package version, PendingManualApproval; a sensor waits until risk approves it in the
Model Registry (the approval itself is reported by crossline's approval emitter, which
listens to the registry's EventBridge events); then the approved version is deployed to
the endpoint, a blue/green swap when the endpoint already serves an older version, with
data capture on.

A template: every name comes from the run's settings, resolved at run time by the first
task, ``plan``, in this order (later wins):
1. the DAG params' defaults below (``PARAMS``);
2. the Airflow Variable ``credit_retraining_settings`` (JSON object), if set: a
   deployment's own names, buckets, endpoint and feature groups;
3. the run's conf (``airflow dags trigger -c '{...}'``, or params in the UI).
``feature_groups`` may list any number of groups: the task ``feature_jobs`` lists one
Glue job per group, ``{feature_job_prefix}{group}``, and one instance of ``features`` is
mapped over each when the run starts (dynamic task mapping; nothing is read from the
list when the file is parsed). Job names are
``{assemble_job_prefix}-{week}-{suffix}``, ``{train_job_prefix}-...`` and
``{evaluate_job_prefix}-...``, with the ISO week of the logical date (unless ``week`` is
given) and a suffix from the run id. AWS is the ``aws_default`` connection, so the same
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
from airflow.sdk import DAG, Param, Variable, get_current_context, task
from airflow.sdk.bases.sensor import PokeReturnValue

PARAMS = {
    "week": Param(None, type=["null", "string"], description="ISO week, e.g. 2027-W10; default: the logical date's"),
    "raw_bucket": "credit-raw",
    "feature_bucket": "credit-features",
    "data_bucket": "credit",
    "code_bucket": "credit-code",
    "exclusion_list": "s3://policy/excl-v14.csv",
    "feature_groups": Param(["accounts", "behaviour"], type="array", description="feature groups; one Glue job each"),
    "feature_job_prefix": "features_",
    "assemble_job_prefix": "credit-assemble",
    "train_job_prefix": "credit-xgb",
    "evaluate_job_prefix": "credit-evaluate",
    "model_package_group": "credit-xgb",
    "package_description": "Credit XGBoost",
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


SETTINGS_VARIABLE = "credit_retraining_settings"


def plan(params: dict[str, Any], logical_date: datetime, run_id: str) -> dict[str, Any]:
    """Every name of one weekly run, derived from the settings, the week and the run."""
    week = params.get("week") or logical_date.strftime("%G-W%V")
    compact = week.replace("-", "")
    suffix = hashlib.sha1(run_id.encode()).hexdigest()[:4]
    data = params["data_bucket"]
    train_job = f"{params['train_job_prefix']}-{compact}-{suffix}"
    return {
        "week": week,
        "assemble_job": f"{params['assemble_job_prefix']}-{compact}-{suffix}",
        "train_job": train_job,
        "evaluate_job": f"{params['evaluate_job_prefix']}-{compact}-{suffix}",
        "training_set": f"s3://{data}/train/{week}/",
        "model_output": f"s3://{data}/models/",
        "model_artifact": f"s3://{data}/models/{train_job}/output/model.tar.gz",
        "evaluation": f"s3://{data}/eval/{week}/",
        "data_capture": f"s3://{data}/datacapture/",
    }


@task(task_id="feature_jobs")
def feature_jobs(settings: dict[str, Any], week: str) -> list[dict[str, Any]]:
    """One Glue job per feature group: the arguments its mapped task instance runs with."""
    return [
        {
            "job_name": f"{settings['feature_job_prefix']}{group}",
            "script_location": f"s3://{settings['code_bucket']}/glue/{settings['feature_job_prefix']}{group}.py",
            "script_args": {
                "--input_paths": f"s3://{settings['raw_bucket']}/{group}/",
                "--output_path": _snapshot(settings, group, week),
                "--feature_group": group,
                "--snapshot_version": week,
            },
        }
        for group in settings["feature_groups"]
    ]


def _snapshot(settings: dict[str, Any], group: str, week: str) -> str:
    return f"s3://{settings['feature_bucket']}/{group}/{week}/"


@task(task_id="plan", multiple_outputs=True)
def plan_run() -> dict[str, Any]:
    """The run's settings (params < Variable < conf) and every name derived from them."""
    context = get_current_context()
    conf = (context["dag_run"].conf or {}) if context.get("dag_run") else {}
    deployed = Variable.get(SETTINGS_VARIABLE, default=None, deserialize_json=True) or {}
    settings = {**dict(context["params"]), **{k: v for k, v in deployed.items() if k not in conf}}
    names = plan(settings, context["logical_date"], context["run_id"])
    week = names["week"]
    return {
        **settings,
        **names,
        "settings": settings,
        "assemble_inputs": [
            *[_processing_input(g, _snapshot(settings, g, week), f"/opt/ml/processing/{g}") for g in settings["feature_groups"]],
            _processing_input("exclusions", settings["exclusion_list"], "/opt/ml/processing/exclusions", "S3Prefix"),
        ],
        "hyperparameters": {k: str(v) for k, v in settings["hyperparameters"].items()},
    }


def _p(key: str) -> str:
    return "{{ ti.xcom_pull(task_ids='plan')['%s'] }}" % key


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


def _resources(instance_type: str = _p("instance_type")) -> dict[str, Any]:
    return {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 30}}


with DAG(
    dag_id="credit_retraining",
    description="Weekly credit-scoring retraining: features, training, evaluation, registry, approval, blue/green deploy",
    schedule="0 1 * * SAT",
    start_date=datetime(2026, 1, 3),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args={"retries": 0},
    tags=["credit", "ml"],
) as dag:
    planned = plan_run()
    features = GlueJobOperator.partial(
        task_id="features",
        s3_bucket=_p("code_bucket"),
        iam_role_arn=_p("role_arn"),
        create_job_kwargs={"GlueVersion": "4.0", "WorkerType": "G.1X", "NumberOfWorkers": 2},
        wait_for_completion=True,
        verbose=False,
        map_index_template="{{ task.script_args['--feature_group'] }}",
    ).expand_kwargs(feature_jobs(planned["settings"], planned["week"]))

    assemble = SageMakerProcessingOperator(
        task_id="assemble_training_set",
        print_log=False,
        check_interval=5,
        config={
            "ProcessingJobName": _p("assemble_job"),
            "AppSpecification": {"ImageUri": _p("processing_image"), "ContainerEntrypoint": ["python3", "/opt/ml/code/assemble.py"]},
            "RoleArn": _p("role_arn"),
            "ProcessingResources": _resources(),
            "ProcessingInputs": planned["assemble_inputs"],
            "ProcessingOutputConfig": {"Outputs": [_processing_output("train", _p("training_set"))]},
        },
    )

    train = SageMakerTrainingOperator(
        task_id="train",
        print_log=False,
        check_interval=5,
        config={
            "TrainingJobName": _p("train_job"),
            "AlgorithmSpecification": {"TrainingImage": _p("training_image"), "TrainingInputMode": "File"},
            "RoleArn": _p("role_arn"),
            "HyperParameters": planned["hyperparameters"],
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _p("training_set")}},
                }
            ],
            "OutputDataConfig": {"S3OutputPath": _p("model_output")},
            "ResourceConfig": {"InstanceType": _p("instance_type"), "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 4 * 3600},
            "Tags": [
                {"Key": "crossline:code-repo", "Value": _p("code_repo")},
                {"Key": "crossline:code-commit", "Value": _p("code_commit")},
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
            "AppSpecification": {"ImageUri": _p("processing_image"), "ContainerEntrypoint": ["python3", "/opt/ml/code/evaluate.py"]},
            "RoleArn": _p("role_arn"),
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
        image_uri=_p("training_image"),
        model_url=_p("model_artifact"),
        package_group_name=_p("model_package_group"),
        package_desc=_p("package_description") + ", week " + _p("week"),
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
            "ModelName": _p("model_package_group") + "-v" + VERSION,
            "PrimaryContainer": {"ModelPackageName": PACKAGE_ARN},
            "ExecutionRoleArn": _p("role_arn"),
        },
    )

    endpoint_config = SageMakerEndpointConfigOperator(
        task_id="create_endpoint_config",
        config={
            "EndpointConfigName": _p("endpoint") + "-v" + VERSION,
            "ProductionVariants": [
                {
                    "VariantName": _p("endpoint") + "-v" + VERSION,
                    "ModelName": _p("model_package_group") + "-v" + VERSION,
                    "InitialInstanceCount": 1,
                    "InstanceType": _p("endpoint_instance_type"),
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
            "EndpointName": _p("endpoint"),
            "EndpointConfigName": _p("endpoint") + "-v" + VERSION,
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
