"""Diff two training runs, or two model packages: what changed in params, metrics, data and code.

Contract: ``diff(graph, a, b)`` (a ``Graph``, or a ``GraphStore`` read through one)
takes two node ids and returns a ``Diff``: one ``SectionDiff`` per section (``params``,
``metrics``, ``data``, ``code``), each with ``added`` (only in b), ``removed`` (only in
a), ``changed`` (both, different values) and ``unchanged`` keys. ``render(diff)`` makes it a rich table; ``Diff.as_dict()`` is the
JSON form. Reading never writes.

What a node resolves to (its *training run*):
- an OpenLineage run (``run:<uuid>``): itself, whatever its job;
- a SageMaker training job or its trial component: the run ``SameAs`` it;
- a model package (its ARN, or its dataset ``dataset:arn:...:model-package/...``): the
  nearest training run among its ancestors (package <- model artifact <- training run,
  over SameAs/ContributedTo/produced), found with ``Graph.ancestors`` one depth at a time.
A node that resolves to no run raises ``NodeNotFound``.

The sections, from the training run:
- params: the ``crossline_hyperparameters`` run facet, else the SageMaker job's
  HyperParameters;
- metrics: ``{kind}:{name}`` from the run's ``crossline_metrics`` facet (else the job's
  final metrics, as ``training:``), plus the evaluation metrics of the runs that
  consumed the model artifact the training run produced (its descendants at depth 1);
  a per-step series keeps its last step;
- data: the training run's inputs and, one level up, the inputs of the runs that
  produced them (the assemble run: feature snapshots, exclusion list), each as dataset
  and content version. Inputs are paired across the two sides by role, so that a
  weekly path (``train/2027-W10`` vs ``train/2027-W11``) shows as a change: a feature
  snapshot by its feature group, a training input by its SageMaker channel, anything
  else by its dataset;
- code: the commits with a ``code`` edge into the training run, by repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from crossline.collectors.graph import Graph
from crossline.collectors.model import EdgeKind, Node, NodeId, NodeKind, dataset_id
from crossline.collectors.openlineage import facet_prop
from crossline.collectors.store import GraphStore
from crossline.emitters.facets import CrosslineHyperparametersRunFacet, CrosslineMetricsRunFacet
from crossline.errors import InvalidEvent, NodeNotFound

SECTIONS = ("params", "metrics", "data", "code")
# How far up from a package a training run may be: package <- SameAs dataset <- register
# run <- model artifact version <- training run is 4; leave room for SageMaker's side.
MAX_PACKAGE_DEPTH = 10
HYPERPARAMETERS_FACET = facet_prop(CrosslineHyperparametersRunFacet.KEY)
METRICS_FACET = facet_prop(CrosslineMetricsRunFacet.KEY)


@dataclass(frozen=True)
class Change:
    before: Any
    after: Any


@dataclass(frozen=True)
class SectionDiff:
    added: dict[str, Any] = field(default_factory=dict)
    removed: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, Change] = field(default_factory=dict)
    unchanged: dict[str, Any] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"before": c.before, "after": c.after} for k, c in self.changed.items()},
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class Side:
    """One side of a diff: what was asked for, the training run it resolved to, and its values."""

    requested: NodeId
    run: NodeId
    job: str | None
    package: NodeId | None
    sagemaker_job: str | None
    evaluation_runs: tuple[NodeId, ...]
    upstream_runs: tuple[NodeId, ...]
    params: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]
    code: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        return {"params": self.params, "metrics": self.metrics, "data": self.data, "code": self.code}[name]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested, "run": self.run, "job": self.job, "package": self.package,
            "sagemakerJob": self.sagemaker_job, "evaluationRuns": list(self.evaluation_runs),
            "upstreamRuns": list(self.upstream_runs),
        }


@dataclass(frozen=True)
class Diff:
    a: Side
    b: Side
    sections: dict[str, SectionDiff]

    @property
    def params(self) -> SectionDiff:
        return self.sections["params"]

    @property
    def metrics(self) -> SectionDiff:
        return self.sections["metrics"]

    @property
    def data(self) -> SectionDiff:
        return self.sections["data"]

    @property
    def code(self) -> SectionDiff:
        return self.sections["code"]

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a.as_dict(), "b": self.b.as_dict(),
                "sections": {name: s.as_dict() for name, s in self.sections.items()}}


# -- the diff -------------------------------------------------------------------------
def diff(graph_or_store: Graph | GraphStore, a: str, b: str) -> Diff:
    graph = Graph.of(graph_or_store)
    with graph.snapshot():  # both sides from one state of the store
        left, right = side(graph, NodeId(a)), side(graph, NodeId(b))
    return Diff(left, right, {name: compare(left.section(name), right.section(name)) for name in SECTIONS})


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> SectionDiff:
    result = SectionDiff()
    for key in sorted(set(before) | set(after)):
        if key not in after:
            result.removed[key] = before[key]
        elif key not in before:
            result.added[key] = after[key]
        elif before[key] != after[key]:
            result.changed[key] = Change(before[key], after[key])
        else:
            result.unchanged[key] = before[key]
    return result


def side(graph: Graph, requested: NodeId) -> Side:
    package, run = resolve(graph, requested)
    node = graph.node(run)
    job = _sagemaker_job(graph, node)
    evaluations = _evaluation_runs(graph, run)
    inputs = _inputs(graph, run)
    upstream = sorted({r for i in inputs for r in _producers(graph, i)})
    return Side(
        requested=requested,
        run=run,
        job=str(node.props.get("job")) if node.props.get("job") else None,
        package=package,
        sagemaker_job=job.id if job else None,
        evaluation_runs=tuple(evaluations),
        upstream_runs=tuple(upstream),
        params=_params(node, job),
        metrics=_metrics(graph, node, job, evaluations),
        data=_data(graph, inputs, upstream, job),
        code=_code(graph, run),
    )


# -- resolving a node to its training run ------------------------------------------------
def resolve(graph: Graph, node_id: NodeId) -> tuple[NodeId | None, NodeId]:
    """(the model package, if one was asked for, and) the training run of ``node_id``."""
    node = graph.node(node_id)
    if node.kind is NodeKind.RUN:
        return None, node.id
    if node.kind in (NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB, NodeKind.SM_TRIAL_COMPONENT):
        runs = graph.ancestors(node.id, depth=2, node_kinds={NodeKind.RUN}, edge_kinds={EdgeKind.SAME_AS})
        if runs:
            return None, sorted(runs)[0]
        raise NodeNotFound(f"{node_id!r} has no OpenLineage run SameAs it to diff")
    if node.kind is NodeKind.MODEL_PACKAGE or node.props.get("modelPackageArn"):
        for depth in range(1, MAX_PACKAGE_DEPTH + 1):
            runs = graph.ancestors(node.id, depth=depth, node_kinds={NodeKind.RUN})
            training = sorted(r for r in runs if _is_training(graph.node(r)))
            if training:
                return node.id, training[0]
        raise NodeNotFound(f"no training run within {MAX_PACKAGE_DEPTH} edges upstream of package {node_id!r}")
    raise NodeNotFound(f"{node_id!r} is a {node.kind.value}: diff takes runs, training jobs or model packages")


def _is_training(run: Node) -> bool:
    return run.props.get("sagemakerJobKind") == "training" or HYPERPARAMETERS_FACET in run.props


def _sagemaker_job(graph: Graph, run: Node) -> Node | None:
    jobs = graph.neighbours(run.id, edge_kinds={EdgeKind.SAME_AS})
    for node in graph.nodes(ids=sorted(jobs)):
        if node.kind in (NodeKind.TRAINING_JOB, NodeKind.PROCESSING_JOB):
            return node
    return None


def _evaluation_runs(graph: Graph, run: NodeId) -> list[NodeId]:
    """Runs that consumed what the training run produced (the model artifact)."""
    found: set[NodeId] = set()
    for edge in graph.edges_of(run, direction="out", edge_kinds={EdgeKind.PRODUCED}):
        found |= graph.descendants(edge.dst, depth=1, node_kinds={NodeKind.RUN}, edge_kinds={EdgeKind.CONSUMED})
    return sorted(r for r in found if any(m.get("kind") == "evaluation" for m in _facet_metrics(graph.node(r))))


def _inputs(graph: Graph, run: NodeId) -> list[NodeId]:
    return sorted(e.src for e in graph.edges_of(run, direction="in", edge_kinds={EdgeKind.CONSUMED}))


def _producers(graph: Graph, dataset: NodeId) -> list[NodeId]:
    return sorted(e.src for e in graph.edges_of(dataset, direction="in", edge_kinds={EdgeKind.PRODUCED}))


# -- the sections ----------------------------------------------------------------------
def _params(run: Node, job: Node | None) -> dict[str, Any]:
    facet = run.props.get(HYPERPARAMETERS_FACET)
    if isinstance(facet, Mapping) and isinstance(facet.get("hyperparameters"), Mapping):
        return {str(k): v for k, v in facet["hyperparameters"].items()}
    if job is not None and isinstance(job.props.get("hyperparameters"), Mapping):
        return {str(k): v for k, v in job.props["hyperparameters"].items()}
    return {}


def _facet_metrics(run: Node) -> list[Mapping[str, Any]]:
    facet = run.props.get(METRICS_FACET)
    metrics = facet.get("metrics") if isinstance(facet, Mapping) else None
    return [m for m in metrics or [] if isinstance(m, Mapping) and "name" in m]


def _metrics(graph: Graph, run: Node, job: Node | None, evaluations: Iterable[NodeId]) -> dict[str, Any]:
    found: dict[str, tuple[float, Any]] = {}  # key -> (step, value): a series keeps its last step
    for node in [run, *graph.nodes(ids=list(evaluations))]:
        for metric in _facet_metrics(node):
            key = f"{metric.get('kind') or 'metric'}:{metric['name']}"
            step = metric.get("step")
            step = float(step) if isinstance(step, (int, float)) else float("inf")
            if key not in found or step >= found[key][0]:
                found[key] = (step, metric.get("value"))
    if job is not None and isinstance(job.props.get("metrics"), Mapping):
        for name, value in job.props["metrics"].items():
            found.setdefault(f"training:{name}", (float("inf"), value))
    return {k: v for k, (_, v) in sorted(found.items())}


def _dataset(node: Node) -> tuple[NodeId, str, str | None]:
    """(dataset id, its readable name, its content version) of a dataset or dataset version."""
    ns, name = node.props.get("namespace"), node.props.get("name")
    if not isinstance(ns, str) or not isinstance(name, str):
        return node.id, node.id.removeprefix("dataset:").split("#")[0], node.props.get("version")
    readable = f"{ns}/{name}" if ns.startswith("s3://") else f"{ns}:{name}"
    return dataset_id(ns, name), readable, node.props.get("version")


def _channels(job: Node | None) -> dict[NodeId, str]:
    """Training input dataset -> SageMaker channel name."""
    channels: dict[NodeId, str] = {}
    for channel in (job.props.get("inputs") if job else None) or []:
        uri, name = channel.get("s3Uri"), channel.get("channel")
        if uri and name:
            try:
                channels[dataset_id(uri)] = name
            except InvalidEvent:
                continue
    return channels


def _feature_group(graph: Graph, dataset: NodeId) -> str | None:
    for edge in graph.edges_of(dataset, direction="in", edge_kinds={EdgeKind.CONTRIBUTED_TO}):
        source = graph.nodes(ids=[edge.src])
        for node in source:
            if node.kind is NodeKind.FEATURE_GROUP:
                return str(node.props.get("featureGroupName") or node.name)
    return None


def _data(graph: Graph, inputs: list[NodeId], upstream: list[NodeId], job: Node | None) -> dict[str, Any]:
    channels = _channels(job)
    data: dict[str, Any] = {}
    for level, datasets in (("training", inputs), ("upstream", [i for r in upstream for i in _inputs(graph, r)])):
        for node in graph.nodes(ids=datasets):
            base, readable, version = _dataset(node)
            group = _feature_group(graph, node.id)
            if group:
                key = f"feature group {group}"
            elif level == "training" and base in channels:
                key = f"training channel {channels[base]}"
            else:
                key = f"{level} input {readable}"
            data[key] = {"dataset": readable, "version": version}
    return dict(sorted(data.items()))


def _code(graph: Graph, run: NodeId) -> dict[str, Any]:
    code: dict[str, Any] = {}
    commits = [e.src for e in graph.edges_of(run, direction="in", edge_kinds={EdgeKind.CODE})]
    for node in graph.nodes(ids=commits):
        repo = str(node.props.get("repoUrl") or node.name.rsplit("@", 1)[0])
        path = node.props.get("path")
        code[f"{repo}/{path}" if path else repo] = node.props.get("version") or node.name.rsplit("@", 1)[-1]
    return dict(sorted(code.items()))


# -- rendering ---------------------------------------------------------------------------
def _show(value: Any) -> str:
    if isinstance(value, Mapping) and set(value) == {"dataset", "version"}:
        return f"{value['dataset']} @ {value['version']}" if value["version"] else str(value["dataset"])
    return "" if value is None else str(value)


def render(result: Diff) -> Table:
    """The diff as one rich table: section, key, a, b and a mark (= same, ~ changed, + added, - removed)."""
    a, b = result.a, result.b
    table = Table(title=f"crossline diff\na: {a.package or a.requested} (run {a.run})\n"
                        f"b: {b.package or b.requested} (run {b.run})")
    for column in ("section", "key", "a", "b", ""):
        table.add_column(column)
    for name, section in result.sections.items():
        rows: list[tuple[str, str, str, str, str]] = []
        rows += [(name, k, _show(v.before), _show(v.after), "[yellow]~[/]") for k, v in section.changed.items()]
        rows += [(name, k, _show(v), "", "[red]-[/]") for k, v in section.removed.items()]
        rows += [(name, k, "", _show(v), "[green]+[/]") for k, v in section.added.items()]
        rows += [(name, k, _show(v), _show(v), "[dim]=[/]") for k, v in section.unchanged.items()]
        if not rows:
            rows.append((name, "(nothing recorded)", "", "", ""))
        for section_name, key, before, after, mark in sorted(rows, key=lambda r: r[1]):
            # Text, not markup: keys like "training:train:progress" are not emoji codes.
            table.add_row(section_name, Text(key), Text(before), Text(after), mark)
        table.add_section()
    return table


__all__ = ["Change", "Diff", "SectionDiff", "Side", "compare", "diff", "render", "resolve"]
