"""Why two nodes are linked: the path between them, and each edge's rule and evidence.

Contract: ``explain(graph, a, b, as_of=None)`` returns an ``Explanation``: the shortest path
between the two node ids, found in this order (the first that exists wins, so the
answer is the most direct account of the link):

1. ``downstream``: from ``a`` to ``b`` along the lineage (flow edges, with their arrows);
2. ``upstream``: from ``b`` to ``a`` along the lineage;
3. ``related``: over flow edges either way (a shared ancestor or descendant);
4. ``structural``: over every edge either way (a run of a job, a table of a database).

Each step names the edges recorded between its two nodes (every one, either way: two
systems may record the same link; a ``SameAs`` recorded both ways with the same props is
one link, shown once), each with its kind, its direction, the sources that
recorded it, the reconciliation ``rule`` that made it (if one did), its ``evidence``
(the rule's, else what the source recorded: the API, the event, the file) and its
validity interval. No path at all is ``NoPath``. Reads go through ``Graph`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crossline.collectors.graph import Graph
from crossline.collectors.model import FLOW_EDGES, Edge, EdgeKind, NodeId
from crossline.errors import NoPath
from crossline.times import iso

# Props that say where a record came from, shown as evidence when no rule made the edge.
_EVIDENCE_KEYS = ("api", "facet", "step", "ran", "run", "captureFile", "line", "deploymentAction", "endpointConfigName",
                  "readFrom", "recordedBy", "recordedAt", "role", "featureGroup", "tags", "source", "context",
                  "mlflowDataset", "status", "action")


@dataclass
class EdgeReason:
    kind: str
    src: str
    dst: str
    forward: bool  # along the path's direction
    sources: list[str]
    rule: str | None
    evidence: dict[str, Any]
    valid_from: str | None = None
    valid_to: str | None = None


@dataclass
class Step:
    start: str
    end: str
    start_name: str | None
    end_name: str | None
    edges: list[EdgeReason] = field(default_factory=list)


@dataclass
class Explanation:
    a: str
    b: str
    how: str  # downstream | upstream | related | structural
    path: list[str]
    steps: list[Step]
    as_of: str | None = None

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def reason(edge: Edge, forward: bool) -> EdgeReason:
    props = edge.props
    evidence = props.get("evidence") if isinstance(props.get("evidence"), dict) else {
        k: props[k] for k in _EVIDENCE_KEYS if props.get(k) not in (None, "", [], {})
    }
    return EdgeReason(
        kind=edge.kind.value, src=edge.src, dst=edge.dst, forward=forward, sources=edge.source.split(","),
        rule=props.get("rule"), evidence=evidence, valid_from=iso(edge.valid_from), valid_to=iso(edge.valid_to),
    )


def explain(graph: Graph, a: str, b: str, as_of: datetime | None = None) -> Explanation:
    every = list(EdgeKind)
    attempts: list[tuple[str, str, str, Any, bool]] = [
        ("downstream", a, b, FLOW_EDGES, True),
        ("upstream", b, a, FLOW_EDGES, True),
        ("related", a, b, FLOW_EDGES, False),
        ("structural", a, b, every, False),
    ]
    with graph.snapshot():
        for how, start, end, kinds, directed in attempts:
            try:
                path = graph.shortest_path(start, end, edge_kinds=kinds, as_of=as_of, directed=directed)
            except NoPath:
                continue
            if how == "upstream":
                path = list(reversed(path))
            return Explanation(a, b, how, list(path), _steps(graph, path, kinds, as_of), iso(as_of))
    when = f" as of {iso(as_of)}" if as_of else ""
    raise NoPath(f"{a!r} and {b!r} are not linked{when}: no path joins them over any edge, either way")


def _steps(graph: Graph, path: list[NodeId], kinds: Any, as_of: datetime | None) -> list[Step]:
    names = {n.id: n.name for n in graph.nodes(ids=path)}
    hops = graph.step(path, "out", kinds, as_of)
    steps = []
    for here, there in zip(path, path[1:]):
        step = Step(here, there, names.get(here), names.get(there))
        for hop in hops:
            edge = hop.edge
            if (edge.src, edge.dst) == (here, there):
                step.edges.append(reason(edge, forward=True))
            elif (edge.src, edge.dst) == (there, here) and not _mirrored(edge, hops):
                step.edges.append(reason(edge, forward=False))
        steps.append(step)
    return steps


def _mirrored(edge: Edge, hops: Any) -> bool:
    """A SameAs recorded both ways with the same props: one link, shown once (forwards)."""
    if edge.kind is not EdgeKind.SAME_AS:
        return False
    return any(h.edge.kind is EdgeKind.SAME_AS and (h.edge.src, h.edge.dst) == (edge.dst, edge.src)
               and h.edge.props == edge.props for h in hops)


def render(explanation: Explanation) -> list[str]:
    """The explanation as text lines: the path, then each step's edges with rule and evidence."""
    import json

    out = [f"{explanation.a} -> {explanation.b}: linked {explanation.how} in {len(explanation.steps)} step(s)"
           + (f" as of {explanation.as_of}" if explanation.as_of else "")]
    for number, step in enumerate(explanation.steps, start=1):
        out.append(f"{number}. {step.start}" + (f" ({step.start_name})" if step.start_name and step.start_name != step.start else ""))
        out.append(f"   -> {step.end}" + (f" ({step.end_name})" if step.end_name and step.end_name != step.end else ""))
        for edge in step.edges:
            arrow = ("<--SameAs-->" if edge.kind == EdgeKind.SAME_AS.value
                     else f"--{edge.kind}-->" if edge.forward else f"<--{edge.kind}--")
            rule = f"rule {edge.rule}" if edge.rule else "recorded"
            when = ""
            if edge.valid_from or edge.valid_to:
                when = f", valid {edge.valid_from or '...'} to {edge.valid_to or 'now'}"
            out.append(f"   {arrow} {rule} by {', '.join(edge.sources)}{when}")
            if edge.evidence:
                out.append(f"      evidence: {json.dumps(edge.evidence, sort_keys=True, default=str)}")
    return out


__all__ = ["EdgeReason", "Explanation", "Step", "explain", "reason", "render"]
