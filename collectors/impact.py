"""Impact that answers the question: which model packages used X, where and when they served, and how many decisions.

Contract: ``impact(graph, node, as_of=None, between=None, inferences=False, limit=50,
offset=0)`` returns an ``Impact`` for ``node``, a resolved node id: a dataset, a dataset
version, a feature group or feature-group version (its snapshot), a code commit, or
anything else lineage flows from.

- **Packages**: every model package downstream of ``node`` along the lineage (flow edges,
  SameAs both ways; serving is not walked), SageMaker's and OpenLineage's records of
  one package counted once, by ARN. A dataset counts with all its versions.
- **Deployments** of each package: ``(endpoint, variant, from, to)`` from the SERVES facts
  of either side; a deployment both systems recorded (joined by ``collectors.timeline``)
  is listed once, as SageMaker recorded it. ``to`` is when the endpoint's next deployment
  replaced it (None: still serving). A package with none in the window is "never
  deployed" there.
- **Window**: ``as_of=T``: the history up to T (deployments begun at or before T; one
  still serving at T has ``to`` None; inferences up to T). ``between=(T1, T2)``:
  deployments whose interval meets [T1, T2), inferences in it. Neither: all time. A
  package the registry created after the window's end is left out.
- **Inferences**: per deployment, the count of captured inferences it served in the
  window (one statement each); with ``inferences=True``, one page of them (``limit``
  from ``offset``, in package, deployment and time order) with the total, so a caller
  pages with ``offset += limit`` until ``offset >= total``.

Nothing here is a finding: a package never deployed is an answer, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crossline.collectors.graph import Graph
from crossline.collectors.model import FLOW_EDGES, Edge, EdgeKind, Node, NodeKind
from crossline.collectors.timeline import system_of
from crossline.collectors.packages import is_package, package_facts
from crossline.times import coerce, iso, utc

_TICK = timedelta(microseconds=1)
# What the walk follows: lineage, not serving (packages are where it stops to look).
WALK_EDGES = FLOW_EDGES - {EdgeKind.SERVES, EdgeKind.SERVED, EdgeKind.APPROVED}


@dataclass
class Deployment:
    endpoint: str
    variant: str
    start: datetime
    end: datetime | None
    inferences: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)
    edge: Edge | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "variant": self.variant, "from": iso(self.start), "to": iso(self.end),
                "inferences": self.inferences, "evidence": self.evidence}


@dataclass
class Package:
    arn: str
    group: str | None
    version: Any
    records: list[str]
    deployments: list[Deployment] = field(default_factory=list)
    created: datetime | None = None  # the registry's CreationTime, when SageMaker's side was collected

    @property
    def name(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.arn

    @property
    def inferences(self) -> int:
        return sum(d.inferences for d in self.deployments)

    def as_dict(self) -> dict[str, Any]:
        return {"modelPackageArn": self.arn, "name": self.name, "group": self.group, "version": self.version,
                "records": self.records, "deployed": bool(self.deployments), "inferences": self.inferences,
                "deployments": [d.as_dict() for d in self.deployments]}


@dataclass
class Impact:
    subject: str
    window: dict[str, str | None]
    packages: list[Package]
    page: dict[str, Any] | None = None  # total, offset, limit, items

    @property
    def inferences(self) -> int:
        return sum(p.inferences for p in self.packages)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "subject": self.subject, "window": self.window, "inferences": self.inferences,
            "packages": [p.as_dict() for p in self.packages],
            "neverDeployed": [p.arn for p in self.packages if not p.deployments],
        }
        if self.page is not None:
            data["inferencesPage"] = self.page
        return data


def impact(
    graph: Graph, node: str, *, as_of: datetime | None = None, between: tuple[datetime, datetime] | None = None,
    inferences: bool = False, limit: int = 50, offset: int = 0,
) -> Impact:
    if as_of is not None and between is not None:
        raise ValueError("as_of and between are two different windows: give one")
    # The window as [low, high): "as of T" holds what happened at T itself.
    low, high = (None, utc(as_of) + _TICK) if as_of is not None else (utc(between[0]), utc(between[1])) if between else (None, None)
    with graph.snapshot():
        versions = graph.neighbours(node, direction="in", edge_kinds=[EdgeKind.VERSION_OF])
        found: set[str] = set()
        for start in [node, *sorted(versions)]:
            found |= graph.descendants(start, node_kinds=[NodeKind.MODEL_PACKAGE, NodeKind.DATASET], edge_kinds=WALK_EDGES)
        records = [n for n in graph.nodes(ids=sorted(i for i in found if "model-package/" in i)) if is_package(n)]
        packages = _packages(records)
        if high is not None:  # not yet registered at the window's end: not part of the answer
            late = {arn for arn, p in packages.items() if p.created is not None and p.created >= high}
            records = [r for r in records if not any(r.id in packages[arn].records for arn in late)]
            packages = {arn: p for arn, p in packages.items() if arn not in late}
        serves = graph.step([r.id for r in records], "out", {EdgeKind.SERVES})
        by_record = {r.id: arn for arn, p in packages.items() for r in records if r.id in p.records}
        for hop in _one_per_deployment(serves):
            package = packages[by_record[hop.start]]
            deployment = _deployment(hop.edge, as_of, low, high)
            if deployment is None:
                continue
            lo = max(deployment.start, low) if low else deployment.start
            hi = min(x for x in (deployment.end, high) if x is not None) if (deployment.end or high) else None
            deployment.inferences = graph.edge_count(hop.edge.dst, EdgeKind.SERVED, lo, hi) if hi is None or lo < hi else 0
            package.deployments.append(deployment)
        ordered = sorted(packages.values(), key=lambda p: (str(p.group), _number(p.version), p.arn))
        for package in ordered:
            package.deployments.sort(key=lambda d: (d.start, d.endpoint, d.variant))
        result = Impact(node, {"asOf": iso(as_of), "from": iso(low) if between else None, "to": iso(high) if between else None},
                        ordered)
        if inferences:
            result.page = _page(graph, ordered, low, high, limit, offset)
    return result


def _packages(records: list[Node]) -> dict[str, Package]:
    packages: dict[str, Package] = {}
    for record in sorted(records, key=lambda r: (r.kind is not NodeKind.MODEL_PACKAGE, r.id)):
        facts = package_facts(record)
        arn = str(facts["modelPackageArn"] or record.id)
        package = packages.setdefault(arn, Package(arn, facts["group"], facts["version"], []))
        package.records.append(record.id)
        package.group = package.group or facts["group"]
        package.version = package.version if package.version is not None else facts["version"]
        if record.kind is NodeKind.MODEL_PACKAGE:
            package.created = coerce(record.props.get("creationTime"))
    return packages


def _one_per_deployment(hops: list[Any]) -> list[Any]:
    """SERVES facts, a deployment both systems recorded kept once: as SageMaker recorded it."""
    keys = {h.edge.key for h in hops}
    kept = []
    for hop in sorted(hops, key=lambda h: h.edge.key):
        same = hop.edge.derived.get("sameDeployment") or []
        if system_of(hop.edge) != "sagemaker" and any(
                s.get("system") == "sagemaker" and tuple(s["edge"]) in keys for s in same):
            continue
        kept.append(hop)
    return kept


def _deployment(edge: Edge, as_of: datetime | None, low: datetime | None, high: datetime | None) -> Deployment | None:
    start, end = edge.valid_from, edge.valid_to
    if start is None or (high is not None and start >= high) or (low is not None and end is not None and end <= low):
        return None
    if as_of is not None and end is not None and end > as_of:
        end = None  # still serving as of that time
    endpoint, _, variant = edge.dst.partition("/variant/")
    evidence = {"system": system_of(edge), "ref": edge.props.get("deploymentAction") or edge.props.get("run"),
                "endpointConfigName": edge.props.get("endpointConfigName")}
    return Deployment(endpoint.rsplit("/", 1)[-1], variant, start, end,
                      evidence={k: v for k, v in evidence.items() if v is not None}, edge=edge)


def _page(graph: Graph, packages: list[Package], low: datetime | None, high: datetime | None, limit: int,
          offset: int) -> dict[str, Any]:
    total = sum(p.inferences for p in packages)
    items: list[dict[str, Any]] = []
    skip = offset
    for package in packages:
        for deployment in package.deployments:
            if len(items) >= limit:
                break
            if skip >= deployment.inferences:
                skip -= deployment.inferences
                continue
            assert deployment.edge is not None
            lo = max(deployment.start, low) if low else deployment.start
            bounds = [x for x in (deployment.end, high) if x is not None]
            hi = min(bounds) if bounds else None
            for served in graph.edges_by_time(deployment.edge.dst, EdgeKind.SERVED, lo, hi,
                                              limit=limit - len(items), offset=skip):
                items.append({"inference": served.dst.rsplit("/", 1)[-1], "id": served.dst, "time": iso(served.valid_from),
                              "package": package.name, "modelPackageArn": package.arn,
                              "endpoint": deployment.endpoint, "variant": deployment.variant,
                              "captureFile": served.props.get("captureFile")})
            skip = 0
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def _number(version: Any) -> tuple[int, str]:
    try:
        return (int(version), "")
    except (TypeError, ValueError):
        return (0, str(version))


__all__ = ["WALK_EDGES", "Deployment", "Impact", "Package", "impact"]
