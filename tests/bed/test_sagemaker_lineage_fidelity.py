"""Every response of every lineage action matches botocore's output shape for it.

boto3 validates what we send; this validates what the emulator sends back, by walking
the operation's output shape in botocore's SageMaker model: on the raw JSON body (no
member the model does not know, required members present, JSON types right) and on
boto3's parsed result (Python types right, enums and ARN patterns respected).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
import pytest

from crossline_bed.shapes import shape_errors

LINEAGE_OPERATIONS = {
    "CreateArtifact",
    "DescribeArtifact",
    "ListArtifacts",
    "UpdateArtifact",
    "DeleteArtifact",
    "CreateAction",
    "DescribeAction",
    "ListActions",
    "UpdateAction",
    "DeleteAction",
    "CreateContext",
    "DescribeContext",
    "ListContexts",
    "UpdateContext",
    "DeleteContext",
    "AddAssociation",
    "DeleteAssociation",
    "ListAssociations",
    "QueryLineage",
}

MODEL = botocore.session.get_session().get_service_model("sagemaker")


def test_walker_catches_departures() -> None:
    """The walker itself: a wrong response must be reported, or the fidelity test proves nothing."""
    shape = MODEL.operation_model("QueryLineage").output_shape
    good = {"Vertices": [{"Arn": "arn:aws:sagemaker:us-east-1:123456789012:context/x", "LineageType": "Context"}]}
    assert list(shape_errors(good, shape, "QueryLineage", raw=True)) == []
    bad = {
        "Vertices": [{"Arn": 3, "LineageType": "Experiment", "Extra": 1}],
        "Edges": {},
        "Unknown": True,
    }
    problems = list(shape_errors(bad, shape, "QueryLineage", raw=True))
    assert len(problems) == 5, problems
    describe = MODEL.operation_model("DescribeArtifact").output_shape
    assert list(shape_errors({"CreationTime": "yesterday"}, describe, "D", raw=True))
    assert list(shape_errors({"ArtifactArn": "arn:aws:s3:::bucket"}, describe, "D", raw=True))


@pytest.fixture
def recorded(aws: str) -> tuple[Any, list[tuple[str, Any, Any]]]:
    """A SageMaker client and the (operation, raw JSON body, parsed result) of each call."""
    client = boto3.client("sagemaker", endpoint_url=aws, region_name="us-east-1")
    calls: list[tuple[str, Any, Any]] = []

    def after_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        body = http_response.content
        calls.append((model.name, json.loads(body) if body else {}, parsed))

    client.meta.events.register("after-call.sagemaker", after_call)
    return client, calls


def exercise_every_lineage_action(sm: Any) -> None:
    """Call each lineage action with its optional parameters, over auto-created lineage too."""
    role = "arn:aws:iam::123456789012:role/r"
    sm.create_training_job(
        TrainingJobName="fid-train",
        AlgorithmSpecification={"TrainingImage": "ecr/img:1", "TrainingInputMode": "File"},
        RoleArn=role,
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://f/train"}}}],
        OutputDataConfig={"S3OutputPath": "s3://f/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    model_uri = sm.describe_training_job(TrainingJobName="fid-train")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model_package_group(ModelPackageGroupName="fid-group")
    package = sm.create_model_package(
        ModelPackageGroupName="fid-group",
        InferenceSpecification={
            "Containers": [{"Image": "ecr/img:1", "ModelDataUrl": model_uri}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    sm.create_model(ModelName="fid-model", ExecutionRoleArn=role, Containers=[{"ModelPackageName": package}])
    sm.create_endpoint_config(
        EndpointConfigName="fid-cfg",
        ProductionVariants=[{"VariantName": "v", "ModelName": "fid-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )
    endpoint = sm.create_endpoint(EndpointName="fid-ep", EndpointConfigName="fid-cfg")["EndpointArn"]

    artifact = sm.create_artifact(
        ArtifactName="fid-artifact",
        Source={"SourceUri": "s3://f/manual", "SourceTypes": [{"SourceIdType": "S3ETag", "Value": "abc"}]},
        ArtifactType="DataSet",
        Properties={"k": "v"},
        MetadataProperties={"CommitId": "abc123", "Repository": "repo", "GeneratedBy": "me", "ProjectId": "p"},
        Tags=[{"Key": "team", "Value": "risk"}],
    )["ArtifactArn"]
    action = sm.create_action(
        ActionName="fid-action",
        Source={"SourceUri": "s3://f/action", "SourceType": "Custom", "SourceId": "1"},
        ActionType="Custom",
        Description="d",
        Status="InProgress",
        Properties={"k": "v"},
        MetadataProperties={"GeneratedBy": "me"},
    )["ActionArn"]
    context = sm.create_context(
        ContextName="fid-context",
        Source={"SourceUri": "s3://f/context", "SourceType": "Custom", "SourceId": "1"},
        ContextType="Custom",
        Description="d",
        Properties={"k": "v"},
    )["ContextArn"]
    sm.add_association(SourceArn=artifact, DestinationArn=action, AssociationType="ContributedTo")
    sm.add_association(SourceArn=action, DestinationArn=context)  # no type: it is optional

    sm.describe_artifact(ArtifactArn=artifact)
    sm.describe_action(ActionName="fid-action")
    sm.describe_context(ContextName="fid-context")
    for auto in sm.list_actions()["ActionSummaries"]:
        sm.describe_action(ActionName=auto["ActionName"])
    for auto in sm.list_contexts()["ContextSummaries"]:
        sm.describe_context(ContextName=auto["ContextName"])
    for auto in sm.list_artifacts(MaxResults=2)["ArtifactSummaries"]:
        sm.describe_artifact(ArtifactArn=auto["ArtifactArn"])
    sm.list_artifacts(MaxResults=1, SortBy="CreationTime", SortOrder="Ascending")
    sm.list_actions(ActionType="Custom", SortBy="Name")
    sm.list_contexts(SourceUri="s3://f/context")
    sm.list_associations(MaxResults=3, SortBy="SourceType")
    sm.list_associations(SourceArn=action)
    [endpoint_context] = sm.list_contexts(SourceUri=endpoint)["ContextSummaries"]
    for direction in ("Ascendants", "Descendants", "Both"):
        sm.query_lineage(StartArns=[endpoint_context["ContextArn"]], Direction=direction, IncludeEdges=True, MaxResults=3)
    sm.query_lineage(StartArns=[artifact], Direction="Descendants", IncludeEdges=False, Filters={"LineageTypes": ["Context"]})
    sm.query_lineage(StartArns=[])

    sm.update_artifact(ArtifactArn=artifact, ArtifactName="fid-artifact-2", PropertiesToRemove=["k"])
    sm.update_action(ActionName="fid-action", Status="Completed")
    sm.update_context(ContextName="fid-context", Properties={"x": "y"})
    sm.delete_association(SourceArn=action, DestinationArn=context)
    sm.delete_artifact(ArtifactArn=artifact)
    sm.delete_action(ActionName="fid-action")
    sm.delete_context(ContextName="fid-context")


def test_every_lineage_response_matches_its_output_shape(
    recorded: tuple[Any, list[tuple[str, Any, Any]]],
) -> None:
    client, calls = recorded
    exercise_every_lineage_action(client)
    lineage_calls = [call for call in calls if call[0] in LINEAGE_OPERATIONS]
    assert {name for name, _, _ in lineage_calls} == LINEAGE_OPERATIONS

    problems: list[str] = []
    for name, raw, parsed in lineage_calls:
        shape = MODEL.operation_model(name).output_shape
        problems += shape_errors(raw, shape, f"{name}(raw)", raw=True)
        body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
        problems += shape_errors(body, shape, f"{name}(parsed)", raw=False)
    assert problems == []
