"""What holds over time, derived from the whole set of facts: approval decisions and serving intervals.

Contract: pure functions over records read from the graph; nothing here writes.

- ``decision_fact(node)``: one system's record of one approval decision (an APPROVAL node
  as the SageMaker source or the OpenLineage converter writes it, or any record naming a
  package, a status and a time), else None.
- ``decisions(facts)``: per package ARN, its timeline of ``Decision``s, oldest first. The
  records of two systems that say the same thing (same package and status, times within
  ``APPROVAL_TOLERANCE``) are ONE decision, joined by the rule ``SAME_DECISION`` with the
  time difference as evidence; SageMaker's (the registry's) time is the decision's when
  it recorded it. Each decision is in force until the next one. Disagreements are
  ``conflicts``: a joined decision whose approvers differ, or two systems recording
  different statuses within the tolerance of each other.
- ``in_force(timeline, at)``, ``history(timeline, at)``: the decision in force at ``at``
  and the decisions made up to it.
- ``serving_fact(edge)`` and ``serving(facts, actions)``: per endpoint, its deployments:
  the SERVES facts of every system and SageMaker's ModelDeployment actions. The same
  deployment seen by two systems is one (nearest within ``DEPLOYMENT_TOLERANCE``; a fact
  with the same variant and server as the other system's is joined by the rule
  ``SAME_DEPLOYMENT``, one naming another server there is a conflict). Every SERVES fact
  holds until the endpoint's next deployment after it: an update replaces the whole
  config, so a variant left out of it stops serving, and a reused variant name (SageMaker's
  ``AllTraffic``) gets one interval per deployment.
- ``derive(graph)``: all of the above as ``(valid_to, derived)`` per node id and per edge
  key, for ``GraphStore.derive``; reconciliation runs it after its rules.

Order-free: each result is a function of the set of facts (ties go to ids), so any
arrival order and any duplication give the same timelines, and a late-arriving
intermediate fact shortens the interval before it, which a "latest wins" merge of stored
ends could never do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent
from crossline.times import coerce, iso

if TYPE_CHECKING:
    from crossline.collectors.graph import Graph

APPROVAL_TOLERANCE = timedelta(minutes=5)
"""Two systems' records of one decision: the registry's time and the approval emitter's
(the package's LastModifiedTime, read when EventBridge's event arrives) differ by moments."""
DEPLOYMENT_TOLERANCE = timedelta(minutes=15)
"""Two systems' records of one deployment: a ModelDeployment action is made when the update
starts; OpenLineage's deployedTime is the endpoint's LastModifiedTime, when it ends."""
SAME_DECISION = "approval:same-package-status-within-tolerance"
SAME_DEPLOYMENT = "deployment:same-variant-and-server-within-tolerance"
_RANK = {"sagemaker": 0, "openlineage": 1}

EdgeKey = tuple[str, str, str, str]
Update = tuple[datetime | None, dict[str, Any]]


OPENLINEAGE_SOURCES = frozenset({"openlineage", "openlineage-file", "marquez"})
"""The default names of the sources that read OpenLineage events (``records_from_event``)."""


def system_of(record: Node | Edge) -> str:
    """Which system said so: ``sagemaker``, ``openlineage`` (the converter's records, by any
    OpenLineage source), else the recording source's name."""
    sources = record.source.split(",")
    if "sagemaker" in sources:
        return "sagemaker"
    node_id = str(getattr(record, "id", ""))
    if node_id.endswith("#openlineage") or "run" in record.props or OPENLINEAGE_SOURCES & set(sources):
        return "openlineage"
    return sources[0]


def _rank(system: str) -> tuple[int, str]:
    return (_RANK.get(system, len(_RANK)), system)


def person(ref: str | None) -> str | None:
    """The person an identity names: an assumed role's session name or an IAM user's name, else the text."""
    if not ref:
        return None
    try:
        parts = parse_arn(ref)
    except InvalidEvent:
        return ref
    if parts.resource_type in ("assumed-role", "user", "federated-user"):
        return parts.resource_id.rsplit("/", 1)[-1]
    return ref


def _seconds(delta: timedelta) -> float:
    return round(abs(delta.total_seconds()), 6)


# -- approval decisions ---------------------------------------------------------------------
@dataclass(frozen=True)
class DecisionFact:
    """One system's record of one decision."""

    node: NodeId
    package: str
    status: str
    at: datetime
    approver: str | None  # the person
    approver_ref: str | None  # as recorded: an IAM ARN, a Studio profile
    description: str | None
    system: str
    ref: str  # the Approval action's ARN, the OpenLineage run, else the node

    def as_dict(self) -> dict[str, Any]:
        return {"record": self.node, "system": self.system, "ref": self.ref, "at": iso(self.at),
                "status": self.status, "approver": self.approver, "approverRef": self.approver_ref}


def decision_fact(node: Node) -> DecisionFact | None:
    p = node.props
    package = p.get("package") or p.get("modelPackageArn")
    status = p.get("status")
    at = coerce(p.get("time") or p.get("decisionTime")) or node.valid_from
    if not (isinstance(package, str) and isinstance(status, str) and at is not None):
        return None
    ref = p.get("approverUserProfileName") or p.get("approverArn") or p.get("approverIamArn") or p.get("approver")
    who = p.get("approverUserProfileName") or person(p.get("approverIamArn") or p.get("approverArn")) or person(p.get("approver"))
    return DecisionFact(node.id, package, status, at, who, ref, p.get("description"), system_of(node),
                        str(p.get("action") or p.get("run") or node.id))


@dataclass
class Decision:
    """One decision on one package, as every system that recorded it saw it."""

    package: str
    status: str
    at: datetime
    facts: list[DecisionFact]
    until: datetime | None = None
    superseded_by: Decision | None = None
    joined: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def systems(self) -> list[str]:
        return [f.system for f in self.facts]

    @property
    def approver(self) -> str | None:
        return next((f.approver for f in self.facts if f.approver), None)

    @property
    def description(self) -> str | None:
        return next((f.description for f in self.facts if f.description), None)

    def summary(self) -> dict[str, Any]:
        return {"package": self.package, "status": self.status, "at": iso(self.at), "approver": self.approver,
                "systems": self.systems, "records": [f.node for f in self.facts]}

    def as_dict(self) -> dict[str, Any]:
        """The decision for a report: who, when, what, which systems said so, joins and conflicts."""
        return {**self.summary(), "until": iso(self.until), "description": self.description,
                "evidence": [f.as_dict() for f in self.facts], "sameDecision": self.joined, "conflicts": self.conflicts}


def decisions(facts: Iterable[DecisionFact]) -> dict[str, list[Decision]]:
    """Per package, its decisions oldest first, each until the next (see the module docstring)."""
    by_package: dict[str, dict[tuple[str, str, datetime], DecisionFact]] = defaultdict(dict)
    for fact in facts:  # one system recording one decision twice (two ids, or the same twice) is once
        seen = by_package[fact.package]
        key = (fact.system, fact.status, fact.at)
        if key not in seen or fact.node < seen[key].node:
            seen[key] = fact
    return {package: _timeline(package, list(found.values())) for package, found in sorted(by_package.items())}


def _timeline(package: str, facts: list[DecisionFact]) -> list[Decision]:
    clusters: list[Decision] = []
    for system in sorted({f.system for f in facts}, key=_rank):
        mine = sorted((f for f in facts if f.system == system), key=lambda f: (f.at, f.status, f.node))
        pairs = sorted(
            (abs(c.at - f.at), f.node, c.facts[0].node, i, f)
            for f in mine for i, c in enumerate(clusters)
            if c.status == f.status and system not in c.systems and abs(c.at - f.at) <= APPROVAL_TOLERANCE
        )
        taken: set[NodeId] = set()
        for delta, fact_node, _, index, fact in pairs:
            cluster = clusters[index]
            if fact_node in taken or system in cluster.systems:
                continue
            taken.add(fact_node)
            cluster.facts.append(fact)
            cluster.joined.append({"rule": SAME_DECISION, "record": fact.node, "system": system, "with": cluster.facts[0].node,
                                   "toleranceSeconds": APPROVAL_TOLERANCE.total_seconds(), "deltaSeconds": _seconds(delta)})
        clusters += [Decision(package, f.status, f.at, [f]) for f in mine if f.node not in taken]
    for cluster in clusters:
        approvers = {f.approver.casefold(): f for f in cluster.facts if f.approver}
        if len(approvers) > 1:
            cluster.conflicts.append({"kind": "approver", "records": [
                {"record": f.node, "system": f.system, "approver": f.approver} for f in cluster.facts]})
    for a in clusters:
        for b in clusters:
            if a is not b and a.status != b.status and not set(a.systems) & set(b.systems) \
                    and abs(a.at - b.at) <= APPROVAL_TOLERANCE:
                a.conflicts.append({"kind": "status", "records": [
                    {"record": f.node, "system": f.system, "status": d.status, "at": iso(d.at)}
                    for d in (a, b) for f in d.facts]})
    clusters.sort(key=lambda d: (d.at, d.status, d.facts[0].node))
    for decision, following in zip(clusters, clusters[1:]):
        decision.until, decision.superseded_by = following.at, following
    return clusters


def in_force(timeline: list[Decision], at: datetime | None) -> Decision | None:
    """The decision in force at ``at`` (the last one made at or before it); the last one when ``at`` is None."""
    made = history(timeline, at)
    return made[-1] if made else None


def history(timeline: list[Decision], at: datetime | None) -> list[Decision]:
    return [d for d in timeline if at is None or d.at <= at]


# -- serving intervals ------------------------------------------------------------------------
@dataclass(frozen=True)
class ServingFact:
    """One system's record that a server (package or model) went on an endpoint variant at a time."""

    edge: Edge
    endpoint: str
    variant: str
    server: str  # the dataset id of the package's or model's ARN: the same in every system
    at: datetime
    system: str

    @property
    def ref(self) -> str:
        p = self.edge.props
        return str(p.get("deploymentAction") or p.get("run") or p.get("api") or self.edge.src)


def serving_fact(edge: Edge) -> ServingFact | None:
    if edge.kind is not EdgeKind.SERVES or edge.valid_from is None or "/variant/" not in edge.dst:
        return None
    endpoint, variant = edge.dst.split("/variant/", 1)
    try:
        server = dataset_id(edge.src) if edge.src.startswith("arn:") else str(edge.src)
    except InvalidEvent:
        server = str(edge.src)
    return ServingFact(edge, endpoint, variant, server, edge.valid_from, system_of(edge))


@dataclass
class Deployment:
    """One update of an endpoint, as every system that recorded it saw it."""

    at: datetime
    facts: list[ServingFact] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # SageMaker's ModelDeployment actions at this time
    systems: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        refs = sorted({*self.refs, *(f.ref for f in self.facts)})
        return {"at": iso(self.at), "systems": sorted(self.systems, key=_rank), "refs": refs}


def serving(facts: Iterable[ServingFact], actions: Iterable[tuple[str, datetime, str]] = ()) -> dict[EdgeKey, Update]:
    """``(valid_to, derived)`` of every SERVES fact; ``actions`` are (endpoint ARN, time, action ARN)."""
    by_endpoint: dict[str, list[ServingFact]] = defaultdict(list)
    for fact in facts:
        by_endpoint[fact.endpoint].append(fact)
    extra: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for endpoint, at, ref in actions:
        extra[endpoint].append((at, ref))
    updates: dict[EdgeKey, Update] = {}
    for endpoint in sorted(set(by_endpoint) | set(extra)):
        updates.update(_endpoint_intervals(by_endpoint.get(endpoint, []), extra.get(endpoint, [])))
    return updates


def _endpoint_intervals(facts: list[ServingFact], actions: list[tuple[datetime, str]]) -> dict[EdgeKey, Update]:
    deployments: dict[datetime, Deployment] = {}
    systems = sorted({f.system for f in facts} | ({"sagemaker"} if actions else set()), key=_rank)
    joins: dict[EdgeKey, list[dict[str, Any]]] = defaultdict(list)
    for position, system in enumerate(systems):
        groups: dict[datetime, list[ServingFact]] = defaultdict(list)
        for fact in sorted((f for f in facts if f.system == system), key=lambda f: (f.at, f.variant, f.server, f.edge.key)):
            groups[fact.at].append(fact)
        if system == "sagemaker":
            for at, ref in actions:
                deployments.setdefault(at, Deployment(at)).refs.append(ref)
                deployments[at].systems.add(system)
        for at, group in sorted(groups.items()):
            here = None
            if position > 0:  # the first system's deployments are the frame the others join
                near = sorted((abs(d.at - at), d.at) for d in deployments.values()
                              if system not in d.systems and abs(d.at - at) <= DEPLOYMENT_TOLERANCE)
                here = deployments[near[0][1]] if near else None
            if here is None:
                here = deployments.setdefault(at, Deployment(at))
            for fact in group:
                for other in here.facts:
                    if other.system == system or other.variant != fact.variant:
                        continue
                    same = other.server == fact.server
                    note = {"rule": SAME_DEPLOYMENT if same else "conflict:another-server-on-the-variant",
                            "toleranceSeconds": DEPLOYMENT_TOLERANCE.total_seconds(),
                            "deltaSeconds": _seconds(other.at - fact.at)}
                    joins[fact.edge.key].append({**note, "edge": list(other.edge.key), "system": other.system,
                                                 "server": other.server, "ref": other.ref})
                    joins[other.edge.key].append({**note, "edge": list(fact.edge.key), "system": fact.system,
                                                  "server": fact.server, "ref": fact.ref})
            here.facts += group
            here.systems.add(system)
    ordered = sorted(deployments.values(), key=lambda d: d.at)
    updates: dict[EdgeKey, Update] = {}
    for index, deployment in enumerate(ordered):
        for fact in deployment.facts:
            following = next((d for d in ordered[index + 1:] if d.at > fact.at), None)
            same = [j for j in joins.get(fact.edge.key, []) if j["rule"] == SAME_DEPLOYMENT]
            clash = [j for j in joins.get(fact.edge.key, []) if j["rule"] != SAME_DEPLOYMENT]
            derived: dict[str, Any] = {"deployment": deployment.summary(),
                                       "replacedBy": following.summary() if following else None}
            if same:
                derived["sameDeployment"] = sorted(same, key=lambda j: j["edge"])
            if clash:
                derived["conflicts"] = sorted(clash, key=lambda j: j["edge"])
            updates[fact.edge.key] = (following.at if following else None, derived)
    return updates


# -- all of it, for the store -------------------------------------------------------------------
def derive(graph: Graph) -> tuple[dict[str, Update], dict[EdgeKey, Update]]:
    """``(valid_to, derived)`` per node id and per edge key, from the whole graph's facts."""
    nodes: dict[str, Update] = {}
    edges: dict[EdgeKey, Update] = {}
    facts = [f for f in (decision_fact(n) for n in graph.nodes(kind=NodeKind.APPROVAL)) if f is not None]
    by_node: dict[str, Decision] = {}
    for timeline in decisions(facts).values():
        for decision in timeline:
            derived = {"decision": decision.summary(),
                       "supersededBy": decision.superseded_by.summary() if decision.superseded_by else None}
            if decision.joined:
                derived["sameDecision"] = decision.joined
            if decision.conflicts:
                derived["conflicts"] = decision.conflicts
            for fact in decision.facts:
                by_node[fact.node] = decision
                nodes[fact.node] = (decision.until, derived)
    for edge in graph.edges(kinds=[EdgeKind.APPROVED]):
        if edge.src in nodes:
            edges[edge.key] = nodes[edge.src]

    served = [f for f in (serving_fact(e) for e in graph.edges(kinds=[EdgeKind.SERVES])) if f is not None]
    actions = [
        (str(n.props["SourceUri"]), at, str(n.id))
        for n in graph.nodes(kind=NodeKind.SM_ACTION)
        if n.props.get("ActionType") == "ModelDeployment" and isinstance(n.props.get("SourceUri"), str)
        and (at := coerce(n.props.get("creationTime"))) is not None
    ]
    edges.update(serving(served, actions))
    ends: dict[str, list[datetime | None]] = defaultdict(list)
    for fact in served:
        ends[fact.edge.dst].append(edges[fact.edge.key][0])
    for variant, until in ends.items():
        closed = [u for u in until if u is not None]
        nodes[variant] = (None if len(closed) < len(until) else max(closed), {})
    return nodes, edges


__all__ = [
    "APPROVAL_TOLERANCE", "DEPLOYMENT_TOLERANCE", "SAME_DECISION", "SAME_DEPLOYMENT", "Decision", "DecisionFact",
    "Deployment", "ServingFact", "decision_fact", "decisions", "derive", "history", "in_force", "person", "serving",
    "serving_fact", "system_of",
]
