"""Reconciliation: one rule set that links what each system saw of the same things.

Contract: ``reconcile(store)`` reads the graph the sources wrote and writes ``SameAs``
(both directions, so walks cross systems either way) and flow edges between systems,
each carrying ``props.rule`` (which rule made it) and ``props.evidence`` (the values it
matched on); when two rules make the same edge, the second is kept in
``props.corroboratedBy``. It returns a ``ReconcileReport``: per rule, how many links it
made; every entity that a rule tried and that matched nothing, by kind, with the keys
tried (``unmatched`` / ``entries``); manual facts a system's record contradicts
(``conflicts``: the system's record wins; the fact stays, as evidence only). Unmatched
entities are reported, never dropped. Running it twice writes nothing new (edges are
upserted by key). ``unmatched(graph, kinds)`` runs the same rules without writing and
lists what matched nothing.

The rules, in order:

1. ``naming:artifact-uri`` - a SageMaker artifact whose SourceUri is a storage URI is
   the OpenLineage dataset the one naming function names from that URI.
2. ``naming:sagemaker-arn`` - a SageMaker entity (model package, endpoint, model,
   training/processing job) is the OpenLineage dataset named from its ARN (crossline's
   emitters name packages, models and endpoints that way).
3. ``arn-facet`` - an OpenLineage run whose ``crossline_sagemakerJob`` facet names a
   job ARN is that SageMaker training/processing job (and its trial component).
4. ``model-data-url`` - a model package's ModelDataUrl names the model artifact dataset
   it was registered from: artifact dataset ``ContributedTo`` package (SageMaker's
   package, and the OpenLineage package dataset by its ``crossline_modelPackage`` facet,
   so that lineage reaches packages when only OpenLineage was collected).
5. ``symlinks`` - a dataset or dataset version whose ``aliases`` (an OpenLineage
   ``symlinks`` facet; a Glue catalog table's location; the table Feature Store
   registers) name another identity is that dataset, when it was seen, AND the SageMaker
   artifact whose SourceUri the naming function names the same, whether or not any
   event named that location: the link does not wait for the other side to be seen on
   its own.
6-9. The rules for the systems teams run beside crossline's own (``reconcile_systems``):
   ``external-query`` (an OpenLineage run naming a pipeline execution or job ARN),
   ``mlflow:*`` (MLflow runs, model versions, training jobs and packages that name each
   other), ``feature-store:offline-prefix`` (what lies under a feature group's offline
   store), ``manual:*`` (manual facts corroborated by, or in conflict with, a system's
   record; a fact's subject found by its location).

Packages to endpoint variants need no rule of their own: SageMaker's deployment history
and crossline's deployment facet both name the variant with ``variant_id``, and rule 2
joins the package.

Then the timelines (``collectors.timeline``), from the whole set of facts of both sides:
when each SERVES fact and each approval decision stops being in force, which records
of the two systems are one deployment or one decision (with the rule and the time
difference), and where they disagree. They are stored with ``GraphStore.derive``, which
replaces the previous derivation whole, so a fact that arrives late (an intermediate
deployment or decision) shortens the interval before it. ``report.timelines`` counts them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any

from crossline.collectors import timeline
from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id
from crossline.collectors.openlineage import MODEL_PACKAGE_FACET, facet
from crossline.collectors.store import GraphStore
from crossline.emitters.facets import CrosslineSagemakerJobRunFacet
from crossline.errors import InvalidEvent

SOURCE = "reconcile"
SAGEMAKER_ARN_KINDS = (
    NodeKind.MODEL_PACKAGE, NodeKind.ENDPOINT, NodeKind.MODEL, NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB,
)


@dataclass
class Tried:
    """One key a rule read from an entity, what it looked for, and what it found."""

    rule: str
    key: str
    looked_for: str
    outcome: str = "nothing there"


@dataclass
class Unmatched:
    id: str
    kind: str
    name: str | None
    tried: list[Tried]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReconcileReport:
    links: Counter[str] = field(default_factory=Counter)
    unmatched: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    entries: list[Unmatched] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timelines: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "links": dict(self.links),
            "unmatched": {kind: len(ids) for kind, ids in self.unmatched.items()},
            "conflicts": len(self.conflicts),
            "warnings": len(self.warnings),
            "timelines": dict(self.timelines),
        }


class Book:
    """What the rules tried and matched, entity by entity: the unmatched listing's source."""

    def __init__(self, report: ReconcileReport) -> None:
        self.report = report
        self.tried: dict[NodeId, list[Tried]] = {}
        self.who: dict[NodeId, tuple[str, str | None]] = {}
        self.matched: set[NodeId] = set()

    def try_(self, node: Node, rule: str, key: str, looked_for: str, outcome: str = "nothing there") -> None:
        self.tried.setdefault(node.id, []).append(Tried(rule, key, looked_for, outcome))
        self.who[node.id] = (node.kind.value, node.name)

    def link(self, rule: str, *ids: NodeId) -> None:
        self.matched.update(ids)
        self.report.links[rule] += 1

    def close(self) -> None:
        for node_id in sorted(self.tried):
            if node_id in self.matched:
                continue
            kind, name = self.who[node_id]
            self.report.unmatched[kind].append(node_id)
            self.report.entries.append(Unmatched(node_id, kind, name, self.tried[node_id]))


def same_as(a: NodeId, b: NodeId, rule: str, evidence: dict[str, Any]) -> list[Edge]:
    props = {"rule": rule, "evidence": evidence}
    return [Edge(a, b, EdgeKind.SAME_AS, SOURCE, props), Edge(b, a, EdgeKind.SAME_AS, SOURCE, props)]


def linked(src: NodeId, dst: NodeId, kind: EdgeKind, rule: str, evidence: dict[str, Any]) -> Edge:
    return Edge(src, dst, kind, SOURCE, {"rule": rule, "evidence": evidence})


def name_of(uri: str, report: ReconcileReport) -> NodeId | None:
    try:
        return dataset_id(uri)
    except InvalidEvent as err:
        report.warnings.append(str(err))
        return None


def _storage(uri: str) -> bool:
    return uri.startswith(("s3", "arn:"))  # container images and the like name no dataset


def rules(graph: Graph, report: ReconcileReport) -> Iterator[Edge]:
    """Apply the rules, streaming each kind's nodes through ``graph``; see the module docstring."""
    from crossline.collectors import reconcile_systems

    book = Book(report)
    nodes = graph.nodes
    datasets: set[NodeId] = set()
    packaged: list[tuple[Node, str]] = []  # OpenLineage package datasets and their model data
    for node in nodes(NodeKind.DATASET):
        datasets.add(node.id)
        url = (facet(node, MODEL_PACKAGE_FACET) or {}).get("modelDataUrl")
        if url:
            packaged.append((node, str(url)))

    # 1. artifacts by SourceUri; remember every artifact's named location for rules 5-9
    artifacts: dict[NodeId, list[tuple[NodeId, str]]] = defaultdict(list)
    for artifact in nodes(NodeKind.SM_ARTIFACT):
        uri = str(artifact.props.get("SourceUri") or "")
        if not _storage(uri):
            continue
        target = name_of(uri, report)
        if target is None:
            continue
        artifacts[target].append((artifact.id, uri))
        book.try_(artifact, "naming:artifact-uri", f"SourceUri {uri}", target)
        if target in datasets:
            book.link("naming:artifact-uri", artifact.id, target)
            yield from same_as(artifact.id, target, "naming:artifact-uri", {"SourceUri": uri, "artifact": artifact.id})

    # 2. SageMaker entities by ARN
    for kind in SAGEMAKER_ARN_KINDS:
        for entity in nodes(kind):
            target = name_of(entity.id, report)
            if target is None:
                continue
            if kind in (NodeKind.MODEL_PACKAGE, NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB):
                book.try_(entity, "naming:sagemaker-arn", f"ARN {entity.id}", target)
            if target in datasets:
                book.link("naming:sagemaker-arn", entity.id, target)
                yield from same_as(entity.id, target, "naming:sagemaker-arn", {"arn": entity.id})

    # 3. runs by their SageMaker job ARN (6. by the pipeline execution or job their externalQuery names)
    jobs = {n.id.lower(): n.id for k in (NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB) for n in nodes(k)}
    executions = {n.id.lower(): n.id for n in nodes(NodeKind.PIPELINE_EXECUTION)}
    for run in nodes(NodeKind.RUN):
        yield from reconcile_systems.external_query(run, {**jobs, **executions}, book)
        arn = run.props.get("sagemakerArn") or (facet(run, CrosslineSagemakerJobRunFacet.KEY) or {}).get("arn")
        if not arn:
            continue
        job = jobs.get(str(arn).lower())
        book.try_(run, "arn-facet", f"{CrosslineSagemakerJobRunFacet.KEY}.arn {arn}", str(arn))
        if job is None:
            continue
        book.link("arn-facet", run.id, job)
        yield from same_as(run.id, job, "arn-facet", {"arn": arn, "run": run.id})

    # 4. packages from their model data
    registered = ((p, p.props.get("modelDataUrl") or p.props.get("ModelDataUrl")) for p in nodes(NodeKind.MODEL_PACKAGE))
    for package, url in chain(registered, packaged):
        if not url:
            continue
        artifact = name_of(url, report)
        if artifact in datasets:
            book.link("model-data-url", package.id)
            yield linked(artifact, package.id, EdgeKind.CONTRIBUTED_TO, "model-data-url",
                         {"ModelDataUrl": url, "package": package.id})

    # 5. symlinks: aliases of datasets and of dataset versions, to datasets and to artifacts
    for kind in (NodeKind.DATASET, NodeKind.DATASET_VERSION):
        for dataset in nodes(kind):
            for other in dataset.props.get("aliases") or []:
                alias = NodeId(str(other))
                if alias == dataset.id:
                    continue
                book.try_(dataset, "symlinks", f"alias {alias}", f"{alias} or a SageMaker artifact of it")
                if alias in datasets:
                    book.link("symlinks", dataset.id, alias)
                    yield from same_as(dataset.id, alias, "symlinks", {"alias": alias})
                for artifact, uri in artifacts.get(alias, []):
                    book.link("symlinks", dataset.id, artifact)
                    yield from same_as(dataset.id, artifact, "symlinks",
                                       {"alias": alias, "SourceUri": uri, "artifact": artifact})

    # 6-9. the systems beside crossline's own
    yield from reconcile_systems.rules(graph, book, jobs, executions, datasets, artifacts)
    book.close()


def _merge(old: Edge, new: Edge) -> Edge:
    """The same edge from a second rule: kept once, the second rule as corroboration."""
    if old.props.get("rule") == new.props.get("rule"):
        return old
    also = [*old.props.get("corroboratedBy", []), {"rule": new.props.get("rule"), "evidence": new.props.get("evidence")}]
    return Edge(old.src, old.dst, old.kind, old.source, {**old.props, "corroboratedBy": also}, old.valid_from, old.valid_to)


def reconcile(store: GraphStore, *, batch: int = 20_000) -> ReconcileReport:
    """Stream each kind's nodes through ``Graph`` (never all at once) and write links to the store in batches."""
    graph = Graph(store)
    report = ReconcileReport()
    pending: dict[tuple[str, str, str, str], Edge] = {}
    for edge in rules(graph, report):
        old = pending.get(edge.key)
        pending[edge.key] = edge if old is None else _merge(old, edge)
        if len(pending) >= batch:
            store.write([], list(pending.values()))
            pending.clear()
    if pending:
        store.write([], list(pending.values()))
    nodes, edges = timeline.derive(graph)
    report.timelines.update({
        "decision records": sum(1 for _, derived in nodes.values() if "decision" in derived),
        "joined across systems": sum(1 for _, derived in nodes.values() if derived.get("sameDecision"))
        + sum(1 for _, derived in edges.values() if derived.get("sameDeployment")),
        "conflicts": sum(1 for _, derived in [*nodes.values(), *edges.values()] if derived.get("conflicts")),
        "serving facts": sum(1 for _, derived in edges.values() if "deployment" in derived),
        "records changed": store.derive(nodes, edges),
    })
    return report


def unmatched(graph: Graph, kinds: set[str] | None = None) -> list[Unmatched]:
    """What the rules would match to nothing in the graph as it is (nothing is written)."""
    report = ReconcileReport()
    with graph.snapshot():
        for _ in rules(graph, report):
            pass
    return [e for e in report.entries if kinds is None or e.kind in kinds]


__all__ = ["ReconcileReport", "Tried", "Unmatched", "reconcile", "rules", "same_as", "unmatched"]
