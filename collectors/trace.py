"""The regulator's trace: the five answers for one inference (or one model package).

Contract: ``trace_inference(graph, inference_id, endpoint=None)`` and
``trace_package(graph, package_arn, as_of=None)`` (a ``Graph``, or a ``GraphStore`` read
through one) walk the collected graph and return a
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

Cost: one snapshot of the store and a fixed number of batched steps (``Graph.step``: a
frontier's edges with the nodes they reach, one statement each), whatever the graph's
size: the inference by name (the ``(kind, name)`` index), its variant, the serving
package, then at most five steps from the package outwards, each picked apart in
memory. Nine statements on SQLite, BEGIN included, eight on PostgreSQL; a test holds
it at ten or fewer on both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crossline.collectors.graph import Graph, Hop
from crossline.collectors.model import EdgeKind, Node, NodeId, NodeKind, dataset_id, inference_id
from crossline.collectors.openlineage import facet_prop
from crossline.emitters.facets import (
    CrosslineApprovalRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineHyperparametersRunFacet,
    CrosslineMetricsRunFacet,
    CrosslineSagemakerJobRunFacet,
)
from crossline.emitters.producer import schema_id, shipped
from crossline.errors import InvalidEvent, NodeNotFound
from crossline.times import UTC, coerce, iso

if TYPE_CHECKING:
    from crossline.collectors.store import GraphStore

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


class _Steps:
    """The hops of one step, picked in memory by where they start, their kind and their way."""

    def __init__(self, hops: list[Hop]) -> None:
        self.hops = hops

    def into(self, node: str, kind: EdgeKind) -> list[Hop]:
        return _once(h for h in self.hops if h.start == node and h.edge.dst == node and h.edge.kind is kind)

    def out_of(self, node: str, kind: EdgeKind) -> list[Hop]:
        return _once(h for h in self.hops if h.start == node and h.edge.src == node and h.edge.kind is kind)

    def same_as(self, node: str) -> list[Hop]:
        """SameAs either way, one hop per node reached, in id order."""
        found: dict[NodeId, Hop] = {}
        for hop in self.hops:
            if hop.start == node and hop.edge.kind is EdgeKind.SAME_AS:
                found.setdefault(hop.end, hop)
        return [found[k] for k in sorted(found)]


def _once(hops: Any) -> list[Hop]:
    seen: dict[tuple[str, ...], Hop] = {}
    for hop in hops:
        seen.setdefault(hop.edge.key, hop)
    return list(seen.values())


def _props(hop: Hop | None) -> dict[str, Any]:
    return hop.node.props if hop is not None and hop.node is not None else {}


def trace_inference(graph: Graph | GraphStore, inference: str, endpoint: str | None = None) -> Trace:
    g = Graph.of(graph)
    with g.snapshot():
        node = _find_inference(g, inference, endpoint)
        at = coerce(node.props.get("inferenceTime"))
        subject = Answer(
            value={k: node.props.get(k) for k in ("inferenceId", "endpoint", "variant", "inferenceTime")},
            evidence=[Evidence("data-capture", str(node.props.get("captureFile")), node.props.get("inferenceTime"),
                               f"line {node.props.get('line')}, eventId {node.props.get('eventId')}")],
        )
        served = g.step([node.id], "in", {EdgeKind.SERVED}, as_of=at)
        if not served:
            return _partial(subject, at, "no endpoint variant is recorded as serving this inference")
        variant = served[0].end
        serving = [h for h in g.step([variant], "in", {EdgeKind.SERVES}, as_of=at)
                   if h.node is not None and h.node.kind is NodeKind.MODEL_PACKAGE]
        if not serving:
            return _partial(subject, at, f"no model package served {variant} at {at}")
        hop = serving[0]
        assert hop.node is not None
        trace = _trace_package(g, hop.node, subject, at)
    edge = hop.edge
    trace.model_version.evidence.insert(
        0,
        Evidence("sagemaker", str(edge.props.get("deploymentAction", edge.src)), iso(edge.valid_from),
                 f"deployed to {variant.rsplit('/', 1)[-1]} via endpoint config {edge.props.get('endpointConfigName')}; "
                 f"served until {iso(edge.valid_to) or 'now'}"),
    )
    return trace


def trace_package(graph: Graph | GraphStore, package_arn: str, as_of: datetime | None = None) -> Trace:
    g = Graph.of(graph)
    with g.snapshot():
        package = g.node(package_arn)  # NodeNotFound if unknown
        subject = Answer(value={"modelPackageArn": package_arn}, evidence=[Evidence("sagemaker", package_arn)])
        return _trace_package(g, package, subject, as_of)


def _partial(subject: Answer, at: datetime | None, gap: str) -> Trace:
    missing = Answer(gap=gap)
    return Trace(subject, iso(at), missing, Answer(gap=gap), Answer(gap=gap), Answer(gap=gap), Answer(gap=gap))


def _trace_package(g: Graph, package: Node, subject: Answer, as_of: datetime | None) -> Trace:
    p = package.props
    model_version = Answer(
        value={"modelPackageArn": package.id, "group": p.get("group"), "version": p.get("version"),
               "modelDataUrl": p.get("modelDataUrl")},
        evidence=[Evidence("sagemaker", package.id, p.get("creationTime"), "DescribeModelPackage")],
    )
    artifact = _artifact_dataset(p.get("modelDataUrl"))
    # Step 1: the package's approvals and SameAs records; the model artifact's versions and producers.
    first = _Steps(g.step([package.id, *([artifact] if artifact else [])], "both",
                          {EdgeKind.APPROVED, EdgeKind.SAME_AS, EdgeKind.VERSION_OF, EdgeKind.PRODUCED}))
    datasets = [h.end for h in first.same_as(package.id) if h.end.startswith("dataset:")]
    versions = [h.end for h in first.into(artifact, EdgeKind.VERSION_OF)] if artifact else []
    # Step 2: the approvals OpenLineage recorded on the package's datasets; the versions' producers.
    second = _Steps(g.step([*datasets, *versions], "in", {EdgeKind.APPROVED, EdgeKind.PRODUCED})) if datasets or versions else _Steps([])
    approval = _approval(package, first, second, datasets, as_of)
    # Candidates as the artifact's lineage orders them: the dataset itself, then its versions.
    candidates = ([(artifact, first)] if artifact else []) + [(v, second) for v in versions]
    run = next(((h, a) for a, steps in candidates for h in steps.into(a, EdgeKind.PRODUCED)
                if _props(h).get("sagemakerJobKind") == "training"), None)
    training, training_dataset, features = Answer(), Answer(), Answer()
    if run is None:
        gap = f"no OpenLineage run produced the model artifact {p.get('modelDataUrl')}"
        training.gap = training_dataset.gap = features.gap = gap
    else:
        hop, made = run
        # Step 3: the run's SageMaker job, inputs and code; who consumed the model artifact.
        third = _Steps(g.step([hop.end, made], "both", {EdgeKind.SAME_AS, EdgeKind.CONSUMED, EdgeKind.CODE}))
        training = _training(hop, made, third)
        training_dataset, producer = _training_dataset(g, hop.end, third)
        features = _features(g, producer) if producer else Answer(gap="no run is recorded as producing the training dataset")
    return Trace(subject, iso(as_of), model_version, training_dataset, features, training, approval)


def _artifact_dataset(url: Any) -> NodeId | None:
    if not url:
        return None
    try:
        return dataset_id(str(url))
    except InvalidEvent:  # a ModelDataUrl the naming function cannot name joins nothing
        return None


_NEVER = datetime.min.replace(tzinfo=UTC)


def _approval(package: Node, first: _Steps, second: _Steps, datasets: list[NodeId], as_of: datetime | None) -> Answer:
    decisions = []
    for hop in first.into(package.id, EdgeKind.APPROVED):
        if hop.node is None:
            continue
        decided = coerce(hop.node.props.get("time") or hop.node.props.get("decisionTime") or hop.edge.valid_from)
        if as_of is None or (decided and decided <= as_of):
            decisions.append((decided, hop.node))
    approved = [d for d in decisions if d[1].props.get("status") == "Approved"]
    if not approved:
        return Answer(gap=f"no approval of {package.id} is recorded before {iso(as_of) or 'now'}")
    decided, node = max(approved, key=lambda d: d[0] or _NEVER)
    props = node.props
    evidence = [Evidence(_source(node), str(props.get("action") or node.id), iso(decided), "Approval action / DescribeModelPackage")]
    for dataset in datasets:
        for hop in second.into(dataset, EdgeKind.APPROVED):
            run = _props(hop).get("run")
            if run:
                evidence.append(Evidence("openlineage", str(run), iso(hop.edge.valid_from), f"{APPROVAL} facet"))
    return Answer(
        value={"status": "Approved", "approver": props.get("approver"), "approverArn": props.get("approverArn") or props.get("approverIamArn"),
               "approvedAt": iso(decided), "description": props.get("description")},
        evidence=evidence,
    )


def _training(run_hop: Hop, artifact: NodeId, steps: _Steps) -> Answer:
    run_id, run = run_hop.end, _props(run_hop)
    job = run.get(facet_prop(SAGEMAKER_JOB)) or {}
    hyper = (run.get(facet_prop(HYPERPARAMETERS)) or {}).get("hyperparameters") or {}
    metrics = [m for m in (run.get(facet_prop(METRICS)) or {}).get("metrics", [])]
    evidence = [Evidence("openlineage", run_id, run.get("endedAt"), "COMPLETE event of the training task")]
    ended = None
    for hop in steps.same_as(run_id):
        if hop.end.startswith("arn:") and ":training-job/" in hop.end and hop.node is not None:
            ended = hop.node.props.get("endTime")
            evidence.append(Evidence("sagemaker", hop.end, ended, "DescribeTrainingJob"))
    for hop in steps.out_of(artifact, EdgeKind.CONSUMED):
        consumer = _props(hop)
        found = [m for m in (consumer.get(facet_prop(METRICS)) or {}).get("metrics", []) if m.get("kind") == "evaluation"]
        if found:
            metrics += found
            evidence.append(Evidence("openlineage", hop.end, consumer.get("endedAt"), f"evaluation run's {METRICS}"))
    code = [_props(h) | {"id": h.end} for h in steps.into(run_id, EdgeKind.CODE)]
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


def _training_dataset(g: Graph, run_id: NodeId, steps: _Steps) -> tuple[Answer, Hop | None]:
    inputs = steps.into(run_id, EdgeKind.CONSUMED)
    versions = [h for h in inputs if h.node is not None and h.node.kind is NodeKind.DATASET_VERSION] or inputs
    if not versions:
        return Answer(gap="the training run consumed no recorded dataset"), None
    version = versions[0].end
    # Step 4: the run that produced the training dataset version.
    producers = g.step([version], "in", {EdgeKind.PRODUCED})
    producer = producers[0] if producers else None
    dataset, _, content = version.partition("#")
    answer = Answer(
        value={"dataset": dataset.removeprefix("dataset:"), "version": content or None},
        evidence=[Evidence("openlineage", run_id, None, "training run's input")]
        + ([Evidence("openlineage", producer.end, _props(producer).get("endedAt"), "run that produced it")] if producer else []),
    )
    if not content:
        answer.gap = "the training dataset has no content version"
    return answer, producer


def _features(g: Graph, producer: Hop) -> Answer:
    snapshots, others = [], []
    # Step 5: what the producing run read: feature snapshots, the exclusion list.
    for hop in g.step([producer.end], "in", {EdgeKind.CONSUMED}):
        node = hop.node
        if node is None or node.kind is not NodeKind.DATASET_VERSION:
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
        evidence=[Evidence("openlineage", producer.end, _props(producer).get("endedAt"), "inputs of the run that assembled the training set")],
    )
    if not snapshots:
        answer.gap = "no feature-store snapshot is recorded among the training set's inputs"
    return answer


def _find_inference(g: Graph, inference: str, endpoint: str | None) -> Node:
    """The inference by its id (its node's name, one indexed statement), on ``endpoint`` if given."""
    matches = g.find(inference, kinds=[NodeKind.INFERENCE])
    if endpoint:
        wanted = inference_id(endpoint, inference)
        matches = [n for n in matches if n.id == wanted or n.props.get("endpoint") == endpoint]
    if not matches:
        if endpoint:
            where = f"endpoint {endpoint}"
        else:
            endpoints = sorted(g.prop_values(NodeKind.INFERENCE, "endpoint"))
            where = f"the data capture of {len(endpoints)} endpoint(s): {', '.join(endpoints) or 'none collected'}"
        raise NodeNotFound(f"inference {inference!r} is in no collected data capture (searched {where})")
    if len(matches) > 1:
        raise NodeNotFound(f"inference {inference!r} is ambiguous: {', '.join(n.id for n in matches)}; name the endpoint")
    return matches[0]


def _source(node: Node) -> str:
    return "sagemaker" if "sagemaker" in node.source else node.source
