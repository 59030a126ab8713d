"""The regulator's trace: the five answers for one inference (or one model package).

Contract: ``trace_inference(graph, inference_id, endpoint=None)`` and
``trace_package(graph, package_arn, as_of=None)`` (a ``Graph``, or a ``GraphStore`` read
through one) walk the collected graph and return a
``Trace``: which model version served the inference, which dataset trained it, which
feature-store versions and exclusion list were in that dataset, the hyperparameters and
metrics, and who approved the model and when. Every answer carries its evidence (run
ids, ARNs, event and record times, S3 URIs) and the time it is correct as of: the
inference's time, so a later swap or approval never changes the answer. A link the
graph lacks is recorded as a gap, never invented. A model that was not approved at that
time (never, not yet, or no longer: the decision in force is not Approved), or whose
decision the two systems record differently, is a *finding* (``Trace.findings``), and
the approval answer lists the decision history up to that time. An inference no data
capture holds is ``NodeNotFound`` naming the data-capture prefixes and the time window
that were searched, and how to widen the search (``capture.not_found``).

The package is SageMaker's when its side was collected; with only OpenLineage and data
capture it is the OpenLineage dataset named from the package's ARN (its
``crossline_modelPackage`` facet, approvals from ``crossline_approval`` facets, serving
from ``crossline_deployment`` facets). Approvals are a timeline of decisions
(``collectors.timeline``): one decision seen by both systems is one, joined with its
rule and evidence.

It reads, in order: the inference (data capture) -> the variant that served it -> the
model package serving that variant at that time (the deployment history of either side)
-> the package's approval decisions (the registry's and OpenLineage's) -> the run that produced the
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

from crossline.collectors import capture, timeline
from crossline.collectors.packages import is_package, package_facts
from crossline.collectors import trace_lineage as lineage
from crossline.collectors.graph import Graph, Hop
from crossline.collectors.model import EdgeKind, Node, NodeId, NodeKind, dataset_id, inference_id
from crossline.collectors.openlineage import MODEL_PACKAGE_FACET, facet_prop
from crossline.emitters.facets import (
    CrosslineApprovalRunFacet,
    CrosslineDeploymentRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineHyperparametersRunFacet,
    CrosslineMetricsRunFacet,
    CrosslineSagemakerJobRunFacet,
)
from crossline.emitters.producer import schema_id, shipped
from crossline.errors import InvalidEvent, NodeNotFound
from crossline.times import coerce, iso

if TYPE_CHECKING:
    from crossline.collectors.store import GraphStore

APPROVAL = CrosslineApprovalRunFacet.KEY
HYPERPARAMETERS = CrosslineHyperparametersRunFacet.KEY
METRICS = CrosslineMetricsRunFacet.KEY
SAGEMAKER_JOB = CrosslineSagemakerJobRunFacet.KEY
SNAPSHOT = CrosslineFeatureSnapshotDatasetFacet.KEY

SCHEMA = schema_id("collectors/schemas", "1-1-0", "Trace")
"""The JSON form's schema: ``collectors/schemas/1-1-0/Trace.json`` in the repository and the wheel
(1-1-0 adds ``findings`` and the evidence sources mlflow, manual, glue-catalog and
feature-store; 1-0-0 stays as it was published)."""


def trace_schema() -> dict[str, Any]:
    import json

    return json.loads(shipped(SCHEMA).read_text(encoding="utf-8"))


@dataclass
class Evidence:
    source: str  # openlineage | sagemaker | data-capture | reconcile | another source's name
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
    findings: list[str] = field(default_factory=list)  # not approved at the time; the systems disagree
    schema: str = SCHEMA

    @property
    def gaps(self) -> list[str]:
        parts = (self.subject, self.model_version, self.training_dataset, self.features, self.training, self.approval)
        return [p.gap for p in parts if p.gap]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gaps"] = self.gaps
        return data


FIRST_STEP = frozenset({EdgeKind.APPROVED, EdgeKind.SAME_AS, EdgeKind.VERSION_OF, EdgeKind.PRODUCED,
                        EdgeKind.SM_PRODUCED, EdgeKind.CONTRIBUTED_TO, EdgeKind.RECORDS})
SECOND_STEP = frozenset({EdgeKind.APPROVED, EdgeKind.PRODUCED, EdgeKind.SAME_AS, EdgeKind.CONTRIBUTED_TO})


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
        # SageMaker's package first (the registry's record), else OpenLineage's package dataset.
        serving = sorted((h for h in g.step([variant], "in", {EdgeKind.SERVES}, as_of=at) if is_package(h.node)),
                         key=lambda h: (h.node is None or h.node.kind is not NodeKind.MODEL_PACKAGE, h.edge.key))
        if not serving:
            return _partial(subject, at, f"no model package served {variant} at {iso(at)}")
        hop = serving[0]
        assert hop.node is not None
        trace = _trace_package(g, hop.node, subject, at)
    trace.model_version.evidence[:0] = _deployment_evidence(hop, variant)
    return trace


def _deployment_evidence(hop: Hop, variant: str) -> list[Evidence]:
    edge, derived = hop.edge, hop.edge.derived
    replaced = derived.get("replacedBy") or {}
    system = timeline.system_of(edge)
    ref = edge.props.get("deploymentAction") or edge.props.get("run") or edge.src
    how = (f"via endpoint config {edge.props.get('endpointConfigName')}" if system == "sagemaker"
           else f"{CrosslineDeploymentRunFacet.KEY} facet")
    evidence = [Evidence(system, str(ref), iso(edge.valid_from),
                         f"deployed to {variant.rsplit('/', 1)[-1]} {how}; served until "
                         f"{iso(edge.valid_to) or 'now'}" + (f" (replaced by {', '.join(replaced['refs'])})" if replaced else ""))]
    for same in derived.get("sameDeployment") or []:
        other = same["edge"]
        evidence.append(Evidence(same["system"], str(same.get("ref") or other[0]), other[3] or None,
                                 f"the same deployment as {same['system']} recorded it: rule {same['rule']}, "
                                 f"{same['deltaSeconds']:g} s apart (tolerance {same['toleranceSeconds']:g} s)"))
    return evidence


def trace_package(graph: Graph | GraphStore, package_arn: str, as_of: datetime | None = None) -> Trace:
    g = Graph.of(graph)
    with g.snapshot():
        package = g.node(package_arn)  # NodeNotFound if unknown
        subject = Answer(value={"modelPackageArn": package_facts(package)["modelPackageArn"] or package_arn},
                         evidence=[Evidence(timeline.system_of(package), package_arn)])
        return _trace_package(g, package, subject, as_of)


def _partial(subject: Answer, at: datetime | None, gap: str) -> Trace:
    missing = Answer(gap=gap)
    return Trace(subject, iso(at), missing, Answer(gap=gap), Answer(gap=gap), Answer(gap=gap), Answer(gap=gap))


def _trace_package(g: Graph, package: Node, subject: Answer, as_of: datetime | None) -> Trace:
    facts = package_facts(package)
    artifact = _artifact_dataset(facts["modelDataUrl"])
    # Step 1: the package's approvals and SameAs records, the execution that produced it,
    # the runs that contributed to it, manual records of it; the model artifact's versions
    # and producers.
    first = _Steps(g.step([package.id, *([artifact] if artifact else [])], "both", FIRST_STEP))
    others = [h for h in first.same_as(package.id) if h.node is not None]
    # The registry's record when SageMaker's side was collected, whichever side served.
    registry = package if package.kind is NodeKind.MODEL_PACKAGE else next(
        (h.node for h in others if h.node is not None and h.node.kind is NodeKind.MODEL_PACKAGE), package)
    if registry is not package:
        facts = {k: v if v is not None else facts[k] for k, v in package_facts(registry).items()}
    model_version = Answer(value=facts, evidence=[_package_evidence(registry)])
    versions = [h.end for h in first.into(artifact, EdgeKind.VERSION_OF)] if artifact else []
    context = lineage.Context.of(package, first)
    # Step 2: the approvals the other side recorded on its record of the package; the
    # versions' producers; the manual records that corroborate a decision; what the
    # package's SageMaker artifact was made from; the Airflow run that started the
    # package's pipeline execution.
    starts = list(dict.fromkeys([*(h.end for h in others), *versions, *context.decisions,
                                 *context.package_artifacts, *context.execution_ids]))
    second = _Steps(g.step(starts, "in", SECOND_STEP)) if starts else _Steps([])
    context.read_second(second)
    approvals = [h.node for n in [package.id, *(h.end for h in others)]
                 for h in (first if n == package.id else second).into(n, EdgeKind.APPROVED) if h.node is not None]
    approval, findings = _approval(facts, approvals, as_of, second)
    # Candidates as the artifact's lineage orders them: the dataset itself, then its versions.
    candidates = ([(artifact, first)] if artifact else []) + [(v, second) for v in versions]
    run = next(((h, a) for a, steps in candidates for h in steps.into(a, EdgeKind.PRODUCED)
                if _props(h).get("sagemakerJobKind") == "training"), None)
    if run is None:
        # No OpenLineage run made the model: SageMaker's own lineage (a pipeline's jobs,
        # their trial components and artifacts), MLflow, Feature Store and manual facts.
        training, training_dataset, features = lineage.from_sagemaker(g, context, second)
        if training.gap and training_dataset.gap and not training.value:
            gap = f"no OpenLineage run produced the model artifact {facts['modelDataUrl']}, and {training.gap}"
            training.gap = training_dataset.gap = features.gap = gap
        return Trace(subject, iso(as_of), model_version, training_dataset, features, training, approval, findings)
    hop, made = run
    # Step 3: the run's SageMaker job, inputs and code; who consumed the model artifact.
    third = _Steps(g.step([hop.end, made], "both", {EdgeKind.SAME_AS, EdgeKind.CONSUMED, EdgeKind.CODE}))
    training = _training(hop, made, third)
    training_dataset, producer = _training_dataset(g, hop.end, third)
    features = _features(g, producer) if producer else Answer(gap="no run is recorded as producing the training dataset")
    return Trace(subject, iso(as_of), model_version, training_dataset, features, training, approval, findings)


def _package_evidence(node: Node) -> Evidence:
    if node.kind is NodeKind.MODEL_PACKAGE:
        return Evidence("sagemaker", str(node.id), node.props.get("creationTime"), "DescribeModelPackage")
    return Evidence(timeline.system_of(node), str(node.id), None, f"{MODEL_PACKAGE_FACET} facet of the package's dataset")


def _artifact_dataset(url: Any) -> NodeId | None:
    if not url:
        return None
    try:
        return dataset_id(str(url))
    except InvalidEvent:  # a ModelDataUrl the naming function cannot name joins nothing
        return None


def _approval(package: dict[str, Any], records: list[Node], as_of: datetime | None,
              second: _Steps) -> tuple[Answer, list[str]]:
    """The decision in force at ``as_of``, the history up to it, and what is a finding about it."""
    facts = [f for f in (timeline.decision_fact(n) for n in records) if f is not None]
    arn = package.get("modelPackageArn")
    decisions = timeline.decisions(facts).get(str(arn), []) if arn else []
    made = timeline.history(decisions, as_of)
    current = made[-1] if made else None
    name = f"{package.get('group')}/{package.get('version')}"
    when = iso(as_of) if as_of is not None else "now"
    value: dict[str, Any] = {"status": current.status if current else None,
                             "approved": bool(current and current.status == "Approved"),
                             "inForceAt": iso(as_of), "history": [d.as_dict() for d in made],
                             "conflicts": [c for d in made for c in d.conflicts]}
    findings: list[str] = []
    if current is None:
        later = next((d for d in decisions if d.status == "Approved"), None)
        findings.append(f"model package {name} was NOT approved at {when}: " + (
            f"no decision on it was made before; it was first approved later, at {iso(later.at)} by {later.approver}"
            if later else "no approval decision on it is recorded (SageMaker's registry or OpenLineage)"))
        return Answer(value=value), findings
    evidence = [Evidence(f.system, f.ref, iso(f.at), "Approval action / DescribeModelPackage" if f.system == "sagemaker"
                         else f"{APPROVAL} facet") for f in current.facts]
    evidence += [Evidence("reconcile", str(j["record"]), None,
                          f"one decision with {j['with']}: rule {j['rule']}, {j['deltaSeconds']:g} s apart "
                          f"(tolerance {j['toleranceSeconds']:g} s)") for j in current.joined]
    sagemaker = next((f for f in current.facts if f.system == "sagemaker"), current.facts[0])
    value.update({"approver": current.approver, "approverArn": sagemaker.approver_ref, "decidedAt": iso(current.at),
                  "description": current.description, "systems": current.systems})
    if current.status == "Approved":
        value["approvedAt"] = iso(current.at)
    else:
        later = next((d for d in decisions if d.at > current.at and d.status == "Approved"), None)
        findings.append(f"model package {name} was NOT approved at {when}: {current.status} since "
                        f"{iso(current.at)} by {current.approver} ({' + '.join(current.systems)})"
                        + (f"; approved later, at {iso(later.at)} by {later.approver}" if later else ""))
    manual = [m for f in current.facts for m in lineage.manual_records(second, f.node)]
    if manual:  # a ticket or a committee's minutes that record the same decision
        record = manual[0]
        value.update({"decidedBy": record.get("decidedBy"), "ticket": record.get("ticket"), "manualRecords": manual})
        evidence += [Evidence("manual", str(m.get("readFrom") or m["id"]), m.get("recordedAt"),
                              f"{m.get('record')} recorded by {m.get('recordedBy')}; rule {m.get('rule')}") for m in manual]
    for conflict in current.conflicts:
        said = "; ".join(f"{r['system']} says {r.get('approver') or r.get('status')}" for r in conflict["records"])
        findings.append(f"the systems disagree on the {conflict['kind']} of the decision in force ({iso(current.at)}): {said}")
    return Answer(value=value, evidence=evidence), findings


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
    ended = ended or run.get("endedAt")  # SageMaker's record when collected, else the COMPLETE event's time
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
    found = g.find(inference, kinds=[NodeKind.INFERENCE])
    matches = found
    if endpoint:
        wanted = inference_id(endpoint, inference)
        matches = [n for n in found if n.id == wanted or n.props.get("endpoint") == endpoint]
    if not matches:
        raise capture.not_found(g, inference, endpoint, elsewhere=[str(n.props.get("endpoint")) for n in found])
    if len(matches) > 1:
        raise NodeNotFound(f"inference {inference!r} is ambiguous: {', '.join(n.id for n in matches)}; name the endpoint")
    return matches[0]

