"""SageMaker source: SageMaker's lineage, jobs, registry and endpoints as typed graph records.

Contract: ``SageMakerSource.read(since)`` runs one processor per entity kind, in this
order, each listing through ``get_paginator`` and yielding a ``Batch`` per page (or per
package / endpoint) so nothing holds every page:

1. artifacts - ``SM_ARTIFACT`` nodes (props keep ``SourceUri``, the reconciliation key),
   and ``SameAs`` both ways between a package artifact and its ``MODEL_PACKAGE``.
2. actions - ``SM_ACTION`` nodes with their Properties (Approval, ModelDeployment, ...).
3. contexts - ``SM_CONTEXT`` nodes; an Endpoint context is ``SameAs`` its ``ENDPOINT``.
4. associations - one edge per association, of its SageMaker type (ContributedTo,
   AssociatedWith, DerivedFrom, Produced, SameAs).
5. trial components - ``SM_TRIAL_COMPONENT`` nodes, ``SameAs`` the job they record.
6. training and processing jobs - ``TRAINING_JOB`` / ``PROCESSING_JOB`` nodes, described
   (ARN, image, inputs/outputs, hyperparameters, metrics, times).
7. model packages, per group - ``MODEL_PACKAGE`` nodes (group, version, status,
   modelDataUrl, createdBy/lastModifiedBy, approvals) and one ``APPROVAL`` node plus an
   ``APPROVED`` edge per decision, read from the Approval actions associated with the
   package's artifact; a decision is valid until the next one.
8. endpoints - ``ENDPOINT``, ``ENDPOINT_VARIANT`` (``VARIANT_OF``), ``MODEL`` nodes and
   ``SERVES`` edges (package, or a model made without one, -> variant) from the
   deployment history: the Endpoint context's ModelDeployment actions by CreationTime,
   each deployment's endpoint config, its variants and their models. A SERVES edge is
   valid from the deployment that put it there until the deployment that replaced it.

Watermark: the ISO time of the newest CreationTime/LastModifiedTime seen. Lists are
asked for what was created (or, where the API can filter on it, modified) after it, and
everything is filtered again client-side, strictly after it, on the times the API
returns. Things that change are re-read whole: a package with a new Approval action
gets its full approval history again, an endpoint modified since gets its full
deployment history again (so an earlier SERVES edge gets its ``valid_to``). Batches
before the last carry ``since`` unchanged; only the last carries the new watermark, and
only if every list call succeeded, so a crash or a failed list re-reads (records are
upserted; reading twice gives identical records). Known limits: artifacts and actions
updated in place after creation are seen only from scratch (SageMaker has no
modified-after filter for them; contexts, which SageMaker updates, are scanned whole);
an entity stamped within the same millisecond as the watermark but created after the
read is missed.

Errors: ``SourceError`` only when SageMaker cannot be reached (connection, credentials).
An API error is a warning in ``report`` and the batch: a failed list holds the
watermark; an entity gone between list and describe is skipped. Throttling is boto3's
adaptive retry mode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from crossline.collectors.model import (
    Edge,
    EdgeKind,
    Node,
    NodeId,
    NodeKind,
    approval_id,
    variant_id,
)
from crossline.collectors.sources import Batch, Source
from crossline.emitters.naming import parse_arn
from crossline.errors import ConfigError, InvalidEvent, SourceError
from crossline.times import coerce, stamp

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

SOURCE = "sagemaker"
ASSOCIATION_KINDS = {
    "ContributedTo": EdgeKind.CONTRIBUTED_TO,
    "AssociatedWith": EdgeKind.ASSOCIATED_WITH,
    "DerivedFrom": EdgeKind.DERIVED_FROM,
    "Produced": EdgeKind.SM_PRODUCED,
    "SameAs": EdgeKind.SAME_AS,
}
# Error codes that mean "the entity is gone", not "we could not read it".
_GONE = frozenset({"ResourceNotFound", "ResourceNotFoundException"})


@attrs.frozen
class SageMakerConfig:
    region: str | None = None  # None: boto3's own configuration (AWS_DEFAULT_REGION, profile)
    endpoint_url: str | None = None
    profile: str | None = None
    max_attempts: int = 10
    page_size: int = 100

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> SageMakerConfig:
        known = {a.name for a in attrs.fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ConfigError(f"sagemaker source: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        try:
            made = cls(**config)
        except TypeError as err:
            raise ConfigError(f"sagemaker source: {err}") from err
        if not isinstance(made.max_attempts, int) or made.max_attempts < 1:
            raise ConfigError(f"sagemaker source: max_attempts must be a positive integer, not {made.max_attempts!r}")
        if not isinstance(made.page_size, int) or not 1 <= made.page_size <= 100:
            raise ConfigError(f"sagemaker source: page_size must be 1..100, not {made.page_size!r}")
        return made


@dataclass
class SageMakerReport:
    """What a read did: per kind, entities scanned and records emitted, and every warning."""

    scanned: Counter[str] = field(default_factory=Counter)
    emitted: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"scanned": dict(self.scanned), "emitted": dict(self.emitted), "warnings": list(self.warnings)}


class _ListFailed(Exception):
    """A list call failed; the processor stops and the run holds its watermark."""


@dataclass
class _Run:
    """One read: its pending batch, the newest time seen, and whether every list succeeded."""

    since: datetime | None
    since_text: str | None
    report: SageMakerReport
    newest: datetime | None = None
    complete: bool = True
    batch: Batch = field(default_factory=Batch)
    ids: set[tuple[str, ...]] = field(default_factory=set)

    def changed(self, *times: Any) -> bool:
        """Seen, and changed strictly after the watermark."""
        stamps = [m for m in (coerce(t) for t in times) if m is not None]
        if not stamps:
            return self.since is None
        latest = max(stamps)
        if self.newest is None or latest > self.newest:
            self.newest = latest
        return self.since is None or latest > self.since

    def scan(self, kind: str, count: int = 1) -> None:
        self.report.scanned[kind] += count
        self.batch.scanned += count

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)
        self.batch.warnings.append(message)

    def node(self, node: Node) -> None:
        if ("n", node.id) not in self.ids:  # one record per id in a batch
            self.ids.add(("n", node.id))
            self.batch.nodes.append(node)
            self.report.emitted[node.kind.value] += 1

    def edge(self, edge: Edge) -> None:
        if ("e", *edge.key) not in self.ids:
            self.ids.add(("e", *edge.key))
            self.batch.edges.append(edge)
            self.report.emitted[edge.kind.value] += 1

    def same_as(self, a: str, b: str, rule: str, evidence: dict[str, Any]) -> None:
        props = {"rule": rule, "evidence": evidence}
        self.edge(Edge(NodeId(a), NodeId(b), EdgeKind.SAME_AS, SOURCE, props))
        self.edge(Edge(NodeId(b), NodeId(a), EdgeKind.SAME_AS, SOURCE, props))

    def flush(self) -> Batch | None:
        """The pending batch (watermark unchanged), or None if it holds nothing."""
        batch = self.batch
        if not (batch.nodes or batch.edges or batch.scanned or batch.warnings):
            return None
        batch.watermark = self.since_text
        self.batch, self.ids = Batch(), set()
        return batch


class SageMakerSource(Source):
    kind = "sagemaker"
    config_class = SageMakerConfig

    def __init__(self, config: SageMakerConfig | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config or SageMakerConfig()
        self.report = SageMakerReport()
        self._client: SageMakerClient | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SageMakerSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(SageMakerConfig.from_dict(values), name=name)

    @property
    def client(self) -> SageMakerClient:
        """The SageMaker client; boto3's adaptive retry mode absorbs throttling."""
        if self._client is None:
            try:
                session = boto3.Session(profile_name=self.config.profile, region_name=self.config.region)
                self._client = session.client(
                    "sagemaker",
                    endpoint_url=self.config.endpoint_url,
                    config=BotoConfig(retries={"mode": "adaptive", "max_attempts": self.config.max_attempts}),
                )
            except BotoCoreError as err:
                raise SourceError(f"cannot make a SageMaker client: {err}") from err
        return self._client

    # -- reading ----------------------------------------------------------------------
    def read(self, since: str | None) -> Iterator[Batch]:
        self.report = SageMakerReport()
        run = _Run(parse_watermark(since), since, self.report)
        processors: tuple[Callable[[_Run], Iterator[Batch]], ...] = (
            self._artifacts, self._actions, self._contexts, self._associations, self._trial_components,
            self._training_jobs, self._processing_jobs, self._model_packages, self._endpoints,
        )
        for processor in processors:
            try:
                yield from processor(run)
            except _ListFailed:
                run.complete = False
            pending = run.flush()
            if pending is not None:
                yield pending
        if not run.complete:
            run.warn(f"some SageMaker reads failed: the watermark stays at {since!r}")
        last = run.batch
        last.watermark = since
        if run.complete and run.newest is not None and (run.since is None or run.newest > run.since):
            last.watermark = stamp(run.newest)
        yield last

    def _pages(self, run: _Run, operation: str, key: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """The items of each page of a list call, through its paginator."""
        params = {k: v for k, v in params.items() if v is not None}
        try:
            paginator = self.client.get_paginator(operation)
            for page in paginator.paginate(**params, PaginationConfig={"PageSize": self.config.page_size}):
                yield page.get(key, [])
        except ClientError as err:
            run.warn(f"{operation}({_short(params)}) failed: {_error(err)}")
            raise _ListFailed from err
        except BotoCoreError as err:
            raise SourceError(f"SageMaker unreachable during {operation}: {err}") from err

    def _describe(self, run: _Run, call: Callable[..., dict[str, Any]], what: str, **params: Any) -> dict[str, Any] | None:
        """One describe call; an error is a warning (and holds the watermark unless the entity is gone)."""
        try:
            return call(**params)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            message = str(err.response.get("Error", {}).get("Message", ""))
            gone = code in _GONE or "could not find" in message.lower() or "does not exist" in message.lower()
            if not gone:
                run.complete = False
            run.warn(f"{what}: {_error(err)}" + (" (gone since it was listed)" if gone else ""))
            return None
        except BotoCoreError as err:
            raise SourceError(f"SageMaker unreachable describing {what}: {err}") from err

    def _first(self, run: _Run, operation: str, key: str, **params: Any) -> dict[str, Any] | None:
        for items in self._pages(run, operation, key, **params):
            if items:
                return items[0]
        return None

    # -- 1. artifacts -------------------------------------------------------------------
    def _artifacts(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_artifacts", "ArtifactSummaries", CreatedAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("artifact")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                arn = item["ArtifactArn"]
                uri = (item.get("Source") or {}).get("SourceUri")
                props = _drop_none({
                    "ArtifactType": item.get("ArtifactType"),
                    "SourceUri": uri,
                    "SourceTypes": (item.get("Source") or {}).get("SourceTypes"),
                    "creationTime": _iso(item.get("CreationTime")),
                    "lastModifiedTime": _iso(item.get("LastModifiedTime")),
                    "api": "ListArtifacts",
                })
                run.node(Node(NodeId(arn), NodeKind.SM_ARTIFACT, item.get("ArtifactName") or uri or arn, SOURCE, props))
                if uri and item.get("ArtifactType") == "ModelPackage":
                    if _is_arn(uri, "model-package"):
                        run.same_as(arn, uri, "sagemaker:artifact-source-uri", {"artifact": arn, "SourceUri": uri})
                    else:
                        run.warn(f"ModelPackage artifact {arn} has a SourceUri that is not a package ARN: {uri!r}")
            batch = run.flush()
            if batch:
                yield batch

    # -- 2. actions ---------------------------------------------------------------------
    def _actions(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_actions", "ActionSummaries", CreatedAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("action")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                arn = item["ActionArn"]
                described = self._describe(run, self.client.describe_action, f"action {arn}", ActionName=arn) or {}
                props = _drop_none({
                    "ActionType": item.get("ActionType"),
                    "Status": item.get("Status"),
                    "SourceUri": (item.get("Source") or {}).get("SourceUri"),
                    "SourceType": (item.get("Source") or {}).get("SourceType"),
                    "Properties": described.get("Properties"),
                    "Description": described.get("Description"),
                    "createdBy": _identity(described.get("CreatedBy")),
                    "creationTime": _iso(item.get("CreationTime")),
                    "lastModifiedTime": _iso(item.get("LastModifiedTime")),
                    "api": "ListActions+DescribeAction",
                })
                run.node(Node(NodeId(arn), NodeKind.SM_ACTION, item.get("ActionName") or arn, SOURCE, props))
            batch = run.flush()
            if batch:
                yield batch

    # -- 3. contexts --------------------------------------------------------------------
    def _contexts(self, run: _Run) -> Iterator[Batch]:
        # Scanned whole: SageMaker updates contexts in place (an Endpoint context's
        # EndpointConfigName), and ListContexts cannot filter on LastModifiedTime.
        for items in self._pages(run, "list_contexts", "ContextSummaries", SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("context")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                arn = item["ContextArn"]
                name = item.get("ContextName") or arn
                described = self._describe(run, self.client.describe_context, f"context {arn}", ContextName=name) or {}
                uri = (item.get("Source") or {}).get("SourceUri")
                props = _drop_none({
                    "ContextType": item.get("ContextType"),
                    "SourceUri": uri,
                    "SourceType": (item.get("Source") or {}).get("SourceType"),
                    "Properties": described.get("Properties"),
                    "creationTime": _iso(item.get("CreationTime")),
                    "lastModifiedTime": _iso(item.get("LastModifiedTime")),
                    "api": "ListContexts+DescribeContext",
                })
                run.node(Node(NodeId(arn), NodeKind.SM_CONTEXT, name, SOURCE, props))
                if uri and item.get("ContextType") == "Endpoint" and _is_arn(uri, "endpoint"):
                    run.same_as(arn, uri, "sagemaker:context-source-uri", {"context": arn, "SourceUri": uri})
            batch = run.flush()
            if batch:
                yield batch

    # -- 4. associations ----------------------------------------------------------------
    def _associations(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_associations", "AssociationSummaries", CreatedAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("association")
                if not run.changed(item.get("CreationTime")):
                    continue
                src, dst, kind = item.get("SourceArn"), item.get("DestinationArn"), item.get("AssociationType")
                edge_kind = ASSOCIATION_KINDS.get(kind or "")
                if not src or not dst or edge_kind is None:
                    run.warn(f"association {src} -> {dst} of unknown type {kind!r}: not recorded")
                    continue
                for arn, end in ((src, "SourceType"), (dst, "DestinationType")):
                    if not item.get(end):
                        run.warn(f"association {src} -{kind}-> {dst} names an ARN SageMaker does not know: {arn}")
                props = _drop_none({
                    "SourceType": item.get("SourceType"),
                    "DestinationType": item.get("DestinationType"),
                    "creationTime": _iso(item.get("CreationTime")),
                    "createdBy": _identity(item.get("CreatedBy")),
                    "api": "ListAssociations",
                })
                run.edge(Edge(NodeId(src), NodeId(dst), edge_kind, SOURCE, props))
            batch = run.flush()
            if batch:
                yield batch

    # -- 5. trial components ------------------------------------------------------------
    def _trial_components(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_trial_components", "TrialComponentSummaries", CreatedAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("trial_component")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                arn = item["TrialComponentArn"]
                name = item.get("TrialComponentName") or arn
                described = self._describe(
                    run, self.client.describe_trial_component, f"trial component {arn}", TrialComponentName=name
                ) or {}
                source = described.get("Source") or item.get("TrialComponentSource") or {}
                props = _drop_none({
                    "Status": (described.get("Status") or item.get("Status") or {}).get("PrimaryStatus"),
                    "SourceArn": source.get("SourceArn"),
                    "SourceType": source.get("SourceType"),
                    "creationTime": _iso(item.get("CreationTime")),
                    "lastModifiedTime": _iso(item.get("LastModifiedTime")),
                    "api": "ListTrialComponents+DescribeTrialComponent",
                })
                run.node(Node(NodeId(arn), NodeKind.SM_TRIAL_COMPONENT, name, SOURCE, props))
                job, rule = self._job_of(run, name, source.get("SourceArn"))
                if job:
                    run.same_as(arn, job, rule, {"trialComponent": arn, "job": job})
            batch = run.flush()
            if batch:
                yield batch

    def _job_of(self, run: _Run, name: str, source_arn: str | None) -> tuple[str | None, str]:
        """The job a trial component records: its Source, else the job SageMaker's ``{job}-aws-{kind}`` names."""
        if source_arn:
            return source_arn, "sagemaker:trial-component-source"
        # The job's ARN as the API spells it (moto keeps the name's case, AWS lowers it).
        if name.endswith("-aws-training-job"):
            job_name = name.removesuffix("-aws-training-job")
            job = self._describe(run, self.client.describe_training_job, f"training job {job_name} of {name}",
                                 TrainingJobName=job_name)
            return (job or {}).get("TrainingJobArn"), "sagemaker:trial-component-name"
        if name.endswith("-aws-processing-job"):
            job_name = name.removesuffix("-aws-processing-job")
            job = self._describe(run, self.client.describe_processing_job, f"processing job {job_name} of {name}",
                                 ProcessingJobName=job_name)
            return (job or {}).get("ProcessingJobArn"), "sagemaker:trial-component-name"
        return None, ""

    # -- 6. jobs ------------------------------------------------------------------------
    def _training_jobs(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_training_jobs", "TrainingJobSummaries", LastModifiedTimeAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("training_job")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                name = item["TrainingJobName"]
                job = self._describe(run, self.client.describe_training_job, f"training job {name}", TrainingJobName=name)
                if job is None:
                    continue
                algorithm = job.get("AlgorithmSpecification") or {}
                props = _drop_none({
                    "status": job.get("TrainingJobStatus"),
                    "image": algorithm.get("TrainingImage"),
                    "algorithm": algorithm.get("AlgorithmName"),
                    "hyperparameters": job.get("HyperParameters"),
                    "inputs": [
                        _drop_none({"channel": c.get("ChannelName"),
                                    "s3Uri": ((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")})
                        for c in job.get("InputDataConfig") or []
                    ],
                    "outputPath": (job.get("OutputDataConfig") or {}).get("S3OutputPath"),
                    "modelArtifacts": (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
                    "checkpoint": (job.get("CheckpointConfig") or {}).get("S3Uri"),
                    "metrics": {m["MetricName"]: m.get("Value") for m in job.get("FinalMetricDataList") or [] if "MetricName" in m} or None,
                    "roleArn": job.get("RoleArn"),
                    "creationTime": _iso(job.get("CreationTime")),
                    "startTime": _iso(job.get("TrainingStartTime")),
                    "endTime": _iso(job.get("TrainingEndTime")),
                    "lastModifiedTime": _iso(job.get("LastModifiedTime")),
                    "api": "DescribeTrainingJob",
                })
                run.node(Node(NodeId(job["TrainingJobArn"]), NodeKind.TRAINING_JOB, name, SOURCE, props))
            batch = run.flush()
            if batch:
                yield batch

    def _processing_jobs(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_processing_jobs", "ProcessingJobSummaries", LastModifiedTimeAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("processing_job")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                name = item["ProcessingJobName"]
                job = self._describe(run, self.client.describe_processing_job, f"processing job {name}",
                                     ProcessingJobName=name)
                if job is None:
                    continue
                props = _drop_none({
                    "status": job.get("ProcessingJobStatus"),
                    "image": (job.get("AppSpecification") or {}).get("ImageUri"),
                    "inputs": [
                        _drop_none({"name": i.get("InputName"), "s3Uri": (i.get("S3Input") or {}).get("S3Uri")})
                        for i in job.get("ProcessingInputs") or []
                    ],
                    "outputs": [
                        _drop_none({"name": o.get("OutputName"), "s3Uri": (o.get("S3Output") or {}).get("S3Uri")})
                        for o in (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
                    ],
                    "roleArn": job.get("RoleArn"),
                    "creationTime": _iso(job.get("CreationTime")),
                    "startTime": _iso(job.get("ProcessingStartTime")),
                    "endTime": _iso(job.get("ProcessingEndTime")),
                    "lastModifiedTime": _iso(job.get("LastModifiedTime")),
                    "api": "DescribeProcessingJob",
                })
                run.node(Node(NodeId(job["ProcessingJobArn"]), NodeKind.PROCESSING_JOB, name, SOURCE, props))
            batch = run.flush()
            if batch:
                yield batch

    # -- 7. model packages ----------------------------------------------------------------
    def _model_packages(self, run: _Run) -> Iterator[Batch]:
        # Packages decided on since the watermark are re-read whole, even if older.
        decided: set[str] = set()
        for items in self._pages(run, "list_actions", "ActionSummaries", ActionType="Approval", CreatedAfter=run.since):
            for item in items:
                if run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    uri = (item.get("Source") or {}).get("SourceUri")
                    if uri:
                        decided.add(uri)
                    else:
                        run.warn(f"Approval action {item.get('ActionArn')} names no package (no SourceUri)")
        for groups in self._pages(run, "list_model_package_groups", "ModelPackageGroupSummaryList",
                                  SortBy="CreationTime", SortOrder="Ascending"):
            for group in groups:
                run.scan("model_package_group")
                for packages in self._pages(run, "list_model_packages", "ModelPackageSummaryList",
                                            ModelPackageGroupName=group["ModelPackageGroupName"],
                                            CreationTimeAfter=run.since, SortBy="CreationTime", SortOrder="Ascending"):
                    for summary in packages:
                        run.scan("model_package")
                        arn = summary["ModelPackageArn"]
                        if run.changed(summary.get("CreationTime")) or arn in decided:
                            decided.discard(arn)
                            self._package(run, arn)
                    batch = run.flush()
                    if batch:
                        yield batch
        for arn in sorted(decided):  # decided on since, registered before the watermark
            run.scan("model_package")
            self._package(run, arn)
            batch = run.flush()
            if batch:
                yield batch

    def _package(self, run: _Run, arn: str) -> None:
        package = self._describe(run, self.client.describe_model_package, f"model package {arn}", ModelPackageName=arn)
        if package is None:
            return
        arn = package.get("ModelPackageArn", arn)
        containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
        decisions = self._approvals(run, arn, package)
        props = _drop_none({
            "group": package.get("ModelPackageGroupName"),
            "version": package.get("ModelPackageVersion"),
            "status": package.get("ModelApprovalStatus"),
            "packageStatus": package.get("ModelPackageStatus"),
            "approvalDescription": package.get("ApprovalDescription"),
            "modelDataUrl": next((c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")), None),
            "containers": [_drop_none({"image": c.get("Image"), "modelDataUrl": c.get("ModelDataUrl")}) for c in containers],
            "createdBy": _identity(package.get("CreatedBy")),
            "lastModifiedBy": _identity(package.get("LastModifiedBy")),
            "creationTime": _iso(package.get("CreationTime")),
            "lastModifiedTime": _iso(package.get("LastModifiedTime")),
            "modelMetrics": package.get("ModelMetrics"),
            "customerMetadata": package.get("CustomerMetadataProperties"),
            "generatedBy": (package.get("MetadataProperties") or {}).get("GeneratedBy"),
            "approvals": [{k: v for k, v in d.items() if k != "at"} for d in decisions],
            "api": "DescribeModelPackage",
        })
        name = f"{props.get('group', '')}/{props['version']}" if "version" in props else arn
        run.node(Node(NodeId(arn), NodeKind.MODEL_PACKAGE, name, SOURCE, props))
        for decision, following in zip(decisions, [*decisions[1:], None]):
            until = following["at"] if following else None
            node_id = approval_id(arn, decision["at"])
            evidence = {"action": decision["action"], "api": decision["api"]}
            run.node(Node(node_id, NodeKind.APPROVAL, f"{name} {decision['status']}", SOURCE,
                          _drop_none({"status": decision["status"], "approver": decision["approver"],
                                      "approverArn": decision["approverArn"], "description": decision["description"],
                                      "package": arn, "time": decision["time"], **evidence}),
                          valid_from=decision["at"], valid_to=until))
            run.edge(Edge(node_id, NodeId(arn), EdgeKind.APPROVED, SOURCE, {"status": decision["status"], **evidence},
                          valid_from=decision["at"], valid_to=until))

    def _approvals(self, run: _Run, package_arn: str, package: dict[str, Any]) -> list[dict[str, Any]]:
        """Every approval decision on the package, oldest first: status, who, when, why."""
        artifact = self._first(run, "list_artifacts", "ArtifactSummaries", SourceUri=package_arn)
        if artifact is not None:
            action_arns = [
                a["SourceArn"]
                for items in self._pages(run, "list_associations", "AssociationSummaries",
                                         DestinationArn=artifact["ArtifactArn"], SourceType="Approval")
                for a in items
            ]
            api = "ListAssociations(package artifact)+DescribeAction"
        else:
            run.warn(f"model package {package_arn} has no ModelPackage artifact: approvals read from its actions")
            action_arns = [
                a["ActionArn"]
                for items in self._pages(run, "list_actions", "ActionSummaries", SourceUri=package_arn,
                                         ActionType="Approval")
                for a in items
            ]
            api = "ListActions(SourceUri=package)+DescribeAction"
        decisions = []
        for action_arn in action_arns:
            action = self._describe(run, self.client.describe_action, f"approval action {action_arn}",
                                    ActionName=action_arn)
            if action is None:
                continue
            properties = action.get("Properties") or {}
            at = coerce(properties.get("ApprovalTime")) or coerce(action.get("CreationTime"))
            if at is None:
                run.warn(f"approval action {action_arn} has no time: not recorded")
                continue
            who = properties.get("ApprovedBy") or _identity(action.get("CreatedBy"))
            if not who:
                run.warn(f"approval action {action_arn} names no approver")
            status = properties.get("ModelApprovalStatus")
            if not status:
                run.warn(f"approval action {action_arn} has no ModelApprovalStatus")
            decisions.append({
                "status": status, "approver": _person(who), "approverArn": who,
                "description": properties.get("ApprovalDescription") or action.get("Description"),
                "time": stamp(at), "at": at, "action": action_arn, "api": api,
            })
        if not decisions and package.get("ModelApprovalStatus"):
            run.warn(f"model package {package_arn} is {package['ModelApprovalStatus']} but no Approval action records it")
        return sorted(decisions, key=lambda d: (d["at"], d["action"]))

    # -- 8. endpoints ---------------------------------------------------------------------
    def _endpoints(self, run: _Run) -> Iterator[Batch]:
        for items in self._pages(run, "list_endpoints", "Endpoints", LastModifiedTimeAfter=run.since,
                                 SortBy="CreationTime", SortOrder="Ascending"):
            for item in items:
                run.scan("endpoint")
                if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                    continue
                self._endpoint(run, item["EndpointName"])
                batch = run.flush()  # one endpoint's whole history per batch
                if batch:
                    yield batch

    def _endpoint(self, run: _Run, name: str) -> None:
        endpoint = self._describe(run, self.client.describe_endpoint, f"endpoint {name}", EndpointName=name)
        if endpoint is None:
            return
        arn = endpoint["EndpointArn"]
        capture = endpoint.get("DataCaptureConfig") or {}
        run.node(Node(NodeId(arn), NodeKind.ENDPOINT, name, SOURCE, _drop_none({
            "status": endpoint.get("EndpointStatus"),
            "endpointConfigName": endpoint.get("EndpointConfigName"),
            "variants": [v.get("VariantName") for v in endpoint.get("ProductionVariants") or []],
            "dataCapture": _drop_none({"enabled": capture.get("EnableCapture"),
                                       "destination": capture.get("DestinationS3Uri")}) or None,
            "creationTime": _iso(endpoint.get("CreationTime")),
            "lastModifiedTime": _iso(endpoint.get("LastModifiedTime")),
            "api": "DescribeEndpoint",
        })))
        deployments = self._deployments(run, arn, endpoint)
        configs: dict[str, dict[str, Any] | None] = {}
        models: dict[str, dict[str, Any] | None] = {}
        # (variant, server) -> the edge's start: time, deployment action, config name
        live: dict[tuple[str, str], dict[str, Any]] = {}
        variants: dict[str, dict[str, Any]] = {}
        for deployment in deployments:
            config_name = deployment["config"]
            if config_name not in configs:
                configs[config_name] = self._describe(run, self.client.describe_endpoint_config,
                                                      f"endpoint config {config_name} of {name}",
                                                      EndpointConfigName=config_name)
            config = configs[config_name]
            now: dict[tuple[str, str], dict[str, Any]] = {}
            if config is None:
                run.warn(f"deployment {deployment['action']} of {name}: endpoint config {config_name} cannot be "
                         "described; what it served is unknown and what it replaced ends here")
            present = set()
            for variant in (config or {}).get("ProductionVariants") or []:
                variant_name = variant.get("VariantName", "")
                present.add(variant_name)
                for server, model in self._servers(run, variant.get("ModelName"), models, name):
                    now[(variant_name, server)] = {"model": model}
                variants.setdefault(variant_name, {"from": deployment["at"], "until": None})["until"] = None
            for key, start in sorted(live.items()):
                if key not in now:
                    self._serves(run, arn, key, start, deployment)
                    del live[key]
            for key, what in sorted(now.items()):
                if key not in live:
                    live[key] = {**what, "at": deployment["at"], "action": deployment["action"],
                                 "config": config_name, "api": deployment["api"]}
            for variant_name, seen in variants.items():
                if seen["until"] is None and variant_name not in present:
                    seen["until"] = deployment["at"]
        for key, start in sorted(live.items()):
            self._serves(run, arn, key, start, None)
        for variant_name, seen in sorted(variants.items()):
            node_id = variant_id(arn, variant_name)
            run.node(Node(node_id, NodeKind.ENDPOINT_VARIANT, f"{name}/{variant_name}", SOURCE,
                          {"endpoint": name, "endpointArn": arn, "variant": variant_name,
                           "api": "DescribeEndpointConfig"},
                          valid_from=seen["from"], valid_to=seen["until"]))
            run.edge(Edge(node_id, NodeId(arn), EdgeKind.VARIANT_OF, SOURCE, {"api": "DescribeEndpointConfig"}))

    def _serves(self, run: _Run, endpoint_arn: str, key: tuple[str, str], start: dict[str, Any],
                replaced_by: dict[str, Any] | None) -> None:
        variant_name, server = key
        model = start["model"] or {}
        props = _drop_none({
            "deploymentAction": start["action"],
            "endpointConfigName": start["config"],
            "model": model.get("ModelArn"),
            "modelName": model.get("ModelName"),
            "replacedBy": replaced_by["action"] if replaced_by else None,
            "replacedByConfig": replaced_by["config"] if replaced_by else None,
            "api": f"{start['api']}+DescribeEndpointConfig+DescribeModel",
        })
        run.edge(Edge(NodeId(server), variant_id(endpoint_arn, variant_name), EdgeKind.SERVES, SOURCE, props,
                      valid_from=start["at"], valid_to=replaced_by["at"] if replaced_by else None))

    def _deployments(self, run: _Run, endpoint_arn: str, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
        """The endpoint's deployments, oldest first: time, ModelDeployment action, config name."""
        context = self._first(run, "list_contexts", "ContextSummaries", SourceUri=endpoint_arn, ContextType="Endpoint")
        if context is not None:
            action_arns = [
                a["SourceArn"]
                for items in self._pages(run, "list_associations", "AssociationSummaries",
                                         DestinationArn=context["ContextArn"], SourceType="ModelDeployment")
                for a in items
            ]
            api = "ListAssociations(endpoint context)+DescribeAction"
        else:
            run.warn(f"endpoint {endpoint_arn} has no Endpoint context: deployments read from its actions")
            action_arns = [
                a["ActionArn"]
                for items in self._pages(run, "list_actions", "ActionSummaries", SourceUri=endpoint_arn,
                                         ActionType="ModelDeployment")
                for a in items
            ]
            api = "ListActions(SourceUri=endpoint)+DescribeAction"
        deployments = []
        for action_arn in action_arns:
            action = self._describe(run, self.client.describe_action, f"deployment action {action_arn}",
                                    ActionName=action_arn)
            if action is None:
                continue
            config = (action.get("Properties") or {}).get("EndpointConfigName")
            at = coerce(action.get("CreationTime"))
            if not config or at is None:
                run.warn(f"deployment action {action_arn} names no EndpointConfigName or time: not used")
                continue
            deployments.append({"at": at, "action": action_arn, "config": config, "api": api})
        if not deployments:
            at = coerce(endpoint.get("LastModifiedTime") or endpoint.get("CreationTime"))
            run.warn(f"endpoint {endpoint_arn} has no ModelDeployment history: its current config "
                     f"{endpoint.get('EndpointConfigName')} is taken as serving since its last modification")
            if at is not None and endpoint.get("EndpointConfigName"):
                deployments.append({"at": at, "action": None, "config": endpoint["EndpointConfigName"],
                                    "api": "DescribeEndpoint"})
        return sorted(deployments, key=lambda d: (d["at"], d["action"] or ""))

    def _servers(self, run: _Run, model_name: str | None, models: dict[str, dict[str, Any] | None],
                 endpoint: str) -> Iterable[tuple[str, dict[str, Any] | None]]:
        """What a variant's model serves: its packages, or the model itself when made without one."""
        if not model_name:
            run.warn(f"a variant of endpoint {endpoint} names no model")
            return []
        if model_name not in models:
            models[model_name] = self._describe(run, self.client.describe_model, f"model {model_name} of {endpoint}",
                                                ModelName=model_name)
            model = models[model_name]
            if model is not None:
                containers = _model_containers(model)
                run.node(Node(NodeId(model["ModelArn"]), NodeKind.MODEL, model_name, SOURCE, _drop_none({
                    "containers": [_drop_none({"image": c.get("Image"), "modelDataUrl": c.get("ModelDataUrl"),
                                               "modelPackage": c.get("ModelPackageName")}) for c in containers],
                    "creationTime": _iso(model.get("CreationTime")),
                    "api": "DescribeModel",
                })))
        model = models[model_name]
        if model is None:
            return []
        servers = []
        for container in _model_containers(model):
            package = container.get("ModelPackageName")
            if package and not _is_arn(package, "model-package"):
                described = self._describe(run, self.client.describe_model_package, f"model package {package}",
                                           ModelPackageName=package)
                package = (described or {}).get("ModelPackageArn")
            if package:
                servers.append((package, model))
        return servers or [(model["ModelArn"], model)]


# -- helpers ----------------------------------------------------------------------------
def parse_watermark(since: str | None) -> datetime | None:
    if since is None:
        return None
    moment = coerce(since) if isinstance(since, str) else None
    if moment is None:
        raise SourceError(f"sagemaker watermark is not an ISO time: {since!r}")
    return moment


def _iso(moment: Any) -> str | None:
    """A time from boto3 (local zone) or a record, as the graph stores it."""
    return stamp(coerce(moment))


def _identity(who: dict[str, Any] | None) -> str | None:
    """The caller of a CreatedBy/LastModifiedBy: IAM ARN, else the Studio user profile."""
    if not who:
        return None
    return (who.get("IamIdentity") or {}).get("Arn") or who.get("UserProfileName") or who.get("UserProfileArn")


def _person(arn: str | None) -> str | None:
    """Who an IAM ARN is: an assumed role's session name (the person), an IAM user's name, else the ARN."""
    if not arn:
        return None
    try:
        parts = parse_arn(arn)
    except InvalidEvent:
        return arn
    if parts.resource_type in ("assumed-role", "user", "federated-user"):
        return parts.resource_id.rsplit("/", 1)[-1]
    return arn


def _is_arn(text: str, resource_type: str) -> bool:
    try:
        parts = parse_arn(text)
    except InvalidEvent:
        return False
    return parts.service == "sagemaker" and parts.resource_type == resource_type


def _model_containers(model: dict[str, Any]) -> list[dict[str, Any]]:
    return ([model["PrimaryContainer"]] if model.get("PrimaryContainer") else []) + list(model.get("Containers") or [])


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


def _short(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _error(err: ClientError) -> str:
    error = err.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', '')}"


__all__ = ["SageMakerConfig", "SageMakerReport", "SageMakerSource"]
