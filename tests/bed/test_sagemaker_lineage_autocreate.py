"""SageMaker's own lineage, as the emulator auto-creates it, read back through boto3.

The scenario is the one the collector depends on: train, register, approve, deploy, then
walk QueryLineage up from the endpoint to the training data.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7"
TRAIN = "s3://credit/train/2027-W10/"
VALIDATION = "s3://credit/validation/2027-W10/"


@pytest.fixture
def sm(aws: str) -> Any:
    return boto3.client("sagemaker", endpoint_url=aws, region_name="us-east-1")


def train(sm: Any, name: str = "credit-train") -> dict[str, Any]:
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": TRAIN}}},
            {
                "ChannelName": "validation",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": VALIDATION}},
            },
        ],
        OutputDataConfig={"S3OutputPath": "s3://credit/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        CheckpointConfig={"S3Uri": "s3://credit/checkpoints/"},
    )
    return sm.describe_training_job(TrainingJobName=name)


def artifact_arn(sm: Any, uri: str) -> str:
    summaries = sm.list_artifacts(SourceUri=uri)["ArtifactSummaries"]
    assert len(summaries) == 1, summaries
    return summaries[0]["ArtifactArn"]


def edges_into(sm: Any, arn: str) -> dict[str, str]:
    """SourceArn -> AssociationType of every association ending at arn."""
    return {
        a["SourceArn"]: a["AssociationType"]
        for a in sm.list_associations(DestinationArn=arn)["AssociationSummaries"]
    }


def register_and_approve(sm: Any, model_data: str) -> str:
    sm.create_model_package_group(ModelPackageGroupName="credit-risk")
    package_arn = sm.create_model_package(
        ModelPackageGroupName="credit-risk",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": model_data}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="PendingManualApproval",
    )["ModelPackageArn"]
    sm.update_model_package(
        ModelPackageArn=package_arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="AUC 0.81 on 2027-W10 holdout",
    )
    return package_arn


def deploy(sm: Any, package_arn: str, name: str = "credit-live") -> str:
    sm.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": package_arn}]
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    return sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")["EndpointArn"]


def test_training_job_creates_trial_component_and_artifacts(sm: Any) -> None:
    job = train(sm)
    component = sm.describe_trial_component(TrialComponentName="credit-train-aws-training-job")
    tc_arn = component["TrialComponentArn"]
    assert tc_arn == "arn:aws:sagemaker:us-east-1:123456789012:experiment-trial-component/credit-train-aws-training-job"

    inputs = edges_into(sm, tc_arn)
    assert inputs == {
        artifact_arn(sm, IMAGE): "ContributedTo",
        artifact_arn(sm, TRAIN): "ContributedTo",
        artifact_arn(sm, VALIDATION): "ContributedTo",
    }
    outputs = {
        a["DestinationArn"]: (a["AssociationType"], a["DestinationType"])
        for a in sm.list_associations(SourceArn=tc_arn)["AssociationSummaries"]
    }
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert outputs == {
        artifact_arn(sm, model_uri): ("Produced", "Model"),
        artifact_arn(sm, "s3://credit/checkpoints/"): ("Produced", "Checkpoint"),
    }
    types = {
        a["Source"]["SourceUri"]: a["ArtifactType"]
        for a in sm.list_artifacts()["ArtifactSummaries"]
    }
    assert types[IMAGE] == "Image" and types[TRAIN] == "DataSet" and types[model_uri] == "Model"


def test_two_jobs_share_one_artifact_per_source_uri(sm: Any) -> None:
    train(sm, "credit-train-a")
    train(sm, "credit-train-b")
    dataset = artifact_arn(sm, TRAIN)  # asserts exactly one
    sources = sm.list_associations(SourceArn=dataset)["AssociationSummaries"]
    assert {s["DestinationName"] for s in sources} == {
        "credit-train-a-aws-training-job",
        "credit-train-b-aws-training-job",
    }


def test_processing_job_creates_image_input_and_output_artifacts(sm: Any) -> None:
    sm.create_processing_job(
        ProcessingJobName="credit-features",
        AppSpecification={"ImageUri": IMAGE},
        RoleArn=ROLE,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        ProcessingInputs=[
            {
                "InputName": "raw",
                "S3Input": {"S3Uri": "s3://credit/raw/", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix"},
            }
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {"S3Uri": TRAIN, "LocalPath": "/opt/ml/processing/train", "S3UploadMode": "EndOfJob"},
                }
            ]
        },
    )
    tc = "arn:aws:sagemaker:us-east-1:123456789012:experiment-trial-component/credit-features-aws-processing-job"
    assert edges_into(sm, tc) == {
        artifact_arn(sm, IMAGE): "ContributedTo",
        artifact_arn(sm, "s3://credit/raw/"): "ContributedTo",
    }
    assert edges_into(sm, artifact_arn(sm, TRAIN)) == {tc: "Produced"}
    vertices = sm.query_lineage(StartArns=[tc], Direction="Descendants")["Vertices"]
    assert vertices == [{"Arn": artifact_arn(sm, TRAIN), "Type": "DataSet", "LineageType": "Artifact"}]


def test_model_package_creates_group_context_artifact_and_creation_action(sm: Any) -> None:
    job = train(sm)
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    package_arn = register_and_approve(sm, model_uri)
    package = artifact_arn(sm, package_arn)
    group_arn = sm.describe_model_package_group(ModelPackageGroupName="credit-risk")["ModelPackageGroupArn"]

    contexts = sm.list_contexts(SourceUri=group_arn)["ContextSummaries"]
    assert [c["ContextType"] for c in contexts] == ["ModelGroup"]
    assert contexts[0]["ContextName"].endswith("-aws-model-package-group")
    assert edges_into(sm, contexts[0]["ContextArn"]) == {package: "AssociatedWith"}

    into_package = edges_into(sm, package)
    creation = sm.list_actions(ActionType="ModelPackageCreation")["ActionSummaries"]
    assert len(creation) == 1
    assert into_package[creation[0]["ActionArn"]] == "Produced"
    assert into_package[artifact_arn(sm, model_uri)] == "ContributedTo"
    assert into_package[artifact_arn(sm, IMAGE)] == "ContributedTo"


def test_approval_records_action_with_who_and_when(sm: Any) -> None:
    job = train(sm)
    package_arn = register_and_approve(sm, job["ModelArtifacts"]["S3ModelArtifacts"])
    approvals = sm.list_actions(ActionType="Approval", SortBy="CreationTime", SortOrder="Ascending")
    summaries = approvals["ActionSummaries"]
    # One for the status set at registration, one for the approval.
    assert len(summaries) == 2
    approved = sm.describe_action(ActionName=summaries[-1]["ActionName"])
    assert approved["Source"]["SourceUri"] == package_arn
    assert approved["Properties"]["ModelApprovalStatus"] == "Approved"
    assert approved["Properties"]["ApprovalDescription"] == "AUC 0.81 on 2027-W10 holdout"
    assert approved["Properties"]["ApprovedBy"] == "arn:aws:sts::123456789012:user/moto"
    assert approved["CreatedBy"]["IamIdentity"]["Arn"] == "arn:aws:sts::123456789012:user/moto"
    assert "ApprovalTime" in approved["Properties"]
    assert edges_into(sm, artifact_arn(sm, package_arn))[approved["ActionArn"]] == "AssociatedWith"


def test_endpoint_creates_context_deployment_action_and_artifacts(sm: Any) -> None:
    job = train(sm)
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    package_arn = register_and_approve(sm, model_uri)
    endpoint_arn = deploy(sm, package_arn)

    [context] = sm.list_contexts(SourceUri=endpoint_arn)["ContextSummaries"]
    assert context["ContextType"] == "Endpoint"
    assert context["ContextName"].startswith("credit-live-") and context["ContextName"].endswith("-aws-endpoint")
    [deployment] = sm.list_actions(ActionType="ModelDeployment")["ActionSummaries"]
    assert edges_into(sm, context["ContextArn"]) == {deployment["ActionArn"]: "AssociatedWith"}
    assert edges_into(sm, deployment["ActionArn"]) == {
        artifact_arn(sm, model_uri): "ContributedTo",
        artifact_arn(sm, IMAGE): "ContributedTo",
        artifact_arn(sm, package_arn): "ContributedTo",
    }


def test_query_lineage_from_endpoint_reaches_training_data(sm: Any) -> None:
    job = train(sm)
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    package_arn = register_and_approve(sm, model_uri)
    endpoint_arn = deploy(sm, package_arn)
    [context] = sm.list_contexts(SourceUri=endpoint_arn)["ContextSummaries"]

    response = sm.query_lineage(
        StartArns=[context["ContextArn"]], Direction="Ascendants", IncludeEdges=True, MaxDepth=10
    )
    datasets = {v["Arn"] for v in response["Vertices"] if v["Type"] == "DataSet"}
    assert datasets == {artifact_arn(sm, TRAIN), artifact_arn(sm, VALIDATION)}

    edges = {(e["SourceArn"], e["DestinationArn"]): e["AssociationType"] for e in response["Edges"]}
    [deployment] = sm.list_actions(ActionType="ModelDeployment")["ActionSummaries"]
    tc = sm.describe_trial_component(TrialComponentName="credit-train-aws-training-job")["TrialComponentArn"]
    model = artifact_arn(sm, model_uri)
    # The path Endpoint <- ModelDeployment <- Model <- TrainingJob <- DataSet, typed.
    assert edges[(deployment["ActionArn"], context["ContextArn"])] == "AssociatedWith"
    assert edges[(model, deployment["ActionArn"])] == "ContributedTo"
    assert edges[(tc, model)] == "Produced"
    assert edges[(artifact_arn(sm, TRAIN), tc)] == "ContributedTo"

    # Filters pick what comes back; the walk still passes through the rest.
    only = sm.query_lineage(
        StartArns=[context["ContextArn"]],
        Direction="Ascendants",
        Filters={"Types": ["DataSet"], "LineageTypes": ["Artifact"]},
    )
    assert {v["Arn"] for v in only["Vertices"]} == datasets
    assert only["Edges"] == []
    # Four hops separate the endpoint from its training data.
    assert not any(
        v["Type"] == "DataSet"
        for v in sm.query_lineage(StartArns=[context["ContextArn"]], Direction="Ascendants", MaxDepth=3)[
            "Vertices"
        ]
    )
    approvals = sm.query_lineage(
        StartArns=[context["ContextArn"]],
        Direction="Ascendants",
        Filters={"Types": ["Approval"], "Properties": {"ModelApprovalStatus": "Approved"}},
    )["Vertices"]
    assert len(approvals) == 1


def test_reset_clears_lineage(sm: Any, aws: str) -> None:
    import requests

    train(sm)
    assert sm.list_artifacts()["ArtifactSummaries"]
    requests.post(f"{aws}/moto-api/reset", timeout=30).raise_for_status()
    assert sm.list_artifacts()["ArtifactSummaries"] == []
    assert sm.list_associations()["AssociationSummaries"] == []
