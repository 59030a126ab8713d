"""Write-back, opt-in: give SageMaker the links it lacks, and Marquez the SageMaker side.

Contract, SageMaker (boto3; plan, then apply):
- ``plan_writeback(graph, client) -> list[Planned]`` reads the collected graph (a
  ``Graph``, or a ``GraphStore`` read through one) for the
  facts and asks SageMaker *live* what already exists, so a plan made after ``apply``
  is empty. It never writes. What it plans:
  1. ``feature-snapshot``: each feature snapshot (a dataset a feature group
     ContributedTo) that the run producing a training input read -> that training
     dataset's artifact, ``ContributedTo`` (SageMaker links neither to the other; it
     links both only to the jobs).
  2. ``code-commit``: the commit of a training run (its ``code`` edge) -> the training
     job's trial component, ``ContributedTo``. The commit is an artifact of type
     ``Code`` with SourceUri ``git://{repo host and path}@{commit}``, e.g.
     ``git://github.com/acme/credit-ml@a14f2b9``.
  3. ``approval``: each approval decision crossline knows from OpenLineage approval
     events -> the package's artifact, ``AssociatedWith``, through an ``Approval``
     action. The action is created only if SageMaker has no Approval action for that
     package whose ApprovalTime (else CreationTime) is within ``APPROVAL_TOLERANCE`` of
     the decision with the same status; if one exists, only a missing association is
     planned.
  Artifacts are one per SourceUri: an existing one is found with ListArtifacts
  (the URI as the naming function spells it, and with a trailing ``/``, as SageMaker
  records S3 prefixes); a missing one is created by ``apply``. An association counts as
  present whatever its type (SageMaker allows one per source and destination).
- ``apply(planned, client) -> WritebackReport`` makes each planned entity and
  association, re-checking first, so applying twice (or a stale plan) duplicates
  nothing; a CreateArtifact refused because the SourceUri exists (ValidationException)
  reuses the artifact ListArtifacts(SourceUri=...) finds. The report records every
  association made with the evidence (graph node ids, edges and values) behind it.
  A SageMaker error raises ``SourceError``.

Contract, Marquez (OpenLineage events through a caller's ``OpenLineageClient``):
- ``marquez_events(graph, namespace)`` builds, from SageMaker's records in the graph:
  per model package a COMPLETE run of job ``sagemaker.model_registry.register.{group}``
  consuming the model artifact and producing the package dataset with the
  ``crossline_modelPackage`` facet; per deployment interval (a SERVES edge from a
  package) a COMPLETE run of job ``sagemaker.endpoint.deploy.{endpoint}`` consuming the
  package and producing the endpoint dataset, with the ``crossline_deployment`` run
  facet (a run facet, as the converter reads it back). Run ids are uuid5 of the facts,
  so sending again sends the same runs (Marquez upserts). ``emit_to_marquez`` sends them;
  a backend that does not take one raises ``SourceError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import nominal_time_run

from crossline.collectors import aws
from crossline.collectors.graph import Graph
from crossline.collectors.model import EdgeKind, Node, NodeKind
from crossline.collectors.store import GraphStore
from crossline.emitters.facets import CrosslineDeploymentRunFacet, CrosslineModelPackageDatasetFacet
from crossline.emitters.naming import dataset_name, parse_arn
from crossline.emitters.producer import PRODUCER
from crossline.errors import InvalidEvent, SourceError
from crossline.times import coerce, stamp

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from openlineage.client import OpenLineageClient

APPROVAL_TOLERANCE = timedelta(seconds=1)
RUN_NAMESPACE = uuid.UUID("0b6f7c1e-3f1a-5d55-9a4e-8c2d1b7e4f60")
MARK = {"WrittenBy": "crossline-writeback"}


# -- the plan ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Entity:
    """One end of an association: its ARN if SageMaker has it, else how to create it."""

    arn: str | None
    source_uri: str
    entity_type: str  # ArtifactType or ActionType
    create: dict[str, Any] | None = None  # CreateArtifact / CreateAction arguments
    is_action: bool = False


@dataclass(frozen=True)
class Planned:
    rule: str
    association_type: str
    source: Entity
    destination: Entity
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "associationType": self.association_type,
                "source": self.source.arn or f"(new {self.source.entity_type} {self.source.source_uri})",
                "destination": self.destination.arn or f"(new {self.destination.entity_type} {self.destination.source_uri})",
                "evidence": self.evidence}


@dataclass
class WritebackReport:
    associations: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, str]] = field(default_factory=list)
    already_present: int = 0
    events: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"associations": self.associations, "created": self.created,
                "alreadyPresent": self.already_present, "events": self.events, "warnings": self.warnings}


class _SageMaker:
    """The few live calls write-back needs, each through a paginator; errors as ``SourceError``."""

    def __init__(self, client: SageMakerClient) -> None:
        self.client = client

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client.get_paginator(operation).paginate(**params):  # type: ignore[call-overload]
                yield from page.get(key, [])
        except ClientError as err:
            raise SourceError(f"SageMaker {operation}({params}) failed: {aws.error_text(err)}") from err
        except BotoCoreError as err:
            raise aws.unreachable(err, f"during {operation}") from err

    def artifact(self, uri: str) -> str | None:
        for candidate in dict.fromkeys([uri, uri.rstrip("/") + "/", uri.rstrip("/")]):
            for item in self._pages("list_artifacts", "ArtifactSummaries", SourceUri=candidate):
                return str(item["ArtifactArn"])
        return None

    def associated(self, source: str, destination: str) -> bool:
        return any(True for _ in self._pages("list_associations", "AssociationSummaries",
                                             SourceArn=source, DestinationArn=destination))

    def approvals(self, package_arn: str) -> list[dict[str, Any]]:
        found = []
        for item in self._pages("list_actions", "ActionSummaries", SourceUri=package_arn, ActionType="Approval"):
            try:
                found.append(self.client.describe_action(ActionName=item["ActionArn"]))
            except ClientError as err:
                raise SourceError(f"SageMaker DescribeAction({item['ActionArn']}) failed: {aws.error_text(err)}") from err
            except BotoCoreError as err:
                raise aws.unreachable(err, f"describing action {item['ActionArn']}") from err
        return found

    def trial_component(self, job_name: str) -> str | None:
        try:
            found = self.client.describe_trial_component(TrialComponentName=f"{job_name}-aws-training-job")
        except ClientError:
            return None
        except BotoCoreError as err:
            raise aws.unreachable(err, f"describing trial component {job_name}-aws-training-job") from err
        return found.get("TrialComponentArn")


def _uri(node: Node) -> str | None:
    """The storage URI of a dataset (version) node, from its OpenLineage (namespace, name)."""
    ns, name = node.props.get("namespace"), node.props.get("name")
    if not isinstance(ns, str) or not isinstance(name, str):
        return None
    return f"{ns}/{name}" if ns.startswith("s3://") else None


def _dataset_entity(sm: _SageMaker, node: Node, uri: str) -> Entity:
    arn = sm.artifact(uri)
    create = None if arn else {
        "Source": {"SourceUri": uri}, "ArtifactType": "DataSet",
        "Properties": {**MARK, **({"DatasetVersion": str(node.props["version"])[:256]} if node.props.get("version") else {})},
    }
    return Entity(arn, uri, "DataSet", create)


def _training_runs(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes(kind=NodeKind.RUN) if n.props.get("sagemakerJobKind") == "training"]


def plan_writeback(graph_or_store: Graph | GraphStore, client: SageMakerClient) -> list[Planned]:
    graph, sm = Graph.of(graph_or_store), _SageMaker(client)
    planned: list[Planned] = []
    seen: set[tuple[str, str]] = set()

    def add(item: Planned) -> None:
        key = (item.source.arn or item.source.source_uri, item.destination.arn or item.destination.source_uri)
        if key in seen:
            return
        seen.add(key)
        if item.source.arn and item.destination.arn and sm.associated(item.source.arn, item.destination.arn):
            return
        planned.append(item)

    for run in _training_runs(graph):
        # 1. feature snapshots -> training dataset
        for into_run in graph.edges_of(run.id, direction="in", edge_kinds={EdgeKind.CONSUMED}):
            training = graph.node(into_run.src)
            training_uri = _uri(training)
            if training_uri is None:
                continue
            for made in graph.edges_of(training.id, direction="in", edge_kinds={EdgeKind.PRODUCED}):
                for read in graph.edges_of(made.src, direction="in", edge_kinds={EdgeKind.CONSUMED}):
                    groups = [e for e in graph.edges_of(read.src, direction="in", edge_kinds={EdgeKind.CONTRIBUTED_TO})
                              if graph.has_node(e.src) and graph.node(e.src).kind is NodeKind.FEATURE_GROUP]
                    snapshot = graph.node(read.src)
                    snapshot_uri = _uri(snapshot)
                    if not groups or snapshot_uri is None:
                        continue
                    add(Planned("feature-snapshot", "ContributedTo", _dataset_entity(sm, snapshot, snapshot_uri),
                                _dataset_entity(sm, training, training_uri), {
                                    "snapshot": snapshot.id, "featureGroup": groups[0].src,
                                    "trainingDataset": training.id, "producedBy": made.src, "trainingRun": run.id,
                                    "edges": [f"{read.src} -consumed-> {made.src}", f"{made.src} -produced-> {training.id}",
                                              f"{training.id} -consumed-> {run.id}"]}))
        # 2. code commit -> training job's trial component
        commits = graph.edges_of(run.id, direction="in", edge_kinds={EdgeKind.CODE})
        if not commits:
            continue
        job_name = str(run.props.get("sagemakerArn", "")).rsplit("/", 1)[-1]
        components = graph.ancestors(run.id, depth=3, node_kinds={NodeKind.SM_TRIAL_COMPONENT},
                                     edge_kinds={EdgeKind.SAME_AS})
        component = sorted(components)[0] if components else sm.trial_component(job_name)
        if component is None:
            continue
        for edge in commits:
            commit = graph.node(edge.src)
            repo, version = commit.props.get("repoUrl"), commit.props.get("version")
            if not repo or not version:
                continue
            parts = urlsplit(str(repo))
            uri = f"git://{parts.netloc}{parts.path}@{version}" if parts.netloc else f"git://{repo}@{version}"
            arn = sm.artifact(uri)
            create = None if arn else {"Source": {"SourceUri": uri, "SourceTypes": [{"SourceIdType": "Custom", "Value": str(version)}]},
                                       "ArtifactType": "Code", "Properties": {**MARK, "RepoUrl": str(repo)[:256], "Commit": str(version)}}
            add(Planned("code-commit", "ContributedTo", Entity(arn, uri, "Code", create),
                        Entity(component, component, "TrialComponent"),
                        {"commit": commit.id, "trainingRun": run.id, "trialComponent": component,
                         "edges": [f"{commit.id} -code-> {run.id}"]}))

    # 3. approvals crossline knows from OpenLineage -> package artifact
    for approval in graph.nodes(kind=NodeKind.APPROVAL):
        props = approval.props
        package_arn, status, decided = props.get("modelPackageArn"), props.get("status"), coerce(props.get("decisionTime"))
        if not package_arn or not status or decided is None:
            continue  # not from an OpenLineage approval event (SageMaker's own records name no decisionTime)
        package_artifact = sm.artifact(str(package_arn))
        if package_artifact is None:
            continue
        match = None
        for action in sm.approvals(str(package_arn)):
            properties = action.get("Properties") or {}
            at = coerce(properties.get("ApprovalTime")) or coerce(action.get("CreationTime"))
            if at is not None and abs(at - decided) <= APPROVAL_TOLERANCE and properties.get("ModelApprovalStatus", status) == status:
                match = action["ActionArn"]
                break
        evidence = {"approval": approval.id, "decisionTime": props.get("decisionTime"), "status": status,
                    "approver": props.get("approverIamArn") or props.get("approverUserProfileName"),
                    "sourceEventId": props.get("sourceEventId"), "run": props.get("run")}
        name = "crossline-approval-" + uuid.uuid5(RUN_NAMESPACE, f"{package_arn}|{status}|{stamp(decided)}").hex[:24]
        create = None if match else {
            "ActionName": name, "Source": {"SourceUri": str(package_arn), "SourceType": "ModelPackage"},
            "ActionType": "Approval", "Status": "Completed", "Description": str(props.get("description") or "")[:3072],
            "Properties": {k: v for k, v in {
                **MARK, "ModelApprovalStatus": str(status), "ApprovalTime": stamp(decided),
                "ApprovedBy": str(evidence["approver"] or "")[:256],
                "ApprovalDescription": str(props.get("description") or "")[:256]}.items() if v},
        }
        add(Planned("approval", "AssociatedWith", Entity(match, str(package_arn), "Approval", create, is_action=True),
                    Entity(package_artifact, str(package_arn), "ModelPackage"), evidence))
    return planned


# -- applying ------------------------------------------------------------------------------
def _ensure(sm: _SageMaker, entity: Entity, report: WritebackReport) -> str:
    if entity.arn:
        return entity.arn
    if entity.create is None:
        raise SourceError(f"nothing says how to create the {entity.entity_type} for {entity.source_uri}")
    client = sm.client
    try:
        if entity.is_action:
            made = client.create_action(**entity.create)["ActionArn"]
        else:
            existing = sm.artifact(entity.source_uri)
            if existing:
                return existing
            made = client.create_artifact(**entity.create)["ArtifactArn"]
    except ClientError as err:
        code = aws.error_code(err)
        if code == "ValidationException" and not entity.is_action:
            found = sm.artifact(entity.source_uri)
            if found:
                return found
        if code == "ValidationException" and entity.is_action:  # made by an earlier apply: same name
            try:
                return str(client.describe_action(ActionName=entity.create["ActionName"])["ActionArn"])
            except ClientError:
                pass
        raise SourceError(f"SageMaker refused to create the {entity.entity_type} for {entity.source_uri}: "
                          f"{aws.error_text(err)}") from err
    except BotoCoreError as err:
        raise aws.unreachable(err, f"creating the {entity.entity_type} for {entity.source_uri}") from err
    report.created.append({"type": entity.entity_type, "arn": made, "sourceUri": entity.source_uri})
    return made


def apply(planned: list[Planned], client: SageMakerClient) -> WritebackReport:
    sm, report = _SageMaker(client), WritebackReport()
    for item in planned:
        source = _ensure(sm, item.source, report)
        destination = _ensure(sm, item.destination, report)
        if sm.associated(source, destination):
            report.already_present += 1
            continue
        try:
            client.add_association(SourceArn=source, DestinationArn=destination, AssociationType=item.association_type)
        except ClientError as err:
            if sm.associated(source, destination):  # made meanwhile
                report.already_present += 1
                continue
            raise SourceError(f"AddAssociation {source} -> {destination} failed: {aws.error_text(err)}") from err
        except BotoCoreError as err:
            raise aws.unreachable(err, f"adding {source} -> {destination}") from err
        report.associations.append({"rule": item.rule, "associationType": item.association_type,
                                    "source": source, "destination": destination, "evidence": item.evidence})
    return report


# -- Marquez ---------------------------------------------------------------------------------
def _run_id(*facts: str) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, "|".join(facts)))


def marquez_events(graph_or_store: Graph | GraphStore, namespace: str) -> list[RunEvent]:
    graph = Graph.of(graph_or_store)
    events: list[RunEvent] = []
    packages = {n.id: n for n in graph.nodes(kind=NodeKind.MODEL_PACKAGE)}
    for arn, package in sorted(packages.items()):
        props = package.props
        group, version, url = props.get("group"), props.get("version"), props.get("modelDataUrl")
        created = props.get("creationTime")
        if not group or not version or not created:
            continue
        try:
            facet = CrosslineModelPackageDatasetFacet(group=str(group), version=int(version), arn=arn,
                                                      approvalStatus=str(props.get("status") or "PendingManualApproval"),
                                                      modelDataUrl=url)
        except InvalidEvent:
            continue
        ns, name = dataset_name(arn)
        inputs = [InputDataset(namespace=dataset_name(url).namespace, name=dataset_name(url).name)] if url else []
        events.append(RunEvent(
            eventType=RunState.COMPLETE, eventTime=str(created),
            run=Run(runId=_run_id("register", arn, str(created))),
            job=Job(namespace=namespace, name=f"sagemaker.model_registry.register.{group}"),
            inputs=inputs, outputs=[OutputDataset(namespace=ns, name=name, facets={facet.KEY: facet})],
            producer=PRODUCER,
        ))
    for package_id in sorted(packages):
        for edge in graph.edges(src=package_id, kinds=[EdgeKind.SERVES]):
            variant = graph.node(edge.dst) if graph.has_node(edge.dst) else None
            if variant is None or edge.valid_from is None:
                continue
            endpoint_arn = str(variant.props.get("endpointArn") or edge.dst.split("/variant/")[0])
            endpoint = parse_arn(endpoint_arn).resource_id
            variant_name = str(variant.props.get("variantName") or variant.props.get("variant") or edge.dst.rsplit("/", 1)[-1])
            model_name = str(edge.props.get("modelName") or variant.props.get("modelName") or "")
            facet = CrosslineDeploymentRunFacet(
                endpointName=endpoint, endpointArn=endpoint_arn, variantName=variant_name, modelName=model_name,
                deployedTime=stamp(edge.valid_from), modelPackageArn=package_id,
                endpointConfigName=edge.props.get("endpointConfigName"),
            )
            nominal = nominal_time_run.NominalTimeRunFacet(nominalStartTime=stamp(edge.valid_from),
                                                           nominalEndTime=stamp(edge.valid_to))
            pkg_ns, pkg_name = dataset_name(package_id)
            end_ns, end_name = dataset_name(endpoint_arn)
            events.append(RunEvent(
                eventType=RunState.COMPLETE, eventTime=stamp(edge.valid_from),
                run=Run(runId=_run_id("deploy", endpoint_arn, variant_name, package_id, stamp(edge.valid_from)),
                        facets={facet.KEY: facet, "nominalTime": nominal}),
                job=Job(namespace=namespace, name=f"sagemaker.endpoint.deploy.{endpoint}"),
                inputs=[InputDataset(namespace=pkg_ns, name=pkg_name)],
                outputs=[OutputDataset(namespace=end_ns, name=end_name)],
                producer=PRODUCER,
            ))
    return events


def emit_to_marquez(graph_or_store: Graph | GraphStore, lineage: OpenLineageClient, namespace: str) -> WritebackReport:
    report = WritebackReport()
    for event in marquez_events(graph_or_store, namespace):
        try:
            lineage.emit(event)
        except Exception as err:  # the client's transports raise their own types (requests, urllib3, ...)
            raise SourceError(f"the lineage backend did not take run {event.run.runId} of {event.job.name}: {err}") from err
        report.events += 1
    return report


def sagemaker_client(*, region: str | None = None, endpoint_url: str | None = None) -> SageMakerClient:
    """A SageMaker client for write-back, made as every AWS reader makes one (``aws.Clients``);
    no region anywhere is a ``ConfigError`` saying where to give one."""
    return aws.Clients(aws.AwsConfig(region=region, endpoint_url=endpoint_url))("sagemaker")  # type: ignore[no-any-return]


__all__ = ["Entity", "Planned", "WritebackReport", "apply", "emit_to_marquez", "marquez_events", "plan_writeback",
           "sagemaker_client"]
