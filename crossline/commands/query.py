"""``crossline query``: walk the collected graph from what the user names.

Contract: every NODE argument is resolved by ``crossline.collectors.resolve`` (an S3 URI,
an ARN, ``group/version``, ``feature-group@version``, ``database.table``, a commit, an
inference id, or a node id); an unknown or ambiguous one is a usage error (exit 2) that
names what was tried or the candidates. Answers are node ids, one per line, or JSON with
``--json``. ``--as-of`` takes an ISO 8601 time (no zone means UTC). No path between two
nodes is a finding (exit 1).
"""

from __future__ import annotations

from datetime import datetime

import click

from crossline.collectors.model import NodeKind
from crossline.commands.graph import STORE_OPTION, open_graph
from crossline.commands.output import echo_json, out
from crossline.times import iso

KIND_CHOICE = click.Choice(sorted(k.value for k in NodeKind))
AS_OF_OPTION = click.option("--as-of", default=None, metavar="TIME",
                            help="Only what was true at this ISO 8601 time (no zone means UTC).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")


def moment(value: str | None) -> datetime | None:
    from crossline.times import parse_user

    return parse_user(value, "--as-of") if value else None


def _print_ids(ids: list[str], as_json: bool, key: str = "nodes") -> None:
    if as_json:
        echo_json({key: ids})
        return
    console = out()
    for node_id in ids:
        console.print(node_id, markup=False)


@click.group()
def query() -> None:
    """Walk the collected graph: ancestors, descendants, paths, neighbours, impact, diff."""


def _walk_command(direction: str) -> None:
    @query.command(direction, help=f"List the {direction} of NODE along the lineage (flow edges; "
                                   "structural edges such as run-of and version-of are not walked).")
    @click.argument("node")
    @click.option("--depth", type=click.IntRange(min=0), default=None, help="At most this many edges away.")
    @click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only nodes of this kind; repeatable.")
    @AS_OF_OPTION
    @STORE_OPTION
    @JSON_OPTION
    def command(node: str, depth: int | None, kinds: tuple[str, ...], as_of: str | None,
                store_option: str | None, as_json: bool) -> None:
        from crossline.collectors.resolve import resolve

        with open_graph(store_option) as graph:
            start = resolve(graph, node)
            walk = graph.ancestors if direction == "ancestors" else graph.descendants
            found = walk(start, depth=depth, node_kinds={NodeKind(k) for k in kinds} or None, as_of=moment(as_of))
        _print_ids(sorted(found), as_json)


_walk_command("ancestors")
_walk_command("descendants")


@query.command("path")
@click.argument("source")
@click.argument("target")
@click.option("--undirected", is_flag=True, help="Cross edges against their direction too.")
@AS_OF_OPTION
@STORE_OPTION
@JSON_OPTION
def path(source: str, target: str, undirected: bool, as_of: str | None, store_option: str | None, as_json: bool) -> None:
    """The shortest path from SOURCE to TARGET along the lineage; exit 1 when there is none."""
    from crossline.collectors.resolve import resolve

    with open_graph(store_option) as graph:
        steps = graph.shortest_path(resolve(graph, source), resolve(graph, target), as_of=moment(as_of),
                                    directed=not undirected)
    _print_ids(list(steps), as_json, "path")


@query.command("neighbours")
@click.argument("node")
@click.option("--direction", type=click.Choice(["in", "out", "both"]), default="both", show_default=True)
@AS_OF_OPTION
@STORE_OPTION
@JSON_OPTION
def neighbours(node: str, direction: str, as_of: str | None, store_option: str | None, as_json: bool) -> None:
    """The nodes one edge away from NODE."""
    from crossline.collectors.resolve import resolve

    with open_graph(store_option) as graph:
        found = graph.neighbours(resolve(graph, node), direction=direction, as_of=moment(as_of))
    _print_ids(sorted(found), as_json)


@query.command("impact")
@click.argument("node")
@AS_OF_OPTION
@click.option("--between", nargs=2, default=None, metavar="FROM TO",
              help="Only deployments and inferences in [FROM, TO) (ISO 8601; no zone means UTC).")
@click.option("--inferences", "list_inferences", is_flag=True, help="List the captured inferences served, one page.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Inferences per page.")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Inferences to skip.")
@STORE_OPTION
@JSON_OPTION
def impact(node: str, as_of: str | None, between: tuple[str, str] | None, list_inferences: bool, limit: int,
           offset: int, store_option: str | None, as_json: bool) -> None:
    """Which model packages used NODE, where and when each was deployed (or never), and the inferences each served.

    NODE is a dataset, a dataset version (uri@version), a feature group or feature-group@version,
    or a code commit. --as-of T: the history up to T; --between T1 T2: what overlaps that window.
    """
    from crossline.collectors.impact import impact as find_impact
    from crossline.collectors.resolve import resolve
    from crossline.times import parse_user

    if as_of and between:
        raise click.UsageError("--as-of and --between are two different windows: give one")
    window = (parse_user(between[0], "--between FROM"), parse_user(between[1], "--between TO")) if between else None
    if window and window[0] >= window[1]:
        raise click.UsageError(f"--between: {between[0]} is not before {between[1]}")
    with open_graph(store_option) as graph:
        found = find_impact(graph, resolve(graph, node), as_of=moment(as_of), between=window,
                            inferences=list_inferences, limit=limit, offset=offset)
    if as_json:
        echo_json(found.as_dict())
        return
    console = out()
    window_text = (f"as of {found.window['asOf']}" if found.window["asOf"] else
                   f"from {found.window['from']} to {found.window['to']}" if found.window["from"] else "all time")
    deployed = [p for p in found.packages if p.deployments]
    console.print(f"Impact of {found.subject} ({window_text}): {len(found.packages)} model package(s), "
                  f"{len(deployed)} deployed, {len(found.packages) - len(deployed)} never deployed; "
                  f"{found.inferences} captured inference(s) served", markup=False)
    for package in found.packages:
        console.print(f"{package.name}  {package.arn}", markup=False)
        if not package.deployments:
            console.print("  never deployed" + ("" if window_text == "all time" else f" ({window_text})"), markup=False)
        for d in package.deployments:
            console.print(f"  {d.endpoint} / {d.variant}  {iso(d.start)} -> {iso(d.end) or 'still serving'}  "
                          f"{d.inferences} inference(s)", markup=False)
    if found.page is not None:
        page = found.page
        last = page["offset"] + len(page["items"])
        console.print(f"Inferences {page['offset'] + 1 if page['items'] else page['offset']}-{last} of {page['total']}"
                      + (f" (next: --offset {last})" if last < page["total"] else ""), markup=False)
        for item in page["items"]:
            console.print(f"  {item['inference']}  {item['time']}  {item['package']}  "
                          f"{item['endpoint']}/{item['variant']}", markup=False)


@query.command("diff")
@click.argument("a")
@click.argument("b")
@STORE_OPTION
@JSON_OPTION
def diff(a: str, b: str, store_option: str | None, as_json: bool) -> None:
    """What changed between two training runs or model packages: params, metrics, data, code."""
    from crossline.collectors.diff import diff as run_diff
    from crossline.collectors.diff import render
    from crossline.collectors.resolve import resolve

    with open_graph(store_option) as graph:
        result = run_diff(graph, resolve(graph, a), resolve(graph, b))
    if as_json:
        echo_json(result.as_dict())
        return
    out().print(render(result))
