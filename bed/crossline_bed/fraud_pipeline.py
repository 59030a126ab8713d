"""The fraud team's SageMaker Pipeline and its training script's MLflow logging.

Contract: ``definition(...)`` is the pipeline definition JSON the team's SageMaker SDK
code generates for ``fraud-train``: a ``Week`` parameter; ``PipelineExperimentConfig``
(experiment = pipeline name, trial = execution id, the SDK's default);
``BuildTrainingSet`` (Processing: the three feature groups' offline stores and the
merchant blocklist in, ``s3://{data}/train/{week}/`` out), ``TrainModel`` (Training:
XGBoost on that output, by property reference), ``RegisterModel`` (into the package
group, PendingManualApproval, the model artifact by property reference).

``log_training_run(tracking_uri, job, execution_arn, training_set, started_at)`` is what
the training script inside the SageMaker training job logs to the team's MLflow tracking
server (the bed runs no container, so the story calls it when the job starts): run
``train-{week}`` in experiment ``fraud-scoring``, started at the job's start, with the
hyperparameters as params, ``validation:auc`` and ``validation:logloss`` per boosting
round (steps 0, 100, ..., 500), the training set as a dataset input (context
``training``, source its S3 URI), a model (a small scikit-learn model standing in for
the XGBoost artifact: no XGBoost on the bed), and tags ``sagemaker.training_job_arn``,
``sagemaker.pipeline_execution_arn`` and MLflow's own source tags (``mlflow.source.git.repoURL``
``CODE_REPO``, ``mlflow.source.git.commit`` ``CODE_COMMIT``). It returns the run id.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

TRAINING_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PROCESSING_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
HYPERPARAMETERS = {"max_depth": "8", "eta": "0.1", "num_round": "500", "objective": "binary:logistic", "scale_pos_weight": "25"}
# Validation curve per boosting round, as the training script reports it.
AUC_BY_ROUND = {0: 0.801, 100: 0.902, 200: 0.925, 300: 0.936, 400: 0.940, 500: 0.942}
LOGLOSS_BY_ROUND = {0: 0.412, 100: 0.151, 200: 0.118, 300: 0.104, 400: 0.099, 500: 0.097}
EXPERIMENT = "fraud-scoring"
# The training code, as MLflow records it for a run started from a git checkout.
CODE_REPO, CODE_COMMIT = "https://github.com/acme-payments/fraud-models", "5e1f0c2"


def _get(path: str) -> dict[str, str]:
    return {"Get": path}


def definition(*, role_arn: str, offline_stores: dict[str, str], blocklist: str, data_bucket: str, package_group: str) -> str:
    """The pipeline definition (JSON text); ``offline_stores`` maps a feature group to its resolved S3 URI."""
    training_set = {"Std:Join": {"On": "/", "Values": [f"s3://{data_bucket}/train", _get("Parameters.Week"), ""]}}
    inputs = [
        {"InputName": group, "S3Input": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/{group}",
                                         "S3DataType": "S3Prefix", "S3InputMode": "File"}}
        for group, uri in offline_stores.items()
    ]
    inputs.append({"InputName": "blocklist", "S3Input": {"S3Uri": blocklist, "LocalPath": "/opt/ml/processing/blocklist",
                                                         "S3DataType": "S3Prefix", "S3InputMode": "File"}})
    steps = [
        {"Name": "BuildTrainingSet", "Type": "Processing", "Arguments": {
            "AppSpecification": {"ImageUri": PROCESSING_IMAGE, "ContainerEntrypoint": ["python3", "/opt/ml/code/build.py"]},
            "RoleArn": role_arn,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {
                "S3Uri": training_set, "LocalPath": "/opt/ml/processing/train", "S3UploadMode": "EndOfJob"}}]},
        }},
        {"Name": "TrainModel", "Type": "Training", "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": TRAINING_IMAGE, "TrainingInputMode": "File"},
            "RoleArn": role_arn,
            "HyperParameters": HYPERPARAMETERS,
            "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": _get("Steps.BuildTrainingSet.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{data_bucket}/models"},
            "ResourceConfig": {"InstanceType": "ml.m5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": 7200},
            "Tags": [{"Key": "team", "Value": "payments-risk"}],
        }},
        {"Name": "RegisterModel", "Type": "RegisterModel", "Arguments": {
            "ModelPackageGroupName": package_group,
            "ModelPackageDescription": {"Std:Join": {"On": " ", "Values": ["Fraud scorer, week", _get("Parameters.Week")]}},
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": TRAINING_IMAGE, "ModelDataUrl": _get("Steps.TrainModel.ModelArtifacts.S3ModelArtifacts")}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"],
            },
        }},
    ]
    return json.dumps({
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [{"Name": "Week", "Type": "String", "DefaultValue": "2027-W14"}],
        "PipelineExperimentConfig": {"ExperimentName": _get("Execution.PipelineName"),
                                     "TrialName": _get("Execution.PipelineExecutionId")},
        "Steps": steps,
    })


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def log_training_run(tracking_uri: str, job: dict[str, Any], execution_arn: str, week: str, started_at: datetime) -> str:
    """Log the training job's MLflow run as its training script would (see the module docstring)."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import DatasetInput, InputTag
    from sklearn.linear_model import LogisticRegression

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    training_set = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    run = client.create_run(experiment_id, start_time=_ms(started_at), run_name=f"train-{week}", tags={
        "sagemaker.training_job_arn": job["TrainingJobArn"],
        "sagemaker.training_job_name": job["TrainingJobName"],
        "sagemaker.pipeline_execution_arn": execution_arn,
        "mlflow.source.type": "JOB",
        "mlflow.source.name": "train.py",
        "mlflow.source.git.repoURL": CODE_REPO,
        "mlflow.source.git.commit": CODE_COMMIT,
    })
    run_id = run.info.run_id
    for key, value in job["HyperParameters"].items():
        client.log_param(run_id, key, value)
    for step in AUC_BY_ROUND:
        at = _ms(started_at + timedelta(seconds=6 * step))
        client.log_metric(run_id, "validation:auc", AUC_BY_ROUND[step], timestamp=at, step=step)
        client.log_metric(run_id, "validation:logloss", LOGLOSS_BY_ROUND[step], timestamp=at, step=step)
    frame = pd.DataFrame({"amount": [12.5, 980.0, 33.1, 4100.0], "merchant_risk": [0.1, 0.7, 0.2, 0.9], "label": [0, 1, 0, 1]})
    dataset = mlflow.data.from_pandas(frame, source=training_set, name=f"fraud-train-{week}", targets="label")
    client.log_inputs(run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "training")])])
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        model = LogisticRegression().fit(frame[["amount", "merchant_risk"]], frame["label"])
        mlflow.sklearn.log_model(model, name="model", input_example=frame[["amount", "merchant_risk"]].head(1))
    client.set_terminated(run_id, end_time=_ms(started_at + timedelta(minutes=52)))
    return run_id
