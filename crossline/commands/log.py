"""``crossline log``: each source's collection log, the warnings the store kept.

Contract: the warnings ``crossline collect`` wrote with its batches (``Graph.log``),
oldest first: the newest ``--limit`` (default 50; 0 for all), of one ``--source`` and of
some ``--kind`` (repeatable: unreadable, hostile, invalid-event, invalid-part, conflict,
unusable, unavailable, note). Each is its place in the log, when it was written, the
source, the kind, where (file and line, or the API call) and why; ``--json`` prints them
as a list of objects with those keys and the watermark their batch reached. Exit 0,
whatever the log holds.
"""

from __future__ import annotations

import click

from crossline.commands.graph import STORE_OPTION, open_graph
from crossline.commands.output import echo_json, out


@click.command("log")
@STORE_OPTION
@click.option("--source", default=None, help="Only this source's log (e.g. openlineage-file, sagemaker).")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Only warnings of this kind; repeatable.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0),
              help="The newest this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the log as JSON.")
def log(store_option: str | None, source: str | None, kinds: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Show the collection log: what each source warned about, where and why."""
    from crossline.collectors.log import KINDS

    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}; known: {', '.join(KINDS)}", param_hint="--kind")
    with open_graph(store_option) as graph:
        entries = graph.log(source, kinds=kinds or None, limit=limit or None)
    if as_json:
        echo_json([e.as_dict() for e in entries])
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"collection log: {len(entries)} warning(s)", title_justify="left")
    for column in ("#", "at", "source", "kind", "where", "why"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        w = entry.warning
        table.add_row(str(entry.seq), entry.at.strftime("%Y-%m-%d %H:%M:%S"), *(escape(v) for v in (
            w.source, w.kind, w.where, w.why)))
    out().print(table)
