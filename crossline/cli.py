"""The ``crossline`` command line.

Contract: each subcommand is a thin shell over a library call; errors crossline raises
on purpose (``CrosslineError``) print as one clear line on stderr and exit with status
2, never as a stack trace. Subcommands:

- ``crossline lineage replay|status``: the durable transport's spool of undelivered events.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from crossline import config
from crossline.errors import CrosslineError

console = Console()


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CrosslineError as err:
            Console(stderr=True).print(f"[bold red]crossline:[/] {err}", highlight=False)
            sys.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """crossline: OpenLineage-based cross-system lineage for ML pipelines."""


@main.group()
def lineage() -> None:
    """The durable lineage transport's spool: events the backend has not taken yet."""


@lineage.command("replay")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Spool folder. Default: the configured transport's, else CROSSLINE_SPOOL_DIR, "
                   "else $CROSSLINE_HOME/spool.")
@click.option("--url", default=None, help="Backend URL. Default: the configured transport's, else OPENLINEAGE_URL.")
@click.option("--wait", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another process that is replaying.")
def lineage_replay(spool_dir: Path | None, url: str | None, wait: float) -> None:
    """Send spooled events, oldest first; exit 1 if some are left (backend down or busy)."""
    from crossline.emitters.transport.durable import transport_from_config

    transport = transport_from_config(spool_dir=spool_dir, url=url)
    try:
        report = transport.replay(wait=wait)
    finally:
        transport.http.close()
    click.echo(json.dumps({"url": transport.url, "spool": str(transport.spool.directory), **report.as_dict()},
                          indent=2))
    if report.remaining:
        sys.exit(1)


@lineage.command("status")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Spool folder (default as for replay).")
def lineage_status(spool_dir: Path | None) -> None:
    """Print pending and rejected events (count, bytes, oldest) as JSON."""
    from crossline.emitters.transport.durable import spool_from_config

    click.echo(json.dumps(spool_from_config(spool_dir).status().as_dict(), indent=2))


# -- collection and queries ------------------------------------------------------------------
STORE_HELP = "Graph store URL: sqlite:///path.db (default: $CROSSLINE_HOME/graph.db) or postgresql://..."


def _store_url(url: str | None) -> str:
    return url or f"sqlite:///{config.home() / 'graph.db'}"


@main.command()
@click.option("--store", "store_url", default=None, help=STORE_HELP)
@click.option("--marquez", "marquez_url", default=None, help="Read Marquez's API at this URL.")
@click.option("--openlineage", "openlineage_paths", multiple=True, help="Read OpenLineage JSONL files (path, folder or glob).")
@click.option("--sagemaker", is_flag=True, help="Read SageMaker's lineage and registry (boto3's configuration).")
@click.option("--data-capture", "capture_prefixes", multiple=True, help="Read endpoint data capture under this S3 prefix.")
@click.option("--aws-endpoint", default=None, help="AWS endpoint URL (e.g. the bed's moto server).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def collect(
    store_url: str | None, marquez_url: str | None, openlineage_paths: tuple[str, ...], sagemaker: bool,
    capture_prefixes: tuple[str, ...], aws_endpoint: str | None, as_json: bool,
) -> None:
    """Collect lineage into the graph, reconcile it, and report counts."""
    from crossline.collectors.collect import collect as run_collect
    from crossline.collectors.sources import source_from_config
    from crossline.collectors.store import GraphStore

    configs: list[dict[str, object]] = [{"type": "openlineage-file", "paths": list(openlineage_paths)}] if openlineage_paths else []
    if marquez_url:
        configs.append({"type": "marquez", "url": marquez_url})
    aws = {"endpoint_url": aws_endpoint} if aws_endpoint else {}
    if sagemaker:
        configs.append({"type": "sagemaker", **aws})
    if capture_prefixes:
        configs.append({"type": "data-capture", "prefixes": list(capture_prefixes), **aws})
    if not configs:
        raise click.UsageError("name at least one source: --openlineage, --marquez, --sagemaker or --data-capture")
    sources = [source_from_config(c) for c in configs]
    with GraphStore.open(_store_url(store_url)) as store:
        report = run_collect(store, sources, progress=not as_json, console=console)
        if as_json:
            click.echo(json.dumps(report.summary(), indent=2, default=str))
            return
        _print_report(report, store.counts())


def _print_report(report: object, counts: dict[str, int]) -> None:
    from rich.table import Table

    summary = report.summary()  # type: ignore[attr-defined]
    table = Table(title="crossline collect")
    for column in ("source", "scanned", "batches", "nodes", "edges", "warnings"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for name, row in summary["sources"].items():
        table.add_row(name, *(str(row[k]) for k in ("scanned", "batches", "nodes", "edges", "warnings")))
    console.print(table)
    rec = summary["reconcile"] or {}
    console.print(f"matched: {sum(rec.get('links', {}).values())} links {rec.get('links', {})}")
    console.print(f"unmatched: {rec.get('unmatched', {})}   warnings: {rec.get('warnings', 0)}")
    console.print(f"graph: {counts}")


@main.group()
def query() -> None:
    """Walk the collected graph."""


def _graph(store_url: str | None):  # type: ignore[no-untyped-def]
    from crossline.collectors.graph import Graph
    from crossline.collectors.store import GraphStore

    store = GraphStore.open(_store_url(store_url))
    return store, Graph(store)


def _as_of(value: str | None):  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _walk(direction: str, node: str, depth: int | None, kinds: tuple[str, ...], as_of: str | None, store_url: str | None) -> None:
    from crossline.collectors.model import NodeId, NodeKind

    store, graph = _graph(store_url)
    with store:
        walk = graph.ancestors if direction == "ancestors" else graph.descendants
        found = walk(NodeId(node), depth=depth, node_kinds={NodeKind(k) for k in kinds} or None, as_of=_as_of(as_of))
        for node_id in sorted(found):
            click.echo(node_id)


def _walk_command(direction: str):  # type: ignore[no-untyped-def]
    @query.command(direction, help=f"List the {direction} of NODE (flow edges; structural edges are not walked).")
    @click.argument("node")
    @click.option("--depth", type=int, default=None, help="At most this many edges away.")
    @click.option("--kind", "kinds", multiple=True, help="Only nodes of these kinds (e.g. model_package, dataset_version).")
    @click.option("--as-of", default=None, help="Only what was true at this ISO 8601 time.")
    @click.option("--store", "store_url", default=None, help=STORE_HELP)
    def command(node: str, depth: int | None, kinds: tuple[str, ...], as_of: str | None, store_url: str | None) -> None:
        _walk(direction, node, depth, kinds, as_of, store_url)

    return command


_walk_command("ancestors")
_walk_command("descendants")


@query.command("path")
@click.argument("source")
@click.argument("target")
@click.option("--as-of", default=None)
@click.option("--store", "store_url", default=None, help=STORE_HELP)
def query_path(source: str, target: str, as_of: str | None, store_url: str | None) -> None:
    """The shortest path from SOURCE to TARGET along the lineage."""
    from crossline.collectors.model import NodeId

    store, graph = _graph(store_url)
    with store:
        for node_id in graph.shortest_path(NodeId(source), NodeId(target), as_of=_as_of(as_of)):
            click.echo(node_id)


@query.command("neighbours")
@click.argument("node")
@click.option("--direction", type=click.Choice(["in", "out", "both"]), default="both")
@click.option("--as-of", default=None)
@click.option("--store", "store_url", default=None, help=STORE_HELP)
def query_neighbours(node: str, direction: str, as_of: str | None, store_url: str | None) -> None:
    """The nodes one edge away from NODE."""
    from crossline.collectors.model import NodeId

    store, graph = _graph(store_url)
    with store:
        for node_id in sorted(graph.neighbours(NodeId(node), direction=direction, as_of=_as_of(as_of))):
            click.echo(node_id)


@query.command("impact")
@click.argument("node")
@click.option("--as-of", default=None)
@click.option("--store", "store_url", default=None, help=STORE_HELP)
def query_impact(node: str, as_of: str | None, store_url: str | None) -> None:
    """Which model packages, endpoints and variants depend on a dataset (version)."""
    from crossline.collectors.model import NodeId

    store, graph = _graph(store_url)
    with store:
        impact = graph.impact(NodeId(node), as_of=_as_of(as_of))
        click.echo(json.dumps({kind.value: sorted(ids) for kind, ids in impact.items()}, indent=2))


@query.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--store", "store_url", default=None, help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
def query_diff(a: str, b: str, store_url: str | None, as_json: bool) -> None:
    """What changed between two training runs or model packages: params, metrics, data, code."""
    from crossline.collectors.diff import diff, render

    store, graph = _graph(store_url)
    with store:
        result = diff(graph, a, b)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    console.print(render(result))


@main.command()
@click.argument("inference", required=False)
@click.option("--endpoint", default=None, help="The endpoint that served it (when inference ids repeat).")
@click.option("--package", "package_arn", default=None, help="Trace a model package ARN instead of an inference.")
@click.option("--as-of", default=None, help="With --package: what was true at this time.")
@click.option("--store", "store_url", default=None, help=STORE_HELP)
@click.option("--out", type=click.Path(path_type=Path), default=Path("out/trace"), show_default=True,
              help="Folder for the JSON, Markdown and PDF.")
@click.option("--evidence/--no-evidence", default=False, help="Show each line's evidence in the tree.")
def trace(inference: str | None, endpoint: str | None, package_arn: str | None, as_of: str | None,
          store_url: str | None, out: Path, evidence: bool) -> None:
    """Answer the regulator: which model served INFERENCE, trained on what, approved by whom."""
    from crossline.collectors.report import to_tree, write_all
    from crossline.collectors.store import GraphStore
    from crossline.collectors.trace import trace_inference, trace_package

    if bool(inference) == bool(package_arn):
        raise click.UsageError("give an INFERENCE id or --package ARN (one of them)")
    with GraphStore.open(_store_url(store_url)) as store:
        result = trace_inference(store, inference, endpoint) if inference else trace_package(store, package_arn, _as_of(as_of))
    console.print(to_tree(result, evidence=evidence))
    stem = inference or package_arn.rsplit(":", 1)[-1].replace("/", "-")  # type: ignore[union-attr]
    for kind, path in write_all(result, out, stem).items():
        console.print(f"{kind}: {path}")
    for gap in result.gaps:
        console.print(f"[yellow]gap:[/] {gap}")


@main.command()
@click.option("--sagemaker", is_flag=True, help="Add the associations SageMaker lacks (boto3's configuration).")
@click.option("--marquez", "marquez_url", default=None, help="Send the SageMaker side to Marquez at this URL.")
@click.option("--namespace", default="sagemaker", show_default=True, help="OpenLineage job namespace of the Marquez runs.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--store", "store_url", default=None, help=STORE_HELP)
@click.option("--aws-endpoint", default=None, help="AWS endpoint URL (e.g. the bed's moto server).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def writeback(sagemaker: bool, marquez_url: str | None, namespace: str, dry_run: bool, store_url: str | None,
              aws_endpoint: str | None, as_json: bool) -> None:
    """Opt-in write-back: SageMaker gets the links it lacks, Marquez the SageMaker side."""
    from crossline.collectors.store import GraphStore
    from crossline.collectors.writeback import apply, emit_to_marquez, marquez_events, plan_writeback

    if not sagemaker and not marquez_url:
        raise click.UsageError("name a target: --sagemaker and/or --marquez URL")
    out: dict[str, object] = {}
    with GraphStore.open(_store_url(store_url)) as store:
        if sagemaker:
            import boto3

            client = boto3.client("sagemaker", endpoint_url=aws_endpoint)
            planned = plan_writeback(store, client)
            out["sagemaker"] = {"planned": [p.as_dict() for p in planned]}
            if not dry_run:
                out["sagemaker"]["applied"] = apply(planned, client).summary()  # type: ignore[index]
        if marquez_url:
            if dry_run:
                out["marquez"] = {"events": [e.job.name + " " + e.run.runId for e in marquez_events(store, namespace)]}
            else:
                from openlineage.client import OpenLineageClient
                from openlineage.client.transport.http import HttpConfig, HttpTransport

                lineage = OpenLineageClient(transport=HttpTransport(HttpConfig(url=marquez_url)))
                out["marquez"] = emit_to_marquez(store, lineage, namespace).summary()
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    for target, report in out.items():
        console.print(f"[bold]{target}[/]")
        console.print_json(json.dumps(report, default=str))
