"""The door of the graph: what an event or a record must be before anything of it is stored.

Contract:
- ``admit_event(event)`` -> ``(event, problems)``: an OpenLineage event fit to convert,
  and what was dropped from it (``validation.check_event``: invalid facets and
  datasets). It raises ``HostileInput`` when the event holds anything no store keeps
  alike (``jsonsafe.refusal``), and ``InvalidEvent`` when it is not a RunEvent at its core.
  The converter calls it first, so every source of events (files, Marquez, and any other
  that converts with ``records_from_event``) is checked the same way.
- ``record_refusal(record)``: why a ``Node`` or ``Edge`` cannot be stored, or None: an
  id, endpoint or name longer than ``MAX_ID_BYTES`` UTF-8 bytes (PostgreSQL indexes
  them, and an index entry holds at most about 2.7 kB) or not storable text, or props
  ``jsonsafe.refusal`` refuses. ``guard(nodes, edges, source)`` keeps the records that
  may be stored and makes a ``CollectWarning`` for each one refused: the collector runs
  every batch of every source through it before writing, the last line of defence for
  sources that read records (SageMaker, third parties); for a source that checks its
  records itself (``Source.checks_records``), only ids and names (``props=False``).
- ``RunJobs``: which job each run id belongs to, as this collection has read it and as
  the store holds it (``lookup``, one query for many ids, asked once per id). ``claim``
  says which other job a run already belongs to, else records the pair; ``prefetch``
  asks the store for many ids at once. A run id is its job's for good: the first event
  that names it (in the store, or read first) decides, and a later event that names it
  with another job is refused as a conflict, so no run is ever attached to two jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crossline.collectors import jsonsafe
from crossline.collectors.log import CollectWarning
from crossline.collectors.model import Edge, Node, NodeId
from crossline.collectors.validation import check_event
from crossline.errors import HostileInput

MAX_ID_BYTES = 1024
"""A node id, an edge's ends, a node's name: at most this many UTF-8 bytes."""


def admit_event(event: Any) -> tuple[Any, list[str]]:
    """The event fit to convert and what was dropped from it; ``HostileInput``/``InvalidEvent`` if refused."""
    why = jsonsafe.refusal(event)
    if why is not None:
        raise HostileInput(f"the event {why}")
    return check_event(event)


def _text_refusal(text: Any, what: str) -> str | None:
    if not isinstance(text, str):
        return f"its {what} is not text but {type(text).__name__}"
    if text.isascii() and len(text) <= MAX_ID_BYTES and "\x00" not in text:
        return None  # the common case, without encoding
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return f"its {what} holds a lone surrogate, which is not Unicode text"
    if size > MAX_ID_BYTES:
        return f"its {what} is {size:,} bytes long, over the {MAX_ID_BYTES:,} a store can index"
    if "\x00" in text:
        return f"its {what} holds a NUL character, which PostgreSQL cannot store"
    return None


def record_refusal(record: Node | Edge, *, props: bool = True) -> str | None:
    """Why ``record`` cannot be stored, or None (see the module docstring).

    ``props=False`` checks its ids and name alone: for records made from an event the
    door admitted, whose props come from that event.
    """
    if isinstance(record, Node):
        texts: tuple[tuple[Any, str], ...] = ((record.id, "id"), (record.name, "name"))
    else:
        texts = ((record.src, "source node id"), (record.dst, "destination node id"))
    for text, what in texts:
        why = _text_refusal(text, what)
        if why is not None:
            return why
    why = jsonsafe.refusal(record.props) if props else None
    return None if why is None else f"its props {why}"


def guard(nodes: Iterable[Node], edges: Iterable[Edge], source: str, *,
          props: bool = True) -> tuple[list[Node], list[Edge], list[CollectWarning]]:
    """The records that may be stored, and a warning for each one refused (``props=False``: ids only)."""
    kept_nodes, kept_edges, warnings = [], [], []
    for record in nodes:
        why = record_refusal(record, props=props)
        if why is None:
            kept_nodes.append(record)
        else:
            warnings.append(CollectWarning(source, _where(record), f"{record.kind} record refused: {why}", "hostile"))
    for record in edges:
        why = record_refusal(record, props=props)
        if why is None:
            kept_edges.append(record)
        else:
            warnings.append(CollectWarning(source, _where(record), f"{record.kind} edge refused: {why}", "hostile"))
    return kept_nodes, kept_edges, warnings


def _where(record: Node | Edge) -> str:
    """Where a record came from: the API call or file its props name, else its id."""
    props = record.props if isinstance(record.props, Mapping) else {}
    place = props.get("api") or props.get("captureFile")
    ident = record.id if isinstance(record, Node) else f"{record.src} -> {record.dst}"
    shown = f"{str(ident)[:200]}..." if len(str(ident)) > 200 else str(ident)
    return f"{place} ({shown})" if isinstance(place, str) else shown


Lookup = Callable[[list[NodeId]], Mapping[NodeId, NodeId]]


class RunJobs:
    """Run id -> the job it belongs to: read in this collection, or held by the store."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self._lookup = lookup
        self._jobs: dict[NodeId, NodeId | None] = {}

    def prefetch(self, runs: Iterable[NodeId]) -> None:
        """Ask the store, in one go, for the runs not known yet."""
        unknown = sorted({r for r in runs if r not in self._jobs})
        if not unknown:
            return
        found = self._lookup(unknown) if self._lookup is not None else {}
        for run in unknown:
            self._jobs[run] = found.get(run)

    def owner(self, run: NodeId) -> NodeId | None:
        if run not in self._jobs:
            self.prefetch([run])
        return self._jobs.get(run)

    def conflict(self, run: NodeId, job: NodeId) -> NodeId | None:
        """The other job ``run`` belongs to, or None if it is ``job``'s or no one's yet."""
        owner = self.owner(run)
        return owner if owner is not None and owner != job else None

    def claim(self, run: NodeId, job: NodeId) -> None:
        if self.owner(run) is None:
            self._jobs[run] = job


__all__ = ["MAX_ID_BYTES", "RunJobs", "admit_event", "guard", "record_refusal"]
