"""The one converter from OpenLineage run events to graph records.

Contract: ``records_from_event(event, source=...)`` turns one RunEvent (a dict, as JSON
gives it) into ``(nodes, edges)``. It is pure and deterministic: the same event gives the
same records, so sources may re-read. Every record carries the event's ``eventTime`` as
its fact time (``at``), except the approval and deployment records, which carry the
decision and deployment times their facets report: the store merges by those times, so
a re-delivered older event never overwrites what a newer one said. It never raises on
bad input. The event first goes through the door (``door.admit_event``): one holding a
value no store keeps alike, or invalid at its core against the official OpenLineage
schema (an unknown eventType, no producer, a runId that is not a UUID...), or one whose
records have an id too long to index, records nothing; a facet or dataset invalid
against its schema is dropped and costs only itself. With ``runs`` (a
``door.RunJobs``), an event naming its run with another job than the one the run
already belongs to is refused too, and a parent facet doing so is dropped. Each of these
is a warning in ``report``, a ``Problem``: text with a ``kind`` (``log.KINDS``). An event
without an eventType (the spec allows it) is read as a status update: no state, no
outputs written, and a warning.

What an event gives (ids come from ``crossline.collectors.model``):

- JOB node; RUN node with ``startedAt``/``endedAt``/``state`` (state only from a terminal
  event, so START read after COMPLETE cannot undo it), ``eventTimes.<TYPE>``,
  ``nominalStartTime``, and each run facet under ``facets.<key>`` (stable keys, so
  START and COMPLETE merge); RUN_OF run -> job; PARENT parent run -> run.
- ``crossline_sagemakerJob``: run props ``sagemakerArn``/``sagemakerJobKind`` (the join
  key for reconciliation; no SameAs here).
- Inputs/outputs: DATASET nodes; with the standard ``version`` facet also a
  DATASET_VERSION node (VERSION_OF -> dataset) that the flow edges use instead of the
  dataset, so a walk follows the content that was actually read or written. CONSUMED
  (dataset or version -> run) from any event; PRODUCED (run -> dataset or version) only
  from COMPLETE/FAIL/ABORT/OTHER events: outputs on START are what a run *expects* to
  write, and unversioned PRODUCED edges from them would join every run of a job that
  writes the same path.
- ``crossline_featureSnapshot``: FEATURE_GROUP node (``dataset_id`` of its ARN) and a
  CONTRIBUTED_TO edge feature group -> snapshot dataset (or its version).
- ``sourceCodeLocation``: CODE_COMMIT node and CODE edge commit -> run.
- ``crossline_approval``: APPROVAL node (``approval_id(..., system="openlineage")``,
  valid from the decision) and APPROVED edge approval -> model-package dataset. When a
  decision stops being in force is derived from all decisions (``collectors.timeline``).
- ``crossline_deployment``: ENDPOINT node (its ARN), ENDPOINT_VARIANT node, VARIANT_OF,
  and SERVES package (or model) dataset -> variant, valid from ``deployedTime`` as
  OpenLineage reported it; the deployment that replaced it is derived from all
  deployments of the endpoint (``collectors.timeline``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crossline.collectors.door import RunJobs, admit_event, record_refusal
from crossline.collectors.model import (
    Edge,
    EdgeKind,
    Node,
    NodeId,
    NodeKind,
    approval_id,
    commit_id,
    dataset_id,
    dataset_version_id,
    job_id,
    run_id,
    variant_id,
)
from crossline.emitters.facets import (
    CrosslineApprovalRunFacet,
    CrosslineDeploymentRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineModelPackageDatasetFacet,
    CrosslineSagemakerJobRunFacet,
)
from crossline.emitters.naming import dataset_name, parse_arn, sagemaker_arn
from crossline.errors import HostileInput, InvalidEvent
from crossline.redact import redact
from crossline.times import iso, parse

TERMINAL = frozenset({"COMPLETE", "FAIL", "ABORT"})
# Events after which outputs have been written (OTHER: a status update of a running
# job in the spec, but producers use it for one-shot events that carry real outputs).
WRITES = TERMINAL | {"OTHER"}

SNAPSHOT_FACET = CrosslineFeatureSnapshotDatasetFacet.KEY
SAGEMAKER_JOB_FACET = CrosslineSagemakerJobRunFacet.KEY
APPROVAL_FACET = CrosslineApprovalRunFacet.KEY
DEPLOYMENT_FACET = CrosslineDeploymentRunFacet.KEY
MODEL_PACKAGE_FACET = CrosslineModelPackageDatasetFacet.KEY
FACET_PROP = "facets."
"""Each facet of a run, job or dataset is kept whole in its node's props under ``facets.<key>``."""


def facet_prop(key: str) -> str:
    """The prop a facet is kept under: ``facet_prop(CrosslineMetricsRunFacet.KEY)``."""
    return f"{FACET_PROP}{key}"


def facet(node: Node, key: str) -> dict[str, Any] | None:
    """A facet as the converter stored it on ``node``, or None if it has none (or not an object)."""
    value = node.props.get(facet_prop(key))
    return value if isinstance(value, dict) else None


class Problem(str):
    """A warning's text, and its kind (``crossline.collectors.log.KINDS``)."""

    kind: str

    def __new__(cls, text: str, kind: str = "unusable") -> Problem:
        made = super().__new__(cls, text)
        made.kind = kind
        return made


@dataclass
class ConversionReport:
    """Counters and warnings of a run of the converter, printed by the collector."""

    events: int = 0
    skipped: int = 0
    nodes: int = 0
    edges: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str, kind: str = "unusable") -> None:
        self.warnings.append(Problem(message, kind))


def records_from_event(
    event: Any, *, source: str = "openlineage", report: ConversionReport | None = None,
    runs: RunJobs | None = None,
) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges of one OpenLineage RunEvent; ``([], [])`` and a warning if refused."""
    report = report if report is not None else ConversionReport()
    report.events += 1
    event = redact(event)  # secrets stop at the door: events from any producer may carry them
    try:
        event, dropped = admit_event(event)
        for problem in dropped:
            report.warn(problem, "invalid-part")
        builder = _Builder(event, source, report)
        builder.build()
        records = builder.records()
        if runs is not None:
            records = _claim(event, builder, records, runs, source, report)
    except InvalidEvent as err:
        report.skipped += 1
        kind = "hostile" if isinstance(err, HostileInput) else "conflict" if isinstance(err, _Conflict) else "invalid-event"
        report.warn(f"event rejected: {err}", kind)
        return [], []
    nodes, edges = records
    report.nodes += len(nodes)
    report.edges += len(edges)
    return nodes, edges


def run_ids(events: Iterable[Any]) -> Iterator[NodeId]:
    """The run ids events name (their run, their parent's run), to ``RunJobs.prefetch`` in one go."""
    for event in events:
        run = event.get("run") if isinstance(event, Mapping) else None
        if not isinstance(run, Mapping):
            continue
        facets = run.get("facets")
        parent = facets.get("parent") if isinstance(facets, Mapping) else None
        parent_run = parent.get("run") if isinstance(parent, Mapping) else None
        for value in (run.get("runId"), parent_run.get("runId") if isinstance(parent_run, Mapping) else None):
            try:
                yield run_id(str(uuid.UUID(value)))
            except (TypeError, ValueError, AttributeError):
                continue


class _Conflict(InvalidEvent):
    """The event contradicts what is known of a run: it names it with another job."""


def _claim(
    event: Mapping[str, Any], builder: _Builder, records: tuple[list[Node], list[Edge]], runs: RunJobs,
    source: str, report: ConversionReport,
) -> tuple[list[Node], list[Edge]]:
    """The records, once the event's runs agree with ``runs``; each run claimed for its job."""
    other = runs.conflict(builder.run, builder.job)
    if other is not None:
        raise _Conflict(f"run {builder.run_uuid} belongs to {other}; this event names it with {builder.job}")
    # The parent facet's run (the only other run an event names) must agree too.
    parents = [(e.src, e.dst) for e in records[1]
               if e.kind == EdgeKind.RUN_OF and (e.src, e.dst) != (builder.run, builder.job)]
    for run, job in parents:
        owner = builder.job if run == builder.run else runs.conflict(run, job)
        if owner is None:
            continue
        report.warn(f"run {builder.run_uuid}: facet parent dropped: its run {run} belongs to {owner}, "
                    f"the facet names it with {job}", "conflict")
        run_facets = {k: v for k, v in builder.run_facets.items() if k != "parent"}
        builder = _Builder({**event, "run": {**event["run"], "facets": run_facets}}, source, ConversionReport())
        builder.build()
        records, parents = builder.records(), []
        break
    runs.claim(builder.run, builder.job)
    for run, job in parents:
        runs.claim(run, job)
    return records


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"{what} must be an object, got {type(value).__name__}")
    return value


def _text(container: Mapping[str, Any], key: str, what: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"{what}.{key} must be a non-empty string, got {value!r}")
    return value


def _run_uuid(value: Any, what: str) -> str:
    """The canonical (lower-case, hyphenated) form, as Marquez returns run ids."""
    if not isinstance(value, str):
        raise InvalidEvent(f"{what} is not a UUID: {value!r}")
    try:
        return str(uuid.UUID(value))
    except ValueError as err:
        raise InvalidEvent(f"{what} is not a UUID: {value!r}") from err


class _Builder:
    """One event's records; nodes and edges deduplicated (a node's props merge by key)."""

    def __init__(self, event: Any, source: str, report: ConversionReport) -> None:
        self.source = source
        self.report = report
        self.nodes: dict[NodeId, Node] = {}
        self.edges: dict[tuple[str, str, str, str], Edge] = {}
        self.event = _mapping(event, "event")
        run = _mapping(self.event.get("run"), "event.run")
        job = _mapping(self.event.get("job"), "event.job")
        self.run_uuid = _run_uuid(run.get("runId"), "event.run.runId")
        self.job_ns = _text(job, "namespace", "event.job")
        self.job_name = _text(job, "name", "event.job")
        self.event_time = parse(self.event.get("eventTime"), "event.eventTime")
        # The schema has checked it is one of the spec's; missing, the event is a plain
        # status update: it writes nothing, ends nothing.
        event_type = self.event.get("eventType")
        self.event_type = event_type if isinstance(event_type, str) else None
        if self.event_type is None:
            report.warn(f"run {self.run_uuid}: event without an eventType: read as a status update "
                        "(its outputs are not taken as written)", "unusable")
        self.run_facets = self._facets(run.get("facets"), "run.facets")
        self.job_facets = self._facets(job.get("facets"), "job.facets")
        self.run = run_id(self.run_uuid)
        self.job = job_id(self.job_ns, self.job_name)

    # -- plumbing --------------------------------------------------------------------
    def _facets(self, value: Any, what: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.report.warn(f"run {self.run_uuid}: {what} is not an object; ignored")
            return {}
        return value

    def node(
        self, node_id: NodeId, kind: NodeKind, name: str, props: Mapping[str, Any] | None = None,
        valid_from: datetime | None = None, at: datetime | None = None,
    ) -> NodeId:
        old = self.nodes.get(node_id)
        merged = {**(old.props if old else {}), **(props or {})}
        self.nodes[node_id] = Node(
            node_id, kind, name, self.source, merged, valid_from or (old.valid_from if old else None),
            at=at or (old.at if old else None) or self.event_time,
        )
        return node_id

    def edge(
        self, src: NodeId, dst: NodeId, kind: EdgeKind, props: Mapping[str, Any] | None = None,
        valid_from: datetime | None = None, at: datetime | None = None,
    ) -> None:
        edge = Edge(src, dst, kind, self.source, dict(props or {}), valid_from, at=at or self.event_time)
        old = self.edges.get(edge.key)
        if old is not None:
            edge = Edge(src, dst, kind, self.source, {**old.props, **edge.props}, valid_from, at=edge.at)
        self.edges[edge.key] = edge

    def facet_failed(self, key: str, err: Exception) -> None:
        self.report.warn(f"run {self.run_uuid}: facet {key} ignored: {err}", "invalid-part")

    def records(self) -> tuple[list[Node], list[Edge]]:
        """The event's records; ``HostileInput`` if an id or name is too long to index."""
        nodes, edges = list(self.nodes.values()), list(self.edges.values())
        for record in (*nodes, *edges):
            why = record_refusal(record, props=False)  # props come from the event, which the door checked
            if why is not None:
                raise HostileInput(f"its {record.kind} record cannot be stored: {why}")
        return nodes, edges

    # -- the event -------------------------------------------------------------------
    def build(self) -> None:
        self.build_job()
        self.build_run()
        for key, handler in (
            ("parent", self.build_parent),
            (APPROVAL_FACET, self.build_approval),
            (DEPLOYMENT_FACET, self.build_deployment),
        ):
            facet = self.run_facets.get(key)
            if facet is None:
                continue
            try:
                handler(_mapping(facet, f"run.facets.{key}"))
            except InvalidEvent as err:
                self.facet_failed(key, err)
        location = self.job_facets.get("sourceCodeLocation")
        if location is not None:
            try:
                self.build_code(_mapping(location, "job.facets.sourceCodeLocation"))
            except InvalidEvent as err:
                self.facet_failed("sourceCodeLocation", err)
        for role in ("inputs", "outputs"):
            datasets = self.event.get(role) or []
            if not isinstance(datasets, list):
                self.report.warn(f"run {self.run_uuid}: {role} is not a list; ignored")
                continue
            for index, dataset in enumerate(datasets):
                try:
                    self.build_dataset(_mapping(dataset, f"{role}[{index}]"), role)
                except InvalidEvent as err:
                    self.report.warn(f"run {self.run_uuid}: {role}[{index}] ignored: {err}")

    def build_job(self) -> None:
        props: dict[str, Any] = {"namespace": self.job_ns, "name": self.job_name}
        props.update({facet_prop(k): v for k, v in self.job_facets.items()})
        self.node(self.job, NodeKind.JOB, self.job_name, props)

    def build_run(self) -> None:
        when = iso(self.event_time)
        props: dict[str, Any] = {"job": self.job}
        if self.event_type is not None:
            props[f"eventTimes.{self.event_type}"] = when
        if self.event_type == "START":
            props["startedAt"] = when
        if self.event_type in TERMINAL:
            props["endedAt"] = when
            props["state"] = self.event_type
        if isinstance(self.event.get("producer"), str):
            props["producer"] = self.event["producer"]
        nominal = self.run_facets.get("nominalTime")
        if isinstance(nominal, Mapping) and isinstance(nominal.get("nominalStartTime"), str):
            props["nominalStartTime"] = nominal["nominalStartTime"]
            if isinstance(nominal.get("nominalEndTime"), str):
                props["nominalEndTime"] = nominal["nominalEndTime"]
        props.update({facet_prop(k): v for k, v in self.run_facets.items()})
        job = self.run_facets.get(SAGEMAKER_JOB_FACET)
        if job is not None:
            try:
                job = _mapping(job, f"run.facets.{SAGEMAKER_JOB_FACET}")
                arn = _text(job, "arn", SAGEMAKER_JOB_FACET)
                parse_arn(arn)
                props["sagemakerArn"] = arn
                if isinstance(job.get("kind"), str):
                    props["sagemakerJobKind"] = job["kind"]
            except InvalidEvent as err:
                self.facet_failed(SAGEMAKER_JOB_FACET, err)
        self.node(self.run, NodeKind.RUN, self.run_uuid, props)
        self.edge(self.run, self.job, EdgeKind.RUN_OF)

    def build_parent(self, facet: Mapping[str, Any]) -> None:
        run = _mapping(facet.get("run"), "parent.run")
        job = _mapping(facet.get("job"), "parent.job")
        parent_uuid = _run_uuid(run.get("runId"), "parent.run.runId")
        parent_job = job_id(_text(job, "namespace", "parent.job"), _text(job, "name", "parent.job"))
        parent = run_id(parent_uuid)
        # Bare nodes: the parent's own events fill them; empty props merge as no change.
        self.node(parent_job, NodeKind.JOB, job["name"])
        self.node(parent, NodeKind.RUN, parent_uuid)
        self.edge(parent, parent_job, EdgeKind.RUN_OF)
        self.edge(parent, self.run, EdgeKind.PARENT)

    def build_code(self, facet: Mapping[str, Any]) -> None:
        repo = _text(facet, "repoUrl", "sourceCodeLocation")
        commit = _text(facet, "version", "sourceCodeLocation")
        props = {k: facet[k] for k in ("type", "url", "repoUrl", "path", "version", "branch", "tag") if facet.get(k)}
        commit_node = self.node(commit_id(repo, commit), NodeKind.CODE_COMMIT, f"{repo}@{commit}", props)
        self.edge(commit_node, self.run, EdgeKind.CODE)

    def build_dataset(self, dataset: Mapping[str, Any], role: str) -> None:
        ns = _text(dataset, "namespace", role)
        name = _text(dataset, "name", role)
        facets = self._facets(dataset.get("facets"), f"{role}.facets")
        ds = self.node(dataset_id(ns, name), NodeKind.DATASET, name, {"namespace": ns, "name": name})
        target = ds
        version_facet = facets.get("version")
        version = version_facet.get("datasetVersion") if isinstance(version_facet, Mapping) else None
        props: dict[str, Any] = {facet_prop(k): v for k, v in facets.items()}
        symlinks = self.aliases(facets.get("symlinks"))
        if symlinks:
            props["aliases"] = symlinks
        package = facets.get(MODEL_PACKAGE_FACET)
        if isinstance(package, Mapping) and isinstance(package.get("arn"), str):
            props["modelPackageArn"] = package["arn"]
        if isinstance(version, str) and version.strip():
            target = dataset_version_id(ds, version)
            self.node(target, NodeKind.DATASET_VERSION, f"{name}@{version}",
                      {"namespace": ns, "name": name, "version": version, **props})
            self.edge(target, ds, EdgeKind.VERSION_OF)
        elif props:
            self.node(ds, NodeKind.DATASET, name, props)
        io_key = "inputFacets" if role == "inputs" else "outputFacets"
        io_facets = self._facets(dataset.get(io_key), f"{role}.{io_key}")
        edge_props = {facet_prop(k): v for k, v in io_facets.items()}
        if role == "inputs":
            self.edge(target, self.run, EdgeKind.CONSUMED, edge_props)
        elif self.event_type in WRITES:
            self.edge(self.run, target, EdgeKind.PRODUCED, edge_props)
        snapshot = facets.get(SNAPSHOT_FACET)
        if snapshot is not None:
            try:
                self.build_snapshot(_mapping(snapshot, SNAPSHOT_FACET), target)
            except InvalidEvent as err:
                self.facet_failed(f"{SNAPSHOT_FACET} of {ns}/{name}", err)

    def aliases(self, facet: Any) -> list[str]:
        if not isinstance(facet, Mapping) or not isinstance(facet.get("identifiers"), list):
            return []
        return [
            dataset_id(i["namespace"], i["name"])
            for i in facet["identifiers"]
            if isinstance(i, Mapping) and isinstance(i.get("namespace"), str) and isinstance(i.get("name"), str)
        ]

    def build_snapshot(self, facet: Mapping[str, Any], snapshot: NodeId) -> None:
        group = _text(facet, "featureGroupName", SNAPSHOT_FACET)
        version = _text(facet, "version", SNAPSHOT_FACET)
        arn = facet.get("featureGroupArn")
        if not isinstance(arn, str):
            raise InvalidEvent(f"feature group {group!r} has no featureGroupArn to name it by")
        props = {"featureGroupName": group, "arn": arn}
        feature_group = self.node(dataset_id(arn), NodeKind.FEATURE_GROUP, group, props)
        self.edge(feature_group, snapshot, EdgeKind.CONTRIBUTED_TO,
                  {"facet": SNAPSHOT_FACET, "snapshotVersion": version})

    def build_approval(self, facet: Mapping[str, Any]) -> None:
        package_arn = _text(facet, "modelPackageArn", APPROVAL_FACET)
        status = _text(facet, "status", APPROVAL_FACET)
        decided = parse(facet.get("decisionTime"), f"{APPROVAL_FACET}.decisionTime")
        approver = facet.get("approverUserProfileName") or facet.get("approverIamArn")
        props = {
            "status": status,
            "approver": approver,
            "approverUserProfileName": facet.get("approverUserProfileName"),
            "approverIamArn": facet.get("approverIamArn"),
            "decisionTime": iso(decided),
            "description": facet.get("description"),
            "sourceEventId": facet.get("sourceEventId"),
            "sourceEventType": facet.get("sourceEventType"),
            "modelPackageArn": package_arn,
            "run": self.run,
        }
        package = self.package_node(package_arn)
        approval = self.node(approval_id(package_arn, decided, system="openlineage"), NodeKind.APPROVAL,
                             f"{status} by {approver}", props, valid_from=decided, at=decided)
        self.edge(approval, package, EdgeKind.APPROVED, {"status": status}, valid_from=decided, at=decided)

    def package_node(self, arn: str) -> NodeId:
        """The model package's dataset node, named as its registry event names it."""
        ns, name = dataset_name(arn)
        return self.node(dataset_id(ns, name), NodeKind.DATASET, name,
                         {"namespace": ns, "name": name, "modelPackageArn": arn})

    def build_deployment(self, facet: Mapping[str, Any]) -> None:
        endpoint_arn = _text(facet, "endpointArn", DEPLOYMENT_FACET)
        variant = _text(facet, "variantName", DEPLOYMENT_FACET)
        model = _text(facet, "modelName", DEPLOYMENT_FACET)
        deployed = parse(facet.get("deployedTime"), f"{DEPLOYMENT_FACET}.deployedTime")
        endpoint = parse_arn(endpoint_arn)
        package_arn = facet.get("modelPackageArn")
        if isinstance(package_arn, str) and package_arn:
            served = self.package_node(package_arn)
        else:  # a model made from model data, not a package: the model dataset serves
            model_arn = sagemaker_arn("model", model, region=endpoint.region, account=endpoint.account,
                                      partition=endpoint.partition)
            ns, name = dataset_name(model_arn)
            served = self.node(dataset_id(ns, name), NodeKind.DATASET, name, {"namespace": ns, "name": name})
        endpoint_name = _text(facet, "endpointName", DEPLOYMENT_FACET)
        self.node(NodeId(endpoint_arn), NodeKind.ENDPOINT, endpoint_name, {"arn": endpoint_arn})
        props = {
            "endpointName": endpoint_name,
            "endpointArn": endpoint_arn,
            "variantName": variant,
            "modelName": model,
            "modelPackageArn": package_arn,
            "endpointConfigName": facet.get("endpointConfigName"),
        }
        node = self.node(variant_id(endpoint_arn, variant), NodeKind.ENDPOINT_VARIANT, variant, props)
        self.edge(node, NodeId(endpoint_arn), EdgeKind.VARIANT_OF)
        self.edge(served, node, EdgeKind.SERVES,
                  {"modelName": model, "deployedTime": iso(deployed), "run": self.run}, valid_from=deployed, at=deployed)
