"""Reconciliation: one rule set that links what Marquez (OpenLineage) and SageMaker saw.

Contract: ``reconcile(store)`` reads the graph the sources wrote and writes ``SameAs``
(both directions, so walks cross systems either way) and flow edges between the two
sides, each carrying ``props.rule`` (which rule made it) and ``props.evidence`` (the
values it matched on). It returns a ``ReconcileReport``: per rule, how many links it
made, and every entity of either side that matched nothing, by kind. Unmatched
entities are reported, never dropped. Running it twice writes nothing new (edges are
upserted by key).

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
5. ``symlinks`` - an OpenLineage dataset whose ``symlinks`` facet names another
   identifier (a Glue table and its S3 location) is that dataset.

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
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from dataclasses import dataclass, field
from typing import Any

from crossline.collectors import timeline
from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id
from crossline.collectors.openlineage import MODEL_PACKAGE_FACET, facet
from crossline.emitters.facets import CrosslineSagemakerJobRunFacet
from crossline.collectors.store import GraphStore
from crossline.errors import InvalidEvent

SOURCE = "reconcile"
SAGEMAKER_ARN_KINDS = (
    NodeKind.MODEL_PACKAGE, NodeKind.ENDPOINT, NodeKind.MODEL, NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB,
)


@dataclass
class ReconcileReport:
    links: Counter[str] = field(default_factory=Counter)
    unmatched: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    warnings: list[str] = field(default_factory=list)
    timelines: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "links": dict(self.links),
            "unmatched": {kind: len(ids) for kind, ids in self.unmatched.items()},
            "warnings": len(self.warnings),
            "timelines": dict(self.timelines),
        }


def same_as(a: NodeId, b: NodeId, rule: str, evidence: dict[str, Any]) -> list[Edge]:
    props = {"rule": rule, "evidence": evidence}
    return [Edge(a, b, EdgeKind.SAME_AS, SOURCE, props), Edge(b, a, EdgeKind.SAME_AS, SOURCE, props)]


def _name(uri: str, report: ReconcileReport) -> NodeId | None:
    try:
        return dataset_id(uri)
    except InvalidEvent as err:
        report.warnings.append(str(err))
        return None


def rules(nodes: Callable[[NodeKind], Iterable[Node]], report: ReconcileReport) -> Iterator[Edge]:
    """Apply the rules; ``nodes(kind)`` streams the store's nodes of one kind."""
    datasets: set[NodeId] = set()
    packaged: list[tuple[Node, str]] = []  # OpenLineage package datasets and their model data
    for node in nodes(NodeKind.DATASET):
        datasets.add(node.id)
        url = (facet(node, MODEL_PACKAGE_FACET) or {}).get("modelDataUrl")
        if url:
            packaged.append((node, str(url)))
    matched: set[NodeId] = set()

    # 1. artifacts by SourceUri
    for artifact in nodes(NodeKind.SM_ARTIFACT):
        uri = str(artifact.props.get("SourceUri") or "")
        if not uri.startswith(("s3", "arn:")):  # container images and the like name no dataset
            continue
        target = _name(uri, report)
        if target in datasets:
            matched.update({artifact.id, target})
            report.links["naming:artifact-uri"] += 1
            yield from same_as(artifact.id, target, "naming:artifact-uri", {"SourceUri": uri, "artifact": artifact.id})

    # 2. SageMaker entities by ARN
    for kind in SAGEMAKER_ARN_KINDS:
        for entity in nodes(kind):
            target = _name(entity.id, report)
            if target in datasets:
                matched.update({entity.id, target})
                report.links["naming:sagemaker-arn"] += 1
                yield from same_as(entity.id, target, "naming:sagemaker-arn", {"arn": entity.id})

    # 3. runs by their SageMaker job ARN
    jobs = {n.id.lower(): n.id for k in (NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB) for n in nodes(k)}
    for run in nodes(NodeKind.RUN):
        arn = run.props.get("sagemakerArn") or (facet(run, CrosslineSagemakerJobRunFacet.KEY) or {}).get("arn")
        if not arn:
            continue
        job = jobs.get(str(arn).lower())
        if job is None:
            report.unmatched["openlineage run with a SageMaker job ARN"].append(f"{run.id} ({arn})")
            continue
        matched.update({run.id, job})
        report.links["arn-facet"] += 1
        yield from same_as(run.id, job, "arn-facet", {"arn": arn, "run": run.id})

    # 4. packages from their model data
    registered = ((p, p.props.get("modelDataUrl") or p.props.get("ModelDataUrl")) for p in nodes(NodeKind.MODEL_PACKAGE))
    for package, url in chain(registered, packaged):
        if not url:
            continue
        artifact = _name(url, report)
        if artifact in datasets:
            report.links["model-data-url"] += 1
            yield Edge(artifact, package.id, EdgeKind.CONTRIBUTED_TO, SOURCE,
                       {"rule": "model-data-url", "evidence": {"ModelDataUrl": url, "package": package.id}})

    # 5. symlinks
    for dataset in nodes(NodeKind.DATASET):
        for other in dataset.props.get("aliases") or []:
            if other in datasets and other != dataset.id:
                report.links["symlinks"] += 1
                yield from same_as(dataset.id, NodeId(other), "symlinks", {"alias": other})

    for kind in (NodeKind.SM_ARTIFACT, NodeKind.MODEL_PACKAGE, NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB):
        for node in nodes(kind):
            if node.id in matched:
                continue
            if kind is NodeKind.SM_ARTIFACT and not str(node.props.get("SourceUri", "")).startswith(("s3", "arn:")):
                continue
            report.unmatched[f"sagemaker {kind.value}"].append(node.id)


def reconcile(store: GraphStore, *, batch: int = 20_000) -> ReconcileReport:
    """Stream each kind's nodes through ``Graph`` (never all at once) and write links to the store in batches."""
    graph = Graph(store)
    report = ReconcileReport()
    pending: dict[tuple[str, str, str, str], Edge] = {}
    for edge in rules(lambda kind: graph.nodes(kind=kind), report):
        pending.setdefault(edge.key, edge)
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

