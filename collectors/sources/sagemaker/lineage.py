"""SageMaker's lineage entities: artifacts, actions, contexts, associations and trial components.

Contract (processors 1-5 of the source, each ``fn(api, run)`` yielding a batch per page):

1. ``artifacts`` - ``SM_ARTIFACT`` nodes (props keep ``SourceUri``, the reconciliation
   key), and ``SameAs`` both ways between a package artifact and its ``MODEL_PACKAGE``.
2. ``actions`` - ``SM_ACTION`` nodes with their Properties (Approval, ModelDeployment, ...).
3. ``contexts`` - ``SM_CONTEXT`` nodes; an Endpoint context is ``SameAs`` its ``ENDPOINT``.
   Scanned whole every read: SageMaker updates contexts in place.
4. ``associations`` - one edge per association, of its SageMaker type (ContributedTo,
   AssociatedWith, DerivedFrom, Produced, SameAs); an unknown type is a warning.
5. ``trial_components`` - ``SM_TRIAL_COMPONENT`` nodes with their parameters, metrics
   (last, min, max, average, count) and input/output artifacts, ``SameAs`` the job they
   record (their Source, else the job their ``{job}-aws-{kind}`` name names).
"""

from __future__ import annotations

from collections.abc import Iterator

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.sources import Batch
from crossline.collectors.sources.sagemaker.common import SOURCE, Api, Run, drop_none, identity, is_arn, iso
from crossline.collectors.sources.sagemaker.pipelines import component_details

ASSOCIATION_KINDS = {
    "ContributedTo": EdgeKind.CONTRIBUTED_TO,
    "AssociatedWith": EdgeKind.ASSOCIATED_WITH,
    "DerivedFrom": EdgeKind.DERIVED_FROM,
    "Produced": EdgeKind.SM_PRODUCED,
    "SameAs": EdgeKind.SAME_AS,
}


# -- 1. artifacts -------------------------------------------------------------------
def artifacts(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_artifacts", "ArtifactSummaries", CreatedAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("artifact")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            arn = item["ArtifactArn"]
            uri = (item.get("Source") or {}).get("SourceUri")
            props = drop_none({
                "ArtifactType": item.get("ArtifactType"),
                "SourceUri": uri,
                "SourceTypes": (item.get("Source") or {}).get("SourceTypes"),
                "creationTime": iso(item.get("CreationTime")),
                "lastModifiedTime": iso(item.get("LastModifiedTime")),
                "api": "ListArtifacts",
            })
            run.node(Node(NodeId(arn), NodeKind.SM_ARTIFACT, item.get("ArtifactName") or uri or arn, SOURCE, props))
            if uri and item.get("ArtifactType") == "ModelPackage":
                if is_arn(uri, "model-package"):
                    run.same_as(arn, uri, "sagemaker:artifact-source-uri", {"artifact": arn, "SourceUri": uri})
                else:
                    run.warn(f"ModelPackage artifact {arn} has a SourceUri that is not a package ARN: {uri!r}",
                             "ListArtifacts", "note")
        batch = run.flush()
        if batch:
            yield batch


# -- 2. actions ---------------------------------------------------------------------
def actions(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_actions", "ActionSummaries", CreatedAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("action")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            arn = item["ActionArn"]
            described = api.describe(run, api.client.describe_action, f"action {arn}", ActionName=arn) or {}
            props = drop_none({
                "ActionType": item.get("ActionType"),
                "Status": item.get("Status"),
                "SourceUri": (item.get("Source") or {}).get("SourceUri"),
                "SourceType": (item.get("Source") or {}).get("SourceType"),
                "Properties": described.get("Properties"),
                "Description": described.get("Description"),
                "createdBy": identity(described.get("CreatedBy")),
                "creationTime": iso(item.get("CreationTime")),
                "lastModifiedTime": iso(item.get("LastModifiedTime")),
                "api": "ListActions+DescribeAction",
            })
            run.node(Node(NodeId(arn), NodeKind.SM_ACTION, item.get("ActionName") or arn, SOURCE, props))
        batch = run.flush()
        if batch:
            yield batch


# -- 3. contexts --------------------------------------------------------------------
def contexts(api: Api, run: Run) -> Iterator[Batch]:
    # Scanned whole: SageMaker updates contexts in place (an Endpoint context's
    # EndpointConfigName), and ListContexts cannot filter on LastModifiedTime.
    for items in api.pages(run, "list_contexts", "ContextSummaries", SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("context")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            arn = item["ContextArn"]
            name = item.get("ContextName") or arn
            described = api.describe(run, api.client.describe_context, f"context {arn}", ContextName=name) or {}
            uri = (item.get("Source") or {}).get("SourceUri")
            props = drop_none({
                "ContextType": item.get("ContextType"),
                "SourceUri": uri,
                "SourceType": (item.get("Source") or {}).get("SourceType"),
                "Properties": described.get("Properties"),
                "creationTime": iso(item.get("CreationTime")),
                "lastModifiedTime": iso(item.get("LastModifiedTime")),
                "api": "ListContexts+DescribeContext",
            })
            run.node(Node(NodeId(arn), NodeKind.SM_CONTEXT, name, SOURCE, props))
            if uri and item.get("ContextType") == "Endpoint" and is_arn(uri, "endpoint"):
                run.same_as(arn, uri, "sagemaker:context-source-uri", {"context": arn, "SourceUri": uri})
        batch = run.flush()
        if batch:
            yield batch


# -- 4. associations ----------------------------------------------------------------
def associations(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_associations", "AssociationSummaries", CreatedAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("association")
            if not run.changed(item.get("CreationTime")):
                continue
            src, dst, kind = item.get("SourceArn"), item.get("DestinationArn"), item.get("AssociationType")
            edge_kind = ASSOCIATION_KINDS.get(kind or "")
            if not src or not dst or edge_kind is None:
                run.warn(f"association {src} -> {dst} of unknown type {kind!r}: not recorded", "ListAssociations")
                continue
            for arn, end in ((src, "SourceType"), (dst, "DestinationType")):
                if not item.get(end):
                    run.warn(f"association {src} -{kind}-> {dst} names an ARN SageMaker does not know: {arn}",
                             "ListAssociations", "note")
            props = drop_none({
                "SourceType": item.get("SourceType"),
                "DestinationType": item.get("DestinationType"),
                "creationTime": iso(item.get("CreationTime")),
                "createdBy": identity(item.get("CreatedBy")),
                "api": "ListAssociations",
            })
            run.edge(Edge(NodeId(src), NodeId(dst), edge_kind, SOURCE, props))
        batch = run.flush()
        if batch:
            yield batch


# -- 5. trial components ------------------------------------------------------------
def trial_components(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_trial_components", "TrialComponentSummaries", CreatedAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("trial_component")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            arn = item["TrialComponentArn"]
            name = item.get("TrialComponentName") or arn
            described = api.describe(
                run, api.client.describe_trial_component, f"trial component {arn}", TrialComponentName=name
            ) or {}
            source = described.get("Source") or item.get("TrialComponentSource") or {}
            props = drop_none({
                "Status": (described.get("Status") or item.get("Status") or {}).get("PrimaryStatus"),
                "SourceArn": source.get("SourceArn"),
                "SourceType": source.get("SourceType"),
                **component_details(described),
                "creationTime": iso(item.get("CreationTime")),
                "lastModifiedTime": iso(item.get("LastModifiedTime")),
                "api": "ListTrialComponents+DescribeTrialComponent",
            })
            run.node(Node(NodeId(arn), NodeKind.SM_TRIAL_COMPONENT, name, SOURCE, props))
            job, rule = _job_of(api, run, name, source.get("SourceArn"))
            if job:
                run.same_as(arn, job, rule, {"trialComponent": arn, "job": job})
        batch = run.flush()
        if batch:
            yield batch


def _job_of(api: Api, run: Run, name: str, source_arn: str | None) -> tuple[str | None, str]:
    """The job a trial component records: its Source, else the job SageMaker's ``{job}-aws-{kind}`` names."""
    if source_arn:
        return source_arn, "sagemaker:trial-component-source"
    # The job's ARN as the API spells it (moto keeps the name's case, AWS lowers it).
    if name.endswith("-aws-training-job"):
        job_name = name.removesuffix("-aws-training-job")
        job = api.describe(run, api.client.describe_training_job, f"training job {job_name} of {name}",
                           TrainingJobName=job_name)
        return (job or {}).get("TrainingJobArn"), "sagemaker:trial-component-name"
    if name.endswith("-aws-processing-job"):
        job_name = name.removesuffix("-aws-processing-job")
        job = api.describe(run, api.client.describe_processing_job, f"processing job {job_name} of {name}",
                           ProcessingJobName=job_name)
        return (job or {}).get("ProcessingJobArn"), "sagemaker:trial-component-name"
    return None, ""


__all__ = ["ASSOCIATION_KINDS", "actions", "artifacts", "associations", "contexts", "trial_components"]
