"""``crossline explain`` and ``crossline unmatched``: why things are linked, and what links to nothing.

Contract:
- ``explain A B`` resolves both arguments (``crossline.collectors.resolve``: URIs, ARNs,
  ``group/version``, ``database.table``, names, ids) and prints the path between them
  with every edge's kind, direction, the sources that recorded it, the reconciliation
  rule that made it and its evidence (``crossline.collectors.explain``). Exit 0; 1
  (a finding) when nothing links them; 2 when an argument names nothing.
- ``unmatched [--kind K]`` lists what reconciliation matched to nothing on the other
  side, each with the keys that were tried (``crossline.collectors.reconcile.unmatched``),
  optionally only entities of node kind ``K``. Exit 0 (an unmatched entity is a fact
  about the inputs, not a failure); with ``--strict``, 1 when the list is not empty.
Both print text, or JSON with ``--json``.
"""

from __future__ import annotations

import click

from crossline.commands.graph import STORE_OPTION, open_graph
from crossline.commands.output import echo_json, out
from crossline.commands.query import AS_OF_OPTION, JSON_OPTION, KIND_CHOICE, moment
from crossline.errors import EXIT_FINDINGS


@click.command()
@click.argument("a")
@click.argument("b")
@AS_OF_OPTION
@STORE_OPTION
@JSON_OPTION
def explain(a: str, b: str, as_of: str | None, store_option: str | None, as_json: bool) -> None:
    """Why A and B are linked: the path, and each edge's rule and evidence."""
    from crossline.collectors.explain import explain as run_explain
    from crossline.collectors.explain import render
    from crossline.collectors.resolve import resolve

    with open_graph(store_option) as graph:
        result = run_explain(graph, resolve(graph, a), resolve(graph, b), moment(as_of))
    if as_json:
        echo_json(result.as_dict())
        return
    console = out()
    for line in render(result):
        console.print(line, markup=False)


@click.command()
@click.option("--kind", "kinds", multiple=True, type=KIND_CHOICE, help="Only entities of this node kind; repeatable.")
@click.option("--strict", is_flag=True, help="Exit 1 when anything is unmatched.")
@STORE_OPTION
@JSON_OPTION
def unmatched(kinds: tuple[str, ...], strict: bool, store_option: str | None, as_json: bool) -> None:
    """What matched nothing on the other side, with the keys that were tried."""
    from crossline.collectors.reconcile import unmatched as find_unmatched

    with open_graph(store_option) as graph:
        found = find_unmatched(graph, kinds=set(kinds) or None)
    if as_json:
        echo_json({"unmatched": [u.as_dict() for u in found], "count": len(found)})
    else:
        console = out()
        by_kind: dict[str, list] = {}
        for entry in found:
            by_kind.setdefault(entry.kind, []).append(entry)
        for kind, entries in sorted(by_kind.items()):
            console.print(f"{kind}: {len(entries)}", markup=False)
            for entry in entries:
                console.print(f"  {entry.id}" + (f" ({entry.name})" if entry.name and entry.name != entry.id else ""),
                              markup=False)
                for key in entry.tried:
                    console.print(f"    tried {key.rule}: {key.key} -> {key.looked_for}: {key.outcome}", markup=False)
        console.print(f"unmatched: {len(found)}", markup=False)
    if strict and found:
        raise SystemExit(EXIT_FINDINGS)
