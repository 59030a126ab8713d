"""The one read API of the graph: nodes, edges, steps, walks, paths and impact, as of a time.

Contract:
- ``Graph(store)`` reads a ``GraphStore``; ``Graph.open(url)`` opens (and migrates) the
  store itself and closes it with the graph (``with Graph.open(url) as graph:``). Only
  collection writes, through the store; everything that reads (trace, diff, impact,
  write-back, reconciliation, the CLI) reads here. It knows node ids and edge kinds,
  nothing of sources.
- Records: ``node`` (``NodeNotFound`` naming the id), ``has_node``, ``nodes`` (by kind
  and/or ids, in id order, page by page), ``find(name, kinds)`` (nodes whose name is
  exactly the text: an inference id, a package ``group/version``, a feature group; one
  indexed statement), ``node_ids_with_prefix``, ``prop_values``, ``spans`` (per value of
  a prop: count and time range), ``edges`` (by src, dst, kinds, in key order, page by
  page), ``edge_count`` and ``edges_by_time`` (one node's edges of a kind within a time
  window: how many, and one page of them in time order); ``counts``, ``dump``,
  ``watermarks`` and ``log`` (each source's collection log: the warnings of its written
  batches) of the whole store.
- ``step(ids, direction, edge_kinds, as_of)`` is one batched move: every edge leaving
  any of ``ids`` with the node at its other end, as ``Hop``s, in ONE statement.
  ``steps(ids, moves)`` chains several such moves in ONE statement, each leaving what
  the one before reached. ``edges_of`` and ``neighbours`` are one node's step. ``ancestors`` walks against the
  arrows, ``descendants`` along them, in the database as one recursive query; ``depth``
  counts edges; ``node_kinds`` filters what is returned, never what is walked through;
  the start is not in the answer. ``shortest_path`` is breadth first, one statement per
  level (``NoPath`` when none). Walks and paths cross ``SameAs`` both ways.
- ``as_of`` keeps only edges and nodes whose validity interval holds that instant:
  ``valid_from <= t < valid_to``, a missing bound being open. Naive instants are UTC.
- ``snapshot()``: the reads inside share one connection and one transaction, so a
  multi-step question (a trace) sees one state of the store and pays one BEGIN.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa

from crossline.collectors import queries, schema
from crossline.collectors.log import CollectWarning, Logged
from crossline.collectors.model import FLOW_EDGES, Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.schema import COLLECTION_LOG, EDGE_PK, EDGES, NODES, WATERMARKS, chunks, to_edge, to_node
from crossline.collectors.store import GraphStore
from crossline.errors import NodeNotFound, NoPath
from crossline.times import iso, stamp, utc

Direction = Literal["both", "in", "out"]

# What "depends on" a dataset for impact(): deployable things. The walk adds variant_of
# so a variant's endpoint is reached; nothing flows out of an endpoint, so it stops there.
IMPACT_KINDS = (NodeKind.MODEL_PACKAGE, NodeKind.ENDPOINT_VARIANT, NodeKind.ENDPOINT)
IMPACT_EDGES = FLOW_EDGES | {EdgeKind.VARIANT_OF}


class Hop(NamedTuple):
    """One edge of a step: the id it leaves from, the id it reaches, and that node (None if not stored)."""

    edge: Edge
    start: NodeId
    end: NodeId
    node: Node | None


def _kinds(kinds: Iterable[EdgeKind | NodeKind | str]) -> list[str]:
    return sorted({str(k) for k in kinds})


def _order(edge: Edge) -> tuple[str, str, str, str]:
    return (edge.src, edge.dst, edge.kind.value, edge.key[3])


class Graph:
    """Read-only questions over one ``GraphStore``; see the module docstring."""

    def __init__(self, store: GraphStore, *, owns_store: bool = False) -> None:
        self.store = store
        self._owns = owns_store
        self._conn: sa.Connection | None = None

    @classmethod
    def open(cls, url: str) -> Graph:
        """The graph of the store at ``url`` (migrated to head); closing the graph closes it."""
        return cls(GraphStore.open(url), owns_store=True)

    @classmethod
    def of(cls, graph_or_store: Graph | GraphStore) -> Graph:
        return graph_or_store if isinstance(graph_or_store, Graph) else cls(graph_or_store)

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns:
            self.store.close()

    def __repr__(self) -> str:
        return f"Graph({self.store.url!r})"

    @contextmanager
    def snapshot(self) -> Iterator[Graph]:
        if self._conn is not None:  # already inside one
            yield self
            return
        with self.store.engine.connect() as conn:
            self._conn = conn
            try:
                yield self
            finally:
                self._conn = None

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self.store.engine.connect() as conn:
            yield conn

    def _rows(self, query: sa.Executable, params: dict[str, Any] | None = None) -> list[Any]:
        with self._connect() as conn:
            return list(conn.execute(query, params or {}).all())

    # -- nodes ----------------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        """The node ``node_id``; raises ``NodeNotFound`` naming it when the store has none."""
        rows = self._rows(queries.node(), {"id": node_id})
        if not rows:
            raise NodeNotFound(f"no node {node_id!r} in the graph store")
        return to_node(rows[0])

    def has_node(self, node_id: str) -> bool:
        return bool(self._rows(sa.select(NODES.c.id).where(NODES.c.id == node_id)))

    def _require(self, ids: Collection[str]) -> None:
        found = {r.id for r in self._rows(sa.select(NODES.c.id).where(NODES.c.id.in_(list(ids))))}
        for node_id in ids:
            if node_id not in found:
                raise NodeNotFound(f"no node {node_id!r} in the graph store")

    def nodes(self, kind: NodeKind | str | None = None, ids: Iterable[str] | None = None) -> Iterator[Node]:
        """Nodes in id order, optionally of one kind and/or among ``ids`` (unknown ids are skipped).

        Reads page by page (keyset on id; ids in chunks), so a million nodes never sit
        in memory and, outside a snapshot, no connection stays open between pages.
        """
        where = [] if kind is None else [NODES.c.kind == str(kind)]
        if ids is not None:
            for chunk in chunks(sorted(set(ids))):
                query = sa.select(NODES).where(NODES.c.id.in_(list(chunk)), *where).order_by(NODES.c.id)
                yield from (to_node(r) for r in self._rows(query))
            return
        after: str | None = None
        while True:
            page = [*where] if after is None else [*where, NODES.c.id > after]
            rows = self._rows(sa.select(NODES).where(*page).order_by(NODES.c.id).limit(schema.CHUNK))
            yield from (to_node(r) for r in rows)
            if len(rows) < schema.CHUNK:
                return
            after = rows[-1].id

    def find(self, name: str, kinds: Iterable[NodeKind | str] | None = None) -> list[Node]:
        """Nodes (of ``kinds``, default any) whose name is exactly ``name``, in id order.

        One statement on the ``(kind, name)`` index: every kind is listed when none is
        given, so the index's leading column is always bound.
        """
        wanted = _kinds(kinds) if kinds is not None else _kinds(NodeKind)
        return [to_node(r) for r in self._rows(queries.named(), {"kinds": wanted, "name": name})]

    def node_ids_with_prefix(self, prefix: str, limit: int = 20) -> list[NodeId]:
        """Up to ``limit`` ids that start with ``prefix``, in id order: candidates for a partial id."""
        if limit < 1:
            return []
        where = queries.id_prefix(prefix, self.store.dialect)
        query = sa.select(NODES.c.id).where(where).order_by(NODES.c.id).limit(limit)
        return [NodeId(r.id) for r in self._rows(query)]

    def prop_values(self, kind: NodeKind | str, prop: str) -> set[str]:
        """The distinct values of one prop among the nodes of ``kind`` (a scan of that kind)."""
        value = NODES.c.props[prop].as_string()
        query = sa.select(value).where(NODES.c.kind == str(kind), value.is_not(None)).distinct()
        return {r[0] for r in self._rows(query)}

    def spans(self, kind: NodeKind | str, prop: str) -> list[tuple[str | None, int, datetime | None, datetime | None]]:
        """Per value of ``prop`` among the nodes of ``kind``: how many, the earliest and the latest ``valid_from``.

        One statement (a grouped scan of that kind), in value order: e.g. per endpoint,
        how many inferences were captured and over what time.
        """
        value = NODES.c.props[prop].as_string()
        query = (sa.select(value, sa.func.count(), sa.func.min(NODES.c.valid_from), sa.func.max(NODES.c.valid_from))
                 .where(NODES.c.kind == str(kind)).group_by(value))
        rows = [(r[0], int(r[1]), r[2], r[3]) for r in self._rows(query)]
        return sorted(rows, key=lambda r: (r[0] is None, r[0] or ""))

    # -- edges -----------------------------------------------------------------------------------
    def edges(
        self, src: str | None = None, dst: str | None = None, kinds: Iterable[EdgeKind | str] | None = None
    ) -> Iterator[Edge]:
        """Edges, optionally from ``src``, to ``dst`` and of ``kinds``, in key order, page by page."""
        where = []
        if src is not None:
            where.append(EDGES.c.src == src)
        if dst is not None:
            where.append(EDGES.c.dst == dst)
        if kinds is not None:
            where.append(EDGES.c.kind.in_(_kinds(kinds)))
        after: tuple[str, ...] | None = None
        while True:
            page = [*where] if after is None else [*where, sa.tuple_(*EDGE_PK) > sa.tuple_(*after)]
            rows = self._rows(sa.select(EDGES).where(*page).order_by(*EDGE_PK).limit(schema.CHUNK))
            yield from (to_edge(r) for r in rows)
            if len(rows) < schema.CHUNK:
                return
            after = (rows[-1].src, rows[-1].kind, rows[-1].dst, rows[-1].valid_key)

    def _timed(self, src: str, kind: EdgeKind, since: datetime | None, until: datetime | None) -> list[Any]:
        where = [EDGES.c.src == src, EDGES.c.kind == str(kind)]
        if since is not None:
            where.append(EDGES.c.valid_from >= utc(since))
        if until is not None:
            where.append(EDGES.c.valid_from < utc(until))
        return where

    def edge_count(self, src: str, kind: EdgeKind, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many ``kind`` edges leave ``src`` with ``since <= valid_from < until`` (a bound None is open). One statement."""
        query = sa.select(sa.func.count()).select_from(EDGES).where(*self._timed(src, kind, since, until))
        return int(self._rows(query)[0][0])

    def edges_by_time(
        self, src: str, kind: EdgeKind, since: datetime | None = None, until: datetime | None = None,
        *, limit: int | None = None, offset: int = 0,
    ) -> list[Edge]:
        """Those edges in (valid_from, dst) order, ``limit`` of them from ``offset``: one page, one statement."""
        query = (sa.select(EDGES).where(*self._timed(src, kind, since, until))
                 .order_by(EDGES.c.valid_from, EDGES.c.dst).offset(offset))
        if limit is not None:
            query = query.limit(limit)
        return [to_edge(r) for r in self._rows(query)]

    def step(
        self,
        ids: Iterable[str],
        direction: Direction = "both",
        edge_kinds: Iterable[EdgeKind | str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Hop]:
        """Every edge leaving any of ``ids`` (as src for ``out``, as dst for ``in``) with the node it reaches.

        One statement for up to ``CHUNK`` ids. Hops come sorted by start, then edge key;
        an edge between two of ``ids`` appears once from each end under ``both``.
        """
        if direction not in ("both", "in", "out"):
            raise ValueError(f"direction must be 'both', 'in' or 'out', not {direction!r}")
        starts = sorted(set(ids))
        kinds = _kinds(edge_kinds) if edge_kinds is not None else None
        if not starts or kinds == []:
            return []
        at = utc(as_of) if as_of is not None else None
        query = queries.step(direction, kinds is not None, at is not None)
        params: dict[str, Any] = {k: v for k, v in (("kinds", kinds), ("as_of", at)) if v is not None}
        hops = []
        for chunk in chunks(starts):
            for row in self._rows(query, {**params, "ids": list(chunk)}):
                edge = to_edge(row)
                start, end = (edge.src, edge.dst) if row.way == "out" else (edge.dst, edge.src)
                hops.append(Hop(edge, start, end, _far_node(row)))
        return sorted(hops, key=lambda h: (h.start, _order(h.edge)))

    def steps(
        self,
        ids: Iterable[str],
        moves: Sequence[tuple[Direction, Iterable[EdgeKind | str] | None]],
        as_of: datetime | None = None,
    ) -> list[list[Hop]]:
        """Several ``step``s one after another, in ONE statement: the first leaves ``ids``,
        each next one leaves every id the one before it reached. One list of hops per move.

        For a walk whose shape is known (the trace's way through SageMaker's lineage):
        each further move costs no round trip. More than ``CHUNK`` starts take one
        statement per chunk.
        """
        for direction, _ in moves:
            if direction not in ("both", "in", "out"):
                raise ValueError(f"direction must be 'both', 'in' or 'out', not {direction!r}")
        starts = sorted(set(ids))
        kinds = [_kinds(k) if k is not None else None for _, k in moves]
        if not starts or not moves or [] in kinds:
            return [[] for _ in moves]
        at = utc(as_of) if as_of is not None else None
        query = queries.chain(tuple((d, k is not None) for (d, _), k in zip(moves, kinds, strict=True)), at is not None)
        params: dict[str, Any] = {f"kinds_{i}": k for i, k in enumerate(kinds, 1) if k is not None}
        if at is not None:
            params["as_of"] = at
        found: list[dict[tuple[object, ...], Hop]] = [{} for _ in moves]
        for chunk in chunks(starts):
            for row in self._rows(query, {**params, "ids": list(chunk)}):
                edge = to_edge(row)
                start, end = (edge.src, edge.dst) if row.way == "out" else (edge.dst, edge.src)
                found[row.move - 1][(start, *edge.key)] = Hop(edge, start, end, _far_node(row))
        return [sorted(hops.values(), key=lambda h: (h.start, _order(h.edge))) for hops in found]

    def edges_of(
        self,
        node: str,
        *,
        direction: Direction = "both",
        edge_kinds: Iterable[EdgeKind] | None = None,
        as_of: datetime | None = None,
    ) -> list[Edge]:
        """The stored edges into (``in``), out of (``out``) or touching ``node``, sorted by key."""
        if direction not in ("both", "in", "out"):
            raise ValueError(f"direction must be 'both', 'in' or 'out', not {direction!r}")
        with self.snapshot():
            self._require([node])
            edges = {h.edge.key: h.edge for h in self.step([node], direction, edge_kinds, as_of)}
        return sorted(edges.values(), key=_order)

    def neighbours(
        self,
        node: str,
        *,
        direction: Direction = "both",
        edge_kinds: Iterable[EdgeKind] | None = None,
        as_of: datetime | None = None,
    ) -> set[NodeId]:
        """Ids one edge away from ``node`` (see ``edges_of``)."""
        with self.snapshot():
            self._require([node])
            return {h.end for h in self.step([node], direction, edge_kinds, as_of)}

    # -- walks and paths ------------------------------------------------------------------------
    def ancestors(
        self, node: str, *, depth: int | None = None, node_kinds: Iterable[NodeKind] | None = None,
        edge_kinds: Iterable[EdgeKind] = FLOW_EDGES, as_of: datetime | None = None,
    ) -> set[NodeId]:
        """Nodes from which ``node`` can be reached in at most ``depth`` edges (all when None)."""
        return self._walk([node], True, depth, node_kinds, edge_kinds, as_of)

    def descendants(
        self, node: str, *, depth: int | None = None, node_kinds: Iterable[NodeKind] | None = None,
        edge_kinds: Iterable[EdgeKind] = FLOW_EDGES, as_of: datetime | None = None,
    ) -> set[NodeId]:
        """Nodes reachable from ``node`` in at most ``depth`` edges (all when None)."""
        return self._walk([node], False, depth, node_kinds, edge_kinds, as_of)

    def _walk(
        self, starts: Sequence[str], upstream: bool, depth: int | None, node_kinds: Iterable[NodeKind] | None,
        edge_kinds: Iterable[EdgeKind], as_of: datetime | None,
    ) -> set[NodeId]:
        if depth is not None and depth < 0:
            raise ValueError(f"depth must be >= 0 or None, not {depth}")
        kinds = _kinds(edge_kinds)
        at = utc(as_of) if as_of is not None else None
        with self.snapshot():
            self._require(starts)
            if not kinds or depth == 0:
                return set()
            wanted = list(node_kinds) if node_kinds is not None else None
            found = {NodeId(r[0]) for r in self._rows(queries.walk(starts, upstream, depth, kinds, wanted, at))}
        return found - set(starts)

    def shortest_path(
        self, a: str, b: str, *, edge_kinds: Iterable[EdgeKind] = FLOW_EDGES, as_of: datetime | None = None,
        directed: bool = True,
    ) -> list[NodeId]:
        """The fewest-edges path ``[a, ..., b]``, along the arrows unless ``directed=False``.

        Breadth first, one statement per level; among equally short paths the one through
        the smallest ids wins, so the answer does not depend on the backend. Raises ``NoPath``.
        """
        kinds = _kinds(edge_kinds)
        back = kinds if not directed else [k for k in kinds if k == EdgeKind.SAME_AS.value]
        at = utc(as_of) if as_of is not None else None
        with self.snapshot():
            self._require([a, b])
            if a == b:
                return [NodeId(a)]
            parent: dict[str, str] = {a: a}
            frontier = [a]
            while frontier and kinds and b not in parent:
                found: set[tuple[str, str]] = set()
                for chunk in chunks(sorted(frontier)):
                    found.update((r.here, r.there) for r in self._rows(queries.pairs(chunk, kinds, at, back)))
                frontier = []
                for here, there in sorted(found):
                    if there not in parent:
                        parent[there] = here
                        frontier.append(there)
        if b not in parent:
            how = "along" if directed else "over"
            when = f" as of {iso(at)}" if at else ""
            raise NoPath(f"no path from {a!r} to {b!r} {how} edges {', '.join(kinds) or '(none)'}{when}")
        path = [b]
        while path[-1] != a:
            path.append(parent[path[-1]])
        return [NodeId(n) for n in reversed(path)]

    def impact(self, node: str, *, as_of: datetime | None = None) -> dict[NodeKind, set[NodeId]]:
        """Which model packages, endpoint variants and endpoints depend on ``node``.

        A dataset counts with all its versions (the ``version_of`` edges into it), since
        runs read versions. Every kind of ``IMPACT_KINDS`` is a key, maybe of an empty set.
        """
        with self.snapshot():
            versions = self.neighbours(node, direction="in", edge_kinds=[EdgeKind.VERSION_OF], as_of=as_of)
            found = self._walk([node, *sorted(versions)], False, None, IMPACT_KINDS, IMPACT_EDGES, as_of)
            impact: dict[NodeKind, set[NodeId]] = {kind: set() for kind in IMPACT_KINDS}
            for n in self.nodes(ids=found):
                impact[n.kind].add(n.id)
        return impact

    # -- the whole store ------------------------------------------------------------------------
    def log(self, source: str | None = None, *, kinds: Iterable[str] | None = None,
            limit: int | None = None) -> list[Logged]:
        """The collection log (of ``source``, of ``kinds``), oldest first; with ``limit``, the newest that many."""
        table = COLLECTION_LOG
        query = sa.select(table)
        if source is not None:
            query = query.where(table.c.source == source)
        if kinds is not None:
            query = query.where(table.c.kind.in_(sorted(set(kinds))))
        query = query.order_by(table.c.seq.desc())
        if limit is not None:
            query = query.limit(max(limit, 0))
        rows = self._rows(query)
        return [Logged(r.seq, r.logged_at, r.watermark, CollectWarning(r.source, r.location, r.reason, r.kind))
                for r in reversed(rows)]

    def watermarks(self) -> dict[str, str | None]:
        """Per source, the watermark its last written batch reached."""
        return {r.source: r.value for r in self._rows(sa.select(WATERMARKS.c.source, WATERMARKS.c.value))}

    def counts(self) -> dict[str, int]:
        """Records per node kind and per edge kind (the kinds' values, which never collide);
        every known kind is present, with 0 when the store has none."""
        counts = {str(k): 0 for k in NodeKind} | {str(k): 0 for k in EdgeKind}
        for table in (NODES, EDGES):
            query = sa.select(table.c.kind, sa.func.count()).group_by(table.c.kind)
            counts.update({kind: n for kind, n in self._rows(query)})
        return counts

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """The whole graph, canonical: JSON-ready, sorted, without first/last-seen bookkeeping.

        Two collections that produced the same graph dump equal, whatever the backend and
        whatever the order (and duplication) in which their records arrived: each record
        with its per-prop fact times and what was derived from the whole set of facts.
        """
        nodes = [
            {"id": n.id, "kind": str(n.kind), "name": n.name, "sources": n.source.split(","), "props": n.props,
             "valid_from": stamp(n.valid_from), "valid_to": stamp(n.valid_to), "times": dict(sorted(n.times.items())),
             "derived": n.derived}
            for n in self.nodes()
        ]
        edges = [
            {"src": e.src, "dst": e.dst, "kind": str(e.kind), "sources": e.source.split(","), "props": e.props,
             "valid_from": stamp(e.valid_from), "valid_to": stamp(e.valid_to), "times": dict(sorted(e.times.items())),
             "derived": e.derived}
            for e in self.edges()
        ]
        # Sorted here, not by the database: collations differ between backends.
        nodes.sort(key=lambda n: n["id"])
        edges.sort(key=lambda e: (e["src"], e["dst"], e["kind"], e["valid_from"] or ""))
        return {"nodes": nodes, "edges": edges}


def _far_node(row: Any) -> Node | None:
    p = queries.NODE_PREFIX
    if getattr(row, f"{p}id") is None:
        return None
    return Node(
        id=NodeId(getattr(row, f"{p}id")), kind=NodeKind(getattr(row, f"{p}kind")), name=getattr(row, f"{p}name"),
        source=",".join(getattr(row, f"{p}sources")), props=dict(getattr(row, f"{p}props")),
        valid_from=getattr(row, f"{p}valid_from"), valid_to=getattr(row, f"{p}valid_to"),
        times=dict(getattr(row, f"{p}times") or {}), derived=dict(getattr(row, f"{p}derived") or {}),
    )


__all__ = ["IMPACT_EDGES", "IMPACT_KINDS", "Direction", "Graph", "Hop"]
