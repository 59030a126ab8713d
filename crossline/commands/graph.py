"""Opening the graph for a command: the one store setting, the one door.

Contract: ``open_graph(store_option)`` opens the graph store named by
``crossline.settings.store`` (the ``--store`` option, else the environment, a config
file, the default) and returns a ``Graph`` usable as a context manager; ``open_store``
does the same for commands that write (``collect``). ``STORE_OPTION`` is the one
``--store`` option every command shares.
"""

from __future__ import annotations

from typing import Any

import click

from crossline import settings

STORE_HELP = (
    "Graph store: a SQLite file path, sqlite:///path.db or postgresql://user@host/db. Default: "
    "CROSSLINE_STORE_URL, else 'store' in the nearest crossline.toml or [tool.crossline] of "
    "pyproject.toml, else $CROSSLINE_HOME/config.toml, else $CROSSLINE_HOME/graph.db "
    "('crossline config' shows which)."
)
STORE_OPTION = click.option("--store", "store_option", default=None, metavar="URL|PATH", help=STORE_HELP)


def open_store(store_option: str | None) -> Any:
    from crossline.collectors.store import GraphStore

    return GraphStore.open(settings.store(store_option).value)


def open_graph(store_option: str | None) -> Any:
    from crossline.collectors.graph import Graph

    return Graph.open(settings.store(store_option).value)
