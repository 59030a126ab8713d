"""The regulator's trace: the five answers for one inference (or one model package).

Contract: ``trace_inference(store, inference_id, endpoint=None)`` and
``trace_package(store, package_arn, as_of=None)`` walk the collected graph and return a
``Trace``: which model version served the inference, which dataset trained it, which
feature-store versions and exclusion list were in that dataset, the hyperparameters and
metrics, and who approved the model and when. Every answer carries its evidence (run
ids, ARNs, event and record times, S3 URIs) and the time it is correct as of: the
inference's time, so a later swap or approval never changes the answer. A link the
graph lacks is recorded as a gap, never invented. An inference no data capture holds
is ``NodeNotFound`` naming what was searched.

It reads, in order: the inference (data capture) -> the variant that served it -> the
model package serving that variant at that time (SageMaker's deployment history) -> the
package's approval decisions up to that time (the registry) -> the run that produced the
package's model artifact (OpenLineage, joined by the artifact's content version) and
its SageMaker training job (SameAs by ARN) -> the training dataset version it consumed
-> the run that produced that version and the feature snapshots and exclusion list it
consumed -> the code commit -> evaluation metrics of the runs that consumed the same
model artifact version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from crossline.collectors.graph import Graph
from crossline.collectors.model import EdgeKind, Node, NodeId, NodeKind, dataset_id
from crossline.collectors.openlineage import facet_prop
from crossline.emitters.facets import (
    CrosslineApprovalRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineHyperparametersRunFacet,
    CrosslineMetricsRunFacet,
    CrosslineSagemakerJobRunFacet,
)
from crossline.emitters.producer import schema_id, shipped
from crossline.errors import NodeNotFound
from crossline.times import coerce, iso

APPROVAL = CrosslineApprovalRunFacet.KEY
HYPERPARAMETERS = CrosslineHyperparametersRunFacet.KEY
METRICS = CrosslineMetricsRunFacet.KEY
SAGEMAKER_JOB = CrosslineSagemakerJobRunFacet.KEY
SNAPSHOT = CrosslineFeatureSnapshotDatasetFacet.KEY

SCHEMA = schema_id("collectors/schemas", "1-0-0", "Trace")
"""The JSON form's schema: ``collectors/schemas/1-0-0/Trace.json`` in the repository and the wheel."""


def trace_schema() -> dict[str, Any]:
    import json

    return json.loads(shipped(SCHEMA).read_text(encoding="utf-8"))


@dataclass
class Evidence:
    source: str  # openlineage | sagemaker | data-capture | reconcile
    ref: str  # a run id, an ARN, an S3 URI
    time: str | None = None
    note: str | None = None


@dataclass
class Answer:
    value: dict[str, Any] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    gap: str | None = None


@dataclass
class Trace:
    subject: Answer  # the inference (or the package asked about)
    as_of: str | None
    model_version: Answer
    training_dataset: Answer
    features: Answer  # feature snapshots and the exclusion list
    training: Answer  # job, hyperparameters, metrics, code
    approval: Answer
    schema: str = SCHEMA

    @property
    def gaps(self) -> list[str]:
        parts = (self.subject, self.model_version, self.training_dataset, self.features, self.training, self.approval)
        return [p.gap for p in parts if p.gap]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gaps"] = self.gaps
        return data


class _Walker:
    def __init__(self, store: Any, as_of: datetime | None) -> None:
        self.store = store
        self.graph = Graph(store)
        self.as_of = as_of

    def node(self, node_id: NodeId) -> Node:
        return self.store.node(node_id)

    def sources_into(self, node_id: NodeId, *kinds: EdgeKind) -> list[Any]:
        return list(self.graph.edges_of(node_id, direction="in", edge_kinds=set(kinds), as_of=self.as_of))

    def targets_of(self, node_id: NodeId, *kinds: EdgeKind) -> list[Any]:
        return list(self.graph.edges_of(node_id, direction="out", edge_kinds=set(kinds), as_of=self.as_of))

    def same_as(self, node_id: NodeId) -> set[NodeId]:
        edges = self.graph.edges_of(node_id, direction="both", edge_kinds={EdgeKind.SAME_AS})
        return {e.src if e.dst == node_id else e.dst for e in edges}


def trace_inference(store: Any, inference: str, endpoint: str | None = None) -> Trace:
    node = _find_inference(store, inference, endpoint)
    at = coerce(node.props.get("inferenceTime"))
    walker = _Walker(store, at)
    subject = Answer(
        value={k: node.props.get(k) for k in ("inferenceId", "endpoint", "variant", "inferenceTime")},
        evidence=[Evidence("data-capture", str(node.props.get("captureFile")), node.props.get("inferenceTime"),
                           f"line {node.props.get('line')}, eventId {node.props.get('eventId')}")],
    )
    served = walker.sources_into(node.id, EdgeKind.SERVED)
    if not served:
        return _partial(subject, at, "no endpoint variant is recorded as serving this inference")
    variant = served[0].src
    serving = [e for e in walker.sources_into(variant, EdgeKind.SERVES) if walker.node(e.src).kind is NodeKind.MODEL_PACKAGE]
    if not serving:
        return _partial(subject, at, f"no model package served {variant} at {at}")
    edge = serving[0]
    trace = _trace_package(walker, edge.src, subject)
    trace.model_version.evidence.insert(
        0,
        Evidence("sagemaker", str(edge.props.get("deploymentAction", edge.src)), iso(edge.valid_from),
                 f"deployed to {variant.rsplit('/', 1)[-1]} via endpoint config {edge.props.get('endpointConfigName')}; "
                 f"served until {iso(edge.valid_to) or 'now'}"),
    )
    return trace


def trace_package(store: Any, package_arn: str, as_of: datetime | None = None) -> Trace:
    walker = _Walker(store, as_of)
    package = NodeId(package_arn)
    walker.node(package)  # NodeNotFound if unknown
    subject = Answer(value={"modelPackageArn": package_arn}, evidence=[Evidence("sagemaker", package_arn)])
    return _trace_package(walker, package, subject)


def _partial(subject: Answer, at: datetime | None, gap: str) -> Trace:
    missing = Answer(gap=gap)
    return Trace(subject, iso(at), missing, Answer(gap=gap), Answer(gap=gap), Answer(gap=gap), Answer(gap=gap))


def _trace_package(walker: _Walker, package_id: NodeId, subject: Answer) -> Trace:
    package = walker.node(package_id)
    p = package.props
    model_version = Answer(
        value={"modelPackageArn": package_id, "group": p.get("group"), "version": p.get("version"),
               "modelDataUrl": p.get("modelDataUrl")},
        evidence=[Evidence("sagemaker", package_id, p.get("creationTime"), "DescribeModelPackage")],
    )
    approval = _approval(walker, package)
    run, artifact = _training_run(walker, package)
    training = Answer()
    training_dataset = Answer()
    features = Answer()
    if run is None:
        gap = f"no OpenLineage run produced the model artifact {p.get('modelDataUrl')}"
        training.gap = training_dataset.gap = features.gap = gap
    else:
        training = _training(walker, run, artifact)
        training_dataset, producer = _training_dataset(walker, run)
        features = _features(walker, producer) if producer else Answer(gap="no run is recorded as producing the training dataset")
    return Trace(subject, iso(walker.as_of), model_version, training_dataset, features, training, approval)


def _approval(walker: _Walker, package: Node) -> Answer:
    decisions = []
    for edge in walker.graph.edges_of(package.id, direction="in", edge_kinds={EdgeKind.APPROVED}):
        node = walker.node(edge.src)
        decided = coerce(node.props.get("time") or node.props.get("decisionTime") or edge.valid_from)
        if walker.as_of is None or (decided and decided <= walker.as_of):
            decisions.append((decided, node, edge))
    approved = [d for d in decisions if d[1].props.get("status") == "Approved"]
    if not approved:
        return Answer(gap=f"no approval of {package.id} is recorded before {iso(walker.as_of) or 'now'}")
    decided, node, _ = max(approved, key=lambda d: d[0])
    props = node.props
    evidence = [Evidence(_source(node), str(props.get("action") or node.id), iso(decided), "Approval action / DescribeModelPackage")]
    ol = [n for n in walker.same_as(package.id) if n.startswith("dataset:")]
    for dataset in ol:
        for edge in walker.graph.edges_of(NodeId(dataset), direction="in", edge_kinds={EdgeKind.APPROVED}):
            run = walker.node(edge.src).props.get("run")
            if run:
                evidence.append(Evidence("openlineage", str(run), iso(edge.valid_from), f"{APPROVAL} facet"))
    return Answer(
        value={"status": "Approved", "approver": props.get("approver"), "approverArn": props.get("approverArn") or props.get("approverIamArn"),
               "approvedAt": iso(decided), "description": props.get("description")},
        evidence=evidence,
    )


def _training_run(walker: _Walker, package: Node) -> tuple[NodeId | None, NodeId | None]:
    url = package.props.get("modelDataUrl")
    if not url:
        return None, None
    dataset = dataset_id(url)
    candidates = [dataset] + [e.dst for e in walker.graph.edges_of(dataset, direction="in", edge_kinds={EdgeKind.VERSION_OF})]
    candidates += [e.src for e in walker.graph.edges_of(dataset, direction="in", edge_kinds={EdgeKind.VERSION_OF})]
    for artifact in candidates:
        for edge in walker.graph.edges_of(artifact, direction="in", edge_kinds={EdgeKind.PRODUCED}):
            if walker.node(edge.src).props.get("sagemakerJobKind") == "training":
                return edge.src, artifact
    return None, None


def _training(walker: _Walker, run_id: NodeId, artifact: NodeId | None) -> Answer:
    run = walker.node(run_id).props
    job = run.get(facet_prop(SAGEMAKER_JOB)) or {}
    hyper = (run.get(facet_prop(HYPERPARAMETERS)) or {}).get("hyperparameters") or {}
    metrics = [m for m in (run.get(facet_prop(METRICS)) or {}).get("metrics", [])]
    evidence = [Evidence("openlineage", run_id, run.get("endedAt"), "COMPLETE event of the training task")]
    ended = None
    for other in walker.same_as(run_id):
        if other.startswith("arn:") and ":training-job/" in other:
            tj = walker.node(NodeId(other)).props
            ended = tj.get("endTime")
            evidence.append(Evidence("sagemaker", other, ended, "DescribeTrainingJob"))
    if artifact:
        for edge in walker.graph.edges_of(artifact, direction="out", edge_kinds={EdgeKind.CONSUMED}):
            consumer = walker.node(edge.dst).props
            found = [m for m in (consumer.get(facet_prop(METRICS)) or {}).get("metrics", []) if m.get("kind") == "evaluation"]
            if found:
                metrics += found
                evidence.append(Evidence("openlineage", edge.dst, consumer.get("endedAt"), f"evaluation run's {METRICS}"))
    code = [walker.node(e.src).props | {"id": e.src} for e in walker.graph.edges_of(run_id, direction="in", edge_kinds={EdgeKind.CODE})]
    answer = Answer(
        value={
            "trainingJobName": job.get("name"), "trainingJobArn": job.get("arn"), "endedAt": ended,
            "image": job.get("image"), "hyperparameters": hyper,
            "metrics": [{"name": m["name"], "value": m["value"], "kind": m["kind"], "source": m.get("source")} for m in metrics],
            "code": [{"repo": c.get("repoUrl") or c.get("repo") or c["id"].split("@")[0].removeprefix("commit:"),
                      "commit": c.get("version") or c.get("commit") or c["id"].rsplit("@", 1)[-1]} for c in code],
        },
        evidence=evidence,
    )
    if not code:
        answer.gap = "no code commit is recorded for the training run"
    return answer


def _training_dataset(walker: _Walker, run_id: NodeId) -> tuple[Answer, NodeId | None]:
    inputs = [e.src for e in walker.graph.edges_of(run_id, direction="in", edge_kinds={EdgeKind.CONSUMED})]
    versions = [i for i in inputs if walker.node(i).kind is NodeKind.DATASET_VERSION] or inputs
    if not versions:
        return Answer(gap="the training run consumed no recorded dataset"), None
    version = versions[0]
    node = walker.node(version)
    producers = walker.graph.edges_of(version, direction="in", edge_kinds={EdgeKind.PRODUCED})
    producer = producers[0].src if producers else None
    dataset, _, content = version.partition("#")
    answer = Answer(
        value={"dataset": dataset.removeprefix("dataset:"), "version": content or None},
        evidence=[Evidence("openlineage", run_id, None, "training run's input")]
        + ([Evidence("openlineage", producer, walker.node(producer).props.get("endedAt"), "run that produced it")] if producer else []),
    )
    if not content:
        answer.gap = "the training dataset has no content version"
    return answer, producer


def _features(walker: _Walker, producer: NodeId) -> Answer:
    snapshots, others = [], []
    for edge in walker.graph.edges_of(producer, direction="in", edge_kinds={EdgeKind.CONSUMED}):
        node = walker.node(edge.src)
        if node.kind is not NodeKind.DATASET_VERSION:
            continue
        dataset, _, content = node.id.partition("#")
        snapshot = node.props.get(facet_prop(SNAPSHOT))
        if snapshot:
            snapshots.append({"featureGroup": snapshot.get("featureGroupName"), "version": snapshot.get("version"),
                              "dataset": dataset.removeprefix("dataset:"), "contentVersion": content})
        else:
            others.append({"dataset": dataset.removeprefix("dataset:"), "contentVersion": content})
    answer = Answer(
        value={"featureSnapshots": sorted(snapshots, key=lambda s: str(s["featureGroup"])), "otherInputs": others},
        evidence=[Evidence("openlineage", producer, walker.node(producer).props.get("endedAt"), "inputs of the run that assembled the training set")],
    )
    if not snapshots:
        answer.gap = "no feature-store snapshot is recorded among the training set's inputs"
    return answer


def _find_inference(store: Any, inference: str, endpoint: str | None) -> Node:
    from crossline.collectors.model import inference_id

    if endpoint:
        node_id = inference_id(endpoint, inference)
        if store.has_node(node_id):
            return store.node(node_id)
    matches = [n for n in store.nodes(kind=NodeKind.INFERENCE) if n.props.get("inferenceId") == inference]
    if endpoint:
        matches = [n for n in matches if n.props.get("endpoint") == endpoint]
    if not matches:
        endpoints = sorted({str(n.props.get("endpoint")) for n in store.nodes(kind=NodeKind.INFERENCE)})
        where = f"endpoint {endpoint}" if endpoint else f"the data capture of {len(endpoints)} endpoint(s): {', '.join(endpoints) or 'none collected'}"
        raise NodeNotFound(f"inference {inference!r} is in no collected data capture (searched {where})")
    if len(matches) > 1:
        raise NodeNotFound(f"inference {inference!r} is ambiguous: {', '.join(n.id for n in matches)}; name the endpoint")
    return matches[0]


def _source(node: Node) -> str:
    return "sagemaker" if "sagemaker" in node.source else node.source
