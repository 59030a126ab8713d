"""The lineage API of the emulator through boto3: CRUD, listing, pagination and AWS's errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT_REGION = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture
def sm(aws: str) -> Any:
    return boto3.client("sagemaker", endpoint_url=aws, region_name="us-east-1")


def new_artifact(sm: Any, uri: str, kind: str = "DataSet", **extra: Any) -> str:
    return sm.create_artifact(Source={"SourceUri": uri}, ArtifactType=kind, **extra)["ArtifactArn"]


def new_action(sm: Any, name: str, kind: str = "ModelDeployment") -> str:
    return sm.create_action(ActionName=name, Source={"SourceUri": f"s3://x/{name}"}, ActionType=kind)[
        "ActionArn"
    ]


def new_context(sm: Any, name: str, kind: str = "Endpoint") -> str:
    return sm.create_context(ContextName=name, Source={"SourceUri": f"s3://x/{name}"}, ContextType=kind)[
        "ContextArn"
    ]


# ---- ARNs and CRUD ------------------------------------------------------------------------
def test_arns_follow_aws_formats(sm: Any) -> None:
    assert re.fullmatch(f"{ACCOUNT_REGION}:artifact/[0-9a-f]{{32}}", new_artifact(sm, "s3://b/k"))
    assert new_action(sm, "deploy-1") == f"{ACCOUNT_REGION}:action/deploy-1"
    assert new_context(sm, "ctx_1") == f"{ACCOUNT_REGION}:context/ctx_1"


def test_artifact_describe_update_delete(sm: Any) -> None:
    arn = new_artifact(sm, "s3://b/k", ArtifactName="train", Properties={"a": "1", "b": "2"})
    described = sm.describe_artifact(ArtifactArn=arn)
    assert described["ArtifactName"] == "train"
    assert described["Properties"] == {"a": "1", "b": "2"}
    assert described["Source"] == {"SourceUri": "s3://b/k"}
    sm.update_artifact(ArtifactArn=arn, ArtifactName="train-v2", Properties={"c": "3"}, PropertiesToRemove=["a"])
    updated = sm.describe_artifact(ArtifactArn=arn)
    assert updated["ArtifactName"] == "train-v2"
    assert updated["Properties"] == {"b": "2", "c": "3"}
    assert updated["LastModifiedTime"] >= described["LastModifiedTime"]
    assert sm.delete_artifact(Source={"SourceUri": "s3://b/k"})["ArtifactArn"] == arn
    assert sm.list_artifacts()["ArtifactSummaries"] == []


def test_action_describe_update_delete(sm: Any) -> None:
    arn = new_action(sm, "deploy")
    sm.update_action(ActionName="deploy", Status="Completed", Description="blue/green", Properties={"k": "v"})
    described = sm.describe_action(ActionName=arn)  # by ARN as well as by name
    assert (described["Status"], described["Description"], described["Properties"]) == (
        "Completed",
        "blue/green",
        {"k": "v"},
    )
    assert sm.delete_action(ActionName="deploy")["ActionArn"] == arn
    assert sm.list_actions()["ActionSummaries"] == []


def test_context_describe_update_delete_cascades_associations(sm: Any) -> None:
    context = new_context(sm, "ep")
    artifact = new_artifact(sm, "s3://b/model.tar.gz", "Model")
    sm.add_association(SourceArn=artifact, DestinationArn=context, AssociationType="ContributedTo")
    sm.update_context(ContextName="ep", Description="live", Properties={"stage": "prod"})
    described = sm.describe_context(ContextName="ep")
    assert described["Description"] == "live" and described["Properties"] == {"stage": "prod"}
    sm.delete_context(ContextName="ep")
    assert sm.list_associations(SourceArn=artifact)["AssociationSummaries"] == []


def test_list_filters(sm: Any) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    new_artifact(sm, "s3://b/1", "DataSet")
    new_artifact(sm, "s3://b/2", "Model")
    new_action(sm, "a1", "ModelDeployment")
    new_action(sm, "a2", "Approval")
    new_context(sm, "c1", "Endpoint")
    new_context(sm, "c2", "ModelGroup")
    assert [a["Source"]["SourceUri"] for a in sm.list_artifacts(ArtifactType="Model")["ArtifactSummaries"]] == [
        "s3://b/2"
    ]
    assert len(sm.list_artifacts(SourceUri="s3://b/1")["ArtifactSummaries"]) == 1
    assert len(sm.list_artifacts(CreatedAfter=before)["ArtifactSummaries"]) == 2
    assert sm.list_artifacts(CreatedBefore=before)["ArtifactSummaries"] == []
    assert [a["ActionName"] for a in sm.list_actions(ActionType="Approval")["ActionSummaries"]] == ["a2"]
    assert [c["ContextName"] for c in sm.list_contexts(SortBy="Name", SortOrder="Ascending")["ContextSummaries"]] == [
        "c1",
        "c2",
    ]
    assert [c["ContextName"] for c in sm.list_contexts(SortBy="Name")["ContextSummaries"]] == ["c2", "c1"]
    assert [c["ContextName"] for c in sm.list_contexts(ContextType="ModelGroup")["ContextSummaries"]] == ["c2"]


def test_list_associations_filters_and_sorting(sm: Any) -> None:
    data = new_artifact(sm, "s3://b/train", "DataSet")
    image = new_artifact(sm, "ecr/image:1", "Image")
    model = new_artifact(sm, "s3://b/model.tar.gz", "Model")
    deploy = new_action(sm, "deploy", "ModelDeployment")
    sm.add_association(SourceArn=data, DestinationArn=model, AssociationType="DerivedFrom")
    sm.add_association(SourceArn=image, DestinationArn=deploy, AssociationType="ContributedTo")
    sm.add_association(SourceArn=model, DestinationArn=deploy, AssociationType="ContributedTo")

    def pairs(**kwargs: Any) -> list[tuple[str, str]]:
        rows = sm.list_associations(**kwargs)["AssociationSummaries"]
        return [(r["SourceArn"], r["DestinationArn"]) for r in rows]

    assert pairs(DestinationArn=deploy, SortBy="CreationTime", SortOrder="Ascending") == [
        (image, deploy),
        (model, deploy),
    ]
    assert pairs(SourceArn=data) == [(data, model)]
    assert pairs(SourceType="Image") == [(image, deploy)]
    assert pairs(DestinationType="Model") == [(data, model)]
    assert pairs(AssociationType="DerivedFrom") == [(data, model)]
    assert pairs(CreatedBefore=datetime.now(timezone.utc) - timedelta(hours=1)) == []
    assert len(pairs(CreatedAfter=datetime.now(timezone.utc) - timedelta(hours=1))) == 3
    by_type = sm.list_associations(SortBy="SourceType", SortOrder="Ascending")["AssociationSummaries"]
    assert [r["SourceType"] for r in by_type] == ["DataSet", "Image", "Model"]
    row = sm.list_associations(SourceArn=image)["AssociationSummaries"][0]
    assert (row["SourceType"], row["DestinationType"], row["DestinationName"]) == (
        "Image",
        "ModelDeployment",
        "deploy",
    )
    sm.delete_association(SourceArn=image, DestinationArn=deploy)
    assert pairs(SourceArn=image) == []


def test_query_lineage_directions_and_depth(sm: Any) -> None:
    # chain a -> b -> c -> d
    arns = [new_artifact(sm, f"s3://chain/{i}") for i in range(4)]
    for source, destination in zip(arns, arns[1:]):
        sm.add_association(SourceArn=source, DestinationArn=destination, AssociationType="DerivedFrom")

    def reached(start: str, direction: str, depth: int = 10) -> set[str]:
        response = sm.query_lineage(StartArns=[start], Direction=direction, MaxDepth=depth)
        return {v["Arn"] for v in response["Vertices"]}

    assert reached(arns[3], "Ascendants") == set(arns[:3])
    assert reached(arns[0], "Descendants") == set(arns[1:])
    assert reached(arns[1], "Both") == {arns[0], arns[2], arns[3]}
    assert reached(arns[3], "Ascendants", depth=1) == {arns[2]}
    assert reached(arns[3], "Descendants") == set()
    assert sm.query_lineage(StartArns=[arns[3]], Direction="Ascendants")["Edges"] == []


def test_query_lineage_time_filters(sm: Any) -> None:
    start = new_context(sm, "q")
    old = new_artifact(sm, "s3://t/old")
    sm.add_association(SourceArn=old, DestinationArn=start)
    cut = datetime.now(timezone.utc)
    import time

    time.sleep(0.05)
    new = new_artifact(sm, "s3://t/new")
    sm.add_association(SourceArn=new, DestinationArn=start)

    def query(**filters: Any) -> set[str]:
        response = sm.query_lineage(StartArns=[start], Direction="Ascendants", Filters=filters)
        return {v["Arn"] for v in response["Vertices"]}

    assert query(CreatedAfter=cut) == {new}
    assert query(CreatedBefore=cut) == {old}
    sm.update_artifact(ArtifactArn=old, Properties={"touched": "yes"})
    assert query(ModifiedAfter=cut) == {old, new}
    assert query(ModifiedBefore=cut) == set()
    assert query(Properties={"touched": "yes"}) == {old}
    assert query(LineageTypes=["Context"]) == set()


# ---- pagination ---------------------------------------------------------------------------
def walk(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield page[key]
        token = page.get("NextToken")
        if not token:
            return


@pytest.mark.parametrize(
    ("operation", "key", "arn_key", "count"),
    [
        ("list_artifacts", "ArtifactSummaries", "ArtifactArn", 23),
        ("list_actions", "ActionSummaries", "ActionArn", 23),
        ("list_contexts", "ContextSummaries", "ContextArn", 23),
    ],
)
def test_list_pagination_walks_every_page_once(
    sm: Any, operation: str, key: str, arn_key: str, count: int
) -> None:
    created = set()
    for i in range(count):
        if operation == "list_artifacts":
            created.add(new_artifact(sm, f"s3://page/{i}"))
        elif operation == "list_actions":
            created.add(new_action(sm, f"act-{i}"))
        else:
            created.add(new_context(sm, f"ctx-{i}"))
    pages = list(walk(getattr(sm, operation), key, MaxResults=5))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    seen = [row[arn_key] for page in pages for row in page]
    assert len(seen) == len(set(seen)) == count
    assert set(seen) == created
    # boto3's own paginator agrees
    paginated = [
        row[arn_key]
        for page in sm.get_paginator(operation).paginate(PaginationConfig={"PageSize": 7})
        for row in page[key]
    ]
    assert sorted(paginated) == sorted(seen)


def test_list_associations_pagination(sm: Any) -> None:
    hub = new_context(sm, "hub")
    sources = {new_artifact(sm, f"s3://assoc/{i}") for i in range(12)}
    for source in sources:
        sm.add_association(SourceArn=source, DestinationArn=hub, AssociationType="ContributedTo")
    pages = list(walk(sm.list_associations, "AssociationSummaries", DestinationArn=hub, MaxResults=5))
    assert [len(p) for p in pages] == [5, 5, 2]
    seen = [row["SourceArn"] for page in pages for row in page]
    assert len(seen) == len(set(seen)) and set(seen) == sources


def test_query_lineage_pagination(sm: Any) -> None:
    hub = new_context(sm, "hub")
    sources = {new_artifact(sm, f"s3://q/{i}") for i in range(60)}
    for source in sources:
        sm.add_association(SourceArn=source, DestinationArn=hub, AssociationType="ContributedTo")
    pages = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"NextToken": token} if token else {}
        page = sm.query_lineage(StartArns=[hub], Direction="Ascendants", IncludeEdges=True, MaxResults=25, **kwargs)
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p["Vertices"]) for p in pages] == [25, 25, 10]
    vertices = [v["Arn"] for p in pages for v in p["Vertices"]]
    edges = [(e["SourceArn"], e["DestinationArn"]) for p in pages for e in p["Edges"]]
    assert len(vertices) == len(set(vertices)) and set(vertices) == sources
    assert len(edges) == len(set(edges)) == 60
    default = sm.query_lineage(StartArns=[hub], Direction="Ascendants")
    assert len(default["Vertices"]) == 50 and "NextToken" in default


# ---- errors -------------------------------------------------------------------------------
def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def token_from_other_request(sm: Any) -> Any:
    new_artifact(sm, "s3://seed/other")
    token = sm.list_artifacts(MaxResults=1)["NextToken"]
    return sm.list_artifacts(ArtifactType="Model", NextToken=token)


MISSING_ARTIFACT = f"{ACCOUNT_REGION}:artifact/{'0' * 32}"
MISSING_CONTEXT = f"{ACCOUNT_REGION}:context/nowhere"


@pytest.fixture
def seeded(sm: Any) -> dict[str, str]:
    return {
        "artifact": new_artifact(sm, "s3://seed/data"),
        "context": new_context(sm, "seed-ctx"),
        "action": new_action(sm, "seed-action"),
    }


NEGATIVE_CASES: list[tuple[str, Callable[[Any, dict[str, str]], Any], str]] = [
    # ValidationException: bad parameters
    ("duplicate SourceUri", lambda sm, s: new_artifact(sm, "s3://seed/data"), "ValidationException"),
    ("duplicate action name", lambda sm, s: new_action(sm, "seed-action"), "ValidationException"),
    ("duplicate context name", lambda sm, s: new_context(sm, "seed-ctx"), "ValidationException"),
    ("bad artifact name", lambda sm, s: new_artifact(sm, "s3://n", ArtifactName="bad_name!"), "ValidationException"),
    ("bad action name", lambda sm, s: new_action(sm, "-leading-dash"), "ValidationException"),
    ("bad context name", lambda sm, s: new_context(sm, "has space"), "ValidationException"),
    (
        "too many properties",
        lambda sm, s: new_artifact(sm, "s3://p", Properties={str(i): "v" for i in range(31)}),
        "ValidationException",
    ),
    (
        "duplicate association",
        lambda sm, s: [sm.add_association(SourceArn=s["artifact"], DestinationArn=s["context"]) for _ in range(2)],
        "ValidationException",
    ),
    (
        "association between two trial components",
        lambda sm, s: sm.add_association(
            SourceArn=sm.create_trial_component(TrialComponentName="tc-a")["TrialComponentArn"],
            DestinationArn=sm.create_trial_component(TrialComponentName="tc-b")["TrialComponentArn"],
        ),
        "ValidationException",
    ),
    (
        "malformed association ARN",
        lambda sm, s: sm.add_association(SourceArn="arn:aws:s3:::bucket", DestinationArn=s["context"]),
        "ValidationException",
    ),
    ("two StartArns", lambda sm, s: sm.query_lineage(StartArns=[s["artifact"], s["context"]]), "ValidationException"),
    ("MaxDepth 11", lambda sm, s: sm.query_lineage(StartArns=[s["context"]], MaxDepth=11), "ValidationException"),
    ("MaxResults 51", lambda sm, s: sm.query_lineage(StartArns=[s["context"]], MaxResults=51), "ValidationException"),
    (
        "bad LineageTypes",
        lambda sm, s: sm.query_lineage(StartArns=[s["context"]], Filters={"LineageTypes": ["Experiment"]}),
        "ValidationException",
    ),
    ("garbage NextToken", lambda sm, s: sm.list_artifacts(NextToken="not-a-token"), "ValidationException"),
    ("NextToken from another request", lambda sm, s: token_from_other_request(sm), "ValidationException"),
    ("DeleteArtifact without ARN or Source", lambda sm, s: sm.delete_artifact(), "ValidationException"),
    # ResourceNotFound
    ("describe missing artifact", lambda sm, s: sm.describe_artifact(ArtifactArn=MISSING_ARTIFACT), "ResourceNotFound"),
    ("describe missing action", lambda sm, s: sm.describe_action(ActionName="nope"), "ResourceNotFound"),
    ("describe missing context", lambda sm, s: sm.describe_context(ContextName="nope"), "ResourceNotFound"),
    ("update missing artifact", lambda sm, s: sm.update_artifact(ArtifactArn=MISSING_ARTIFACT), "ResourceNotFound"),
    ("update missing action", lambda sm, s: sm.update_action(ActionName="nope"), "ResourceNotFound"),
    ("update missing context", lambda sm, s: sm.update_context(ContextName="nope"), "ResourceNotFound"),
    ("delete missing artifact", lambda sm, s: sm.delete_artifact(ArtifactArn=MISSING_ARTIFACT), "ResourceNotFound"),
    (
        "delete artifact by unknown Source",
        lambda sm, s: sm.delete_artifact(Source={"SourceUri": "s3://nothing"}),
        "ResourceNotFound",
    ),
    ("delete missing action", lambda sm, s: sm.delete_action(ActionName="nope"), "ResourceNotFound"),
    ("delete missing context", lambda sm, s: sm.delete_context(ContextName="nope"), "ResourceNotFound"),
    (
        "association to missing entity",
        lambda sm, s: sm.add_association(SourceArn=s["artifact"], DestinationArn=MISSING_CONTEXT),
        "ResourceNotFound",
    ),
    (
        "delete missing association",
        lambda sm, s: sm.delete_association(SourceArn=s["artifact"], DestinationArn=s["context"]),
        "ResourceNotFound",
    ),
    ("query from missing ARN", lambda sm, s: sm.query_lineage(StartArns=[MISSING_CONTEXT]), "ResourceNotFound"),
]


@pytest.mark.parametrize(
    ("call", "code"), [case[1:] for case in NEGATIVE_CASES], ids=[case[0] for case in NEGATIVE_CASES]
)
def test_errors_carry_aws_codes(
    sm: Any, seeded: dict[str, str], call: Callable[[Any, dict[str, str]], Any], code: str
) -> None:
    assert error_code(lambda: call(sm, seeded)) == code


@pytest.mark.parametrize(
    ("kind", "limit"),
    [("context", 500), ("action", 3000)],
)
def test_resource_limit_exceeded_at_documented_ceiling(sm: Any, kind: str, limit: int) -> None:
    create = new_context if kind == "context" else new_action
    for i in range(limit):
        create(sm, f"{kind}-{i}")
    assert error_code(lambda: create(sm, f"{kind}-{limit}")) == "ResourceLimitExceeded"
    # Deleting one frees its slot.
    if kind == "context":
        sm.delete_context(ContextName="context-0")
    else:
        sm.delete_action(ActionName="action-0")
    create(sm, f"{kind}-{limit}")


def test_auto_created_entities_do_not_count_against_limits(sm: Any) -> None:
    # An endpoint's context is SageMaker's, so 500 manual contexts still fit beside it.
    sm.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "ecr/img:1", "ModelDataUrl": "s3://m/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[{"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    for i in range(500):
        new_context(sm, f"c-{i}")
    assert error_code(lambda: new_context(sm, "c-500")) == "ResourceLimitExceeded"



def test_documented_ceilings_for_artifacts_and_associations() -> None:
    """Artifacts and associations share the counting the wire tests above exercise; filling
    6000 of each over HTTP costs ~30 s, so their ceilings are pinned here instead."""
    from crossline_bed.sagemaker_lineage.models import LIMITS

    assert LIMITS == {"Action": 3000, "Artifact": 6000, "Association": 6000, "Context": 500}
