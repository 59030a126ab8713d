"""UpdateEndpoint and CreateEndpoint-on-an-existing-name, through boto3 against the moto server.

The swap is the scenario's blue/green deployment of v74 over v73 on ``credit-prod``.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7"
ENDPOINT = "credit-prod"
ENDPOINT_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}"
BLUE_GREEN = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
        "TerminationWaitInSeconds": 0,
    }
}


@pytest.fixture
def sm(aws: str) -> Any:
    return boto3.client("sagemaker", endpoint_url=aws, region_name="us-east-1")


def config_for(sm: Any, version: int, weight: float = 1.0, instances: int = 1) -> str:
    """Model and endpoint config serving package version ``version`` as variant credit-prod-v{n}."""
    model = f"credit-xgb-v{version}"
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://credit/models/v{version}/model.tar.gz"},
    )
    name = f"credit-prod-v{version}-config"
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": f"credit-prod-v{version}",
                "ModelName": model,
                "InitialInstanceCount": instances,
                "InitialVariantWeight": weight,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    return name


def test_update_endpoint_swaps_to_the_new_config(sm: Any) -> None:
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_for(sm, 73))
    before = sm.describe_endpoint(EndpointName=ENDPOINT)
    new_config = config_for(sm, 74)

    answer = sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=new_config, DeploymentConfig=BLUE_GREEN)

    assert answer["EndpointArn"] == ENDPOINT_ARN
    after = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert after["EndpointConfigName"] == new_config
    assert [v["VariantName"] for v in after["ProductionVariants"]] == ["credit-prod-v74"]
    assert after["EndpointStatus"] == "InService"
    assert after["CreationTime"] == before["CreationTime"]
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    assert after["LastDeploymentConfig"] == BLUE_GREEN


def test_update_endpoint_records_a_second_model_deployment(sm: Any) -> None:
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_for(sm, 73))
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_for(sm, 74))

    history = sm.list_actions(
        SourceUri=ENDPOINT_ARN, ActionType="ModelDeployment", SortBy="CreationTime", SortOrder="Ascending"
    )["ActionSummaries"]
    assert len(history) == 2
    assert history[0]["CreationTime"] <= history[1]["CreationTime"]
    configs = [sm.describe_action(ActionName=a["ActionName"])["Properties"]["EndpointConfigName"] for a in history]
    assert configs == ["credit-prod-v73-config", "credit-prod-v74-config"]

    # Both deployments hang off the one Endpoint context, each with its own model.
    [context] = sm.list_contexts(SourceUri=ENDPOINT_ARN)["ContextSummaries"]
    assert sm.describe_context(ContextName=context["ContextName"])["Properties"] == {
        "EndpointConfigName": "credit-prod-v74-config"
    }
    response = sm.query_lineage(StartArns=[context["ContextArn"]], Direction="Ascendants", IncludeEdges=True)
    deployments = {v["Arn"] for v in response["Vertices"] if v["Type"] == "ModelDeployment"}
    assert deployments == {a["ActionArn"] for a in history}
    models = {
        sm.describe_artifact(ArtifactArn=v["Arn"])["Source"]["SourceUri"]: v["Arn"]
        for v in response["Vertices"]
        if v["Type"] == "Model"
    }
    edges = {(e["SourceArn"], e["DestinationArn"]) for e in response["Edges"]}
    assert (models["s3://credit/models/v73/model.tar.gz"], history[0]["ActionArn"]) in edges
    assert (models["s3://credit/models/v74/model.tar.gz"], history[1]["ActionArn"]) in edges


def test_retain_all_variant_properties_keeps_weights_of_same_named_variants(sm: Any) -> None:
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    for name, weight, instances in (("a", 0.5, 2), ("b", 1.0, 1)):
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": "m",
                    "InitialInstanceCount": instances,
                    "InitialVariantWeight": weight,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="a")

    sm.update_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName="b",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
    )

    [variant] = sm.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    assert variant["CurrentWeight"] == 0.5  # retained
    assert variant["CurrentInstanceCount"] == 1  # excluded from retention: the new config's


def test_update_unknown_endpoint_is_a_validation_error(sm: Any) -> None:
    config = config_for(sm, 74)
    with pytest.raises(ClientError) as err:
        sm.update_endpoint(EndpointName="nope", EndpointConfigName=config)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == (
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope".'
    )


def test_update_to_unknown_config_is_a_validation_error_and_changes_nothing(sm: Any) -> None:
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_for(sm, 73))
    with pytest.raises(ClientError) as err:
        sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="nope")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == (
        'Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/nope".'
    )
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == "credit-prod-v73-config"
    assert len(sm.list_actions(ActionType="ModelDeployment")["ActionSummaries"]) == 1


def test_create_endpoint_on_an_existing_name_is_refused_as_aws_does(sm: Any) -> None:
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_for(sm, 73))
    with pytest.raises(ClientError) as err:
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_for(sm, 74))
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationException"
    # Airflow's SageMakerEndpointOperator falls back to UpdateEndpoint on this prefix.
    assert error["Message"] == f'Cannot create already existing endpoint "{ENDPOINT_ARN}".'
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == "credit-prod-v73-config"
    assert len(sm.list_actions(ActionType="ModelDeployment")["ActionSummaries"]) == 1
