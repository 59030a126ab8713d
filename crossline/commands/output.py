"""How the ``crossline`` command writes: consoles, JSON, warnings.

Contract:
- ``out()`` is the console for answers (stdout), ``err()`` for progress, warnings and
  errors (stderr). On a terminal they wrap and colour as rich does; when not a terminal
  (a pipe, a file, CI) nothing is hard-wrapped and nothing is coloured, so lines stay
  whole for ``grep`` and diffs.
- ``progress_wanted(as_json)``: progress bars only on a terminal, and never with ``--json``.
- ``echo_json(value)``: one JSON document on stdout, sorted keys, datetimes as ISO text.
- ``print_warnings(warnings, limit)``: each warning on its own line on stderr, ``where:
  why``, at most ``limit`` (then how many more and where to see them all);
  ``print_warning_table`` the same for structured warnings (source, kind, where, why).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console

# When not a terminal: wide enough that no line a command prints is ever wrapped.
_UNWRAPPED = 100_000


def _console(stream: TextIO, *, stderr: bool) -> Console:
    terminal = stream.isatty()
    return Console(
        stderr=stderr,
        soft_wrap=not terminal,
        highlight=False,
        width=None if terminal else _UNWRAPPED,
        no_color=not terminal,
    )


def out() -> Console:
    return _console(sys.stdout, stderr=False)


def err() -> Console:
    return _console(sys.stderr, stderr=True)


def progress_wanted(as_json: bool = False) -> bool:
    return sys.stderr.isatty() and not as_json


def _default(value: Any) -> Any:
    from datetime import datetime

    from crossline.times import iso

    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def echo_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=_default) + "\n")


def print_warning_table(warnings: Sequence[Any], limit: int = 20, *, more: str = "--json") -> None:
    """Structured warnings (``CollectWarning``) as a table on stderr: source, kind, where, why."""
    if not warnings:
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(warnings)} warning(s)", title_justify="left")
    for column in ("source", "kind", "where", "why"):
        table.add_column(column, overflow="fold")
    for warning in warnings[:limit]:
        table.add_row(*(escape(str(getattr(warning, c))) for c in ("source", "kind", "where", "why")))
    console = err()
    console.print(table)
    if len(warnings) > limit:
        console.print(f"[yellow]warning:[/] ... and {len(warnings) - limit} more ({more} lists them all)")


def print_warnings(warnings: Sequence[str], limit: int = 20, *, more: str = "--json") -> None:
    if not warnings:
        return
    from rich.markup import escape

    console = err()
    for warning in warnings[:limit]:
        console.print(f"[yellow]warning:[/] {escape(str(warning))}")
    if len(warnings) > limit:
        console.print(f"[yellow]warning:[/] ... and {len(warnings) - limit} more ({more} lists them all)")
