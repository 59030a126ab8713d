"""Queries over the graph store: walks, neighbours, shortest paths and impact, as of a time.

Contract:
- ``Graph(store)`` wraps a ``GraphStore``; it knows node ids and edge kinds, nothing of
  sources. Every verb returns ids (``set[NodeId]``, or a path as ``list[NodeId]``) except
  ``edges_of``, which returns the ``Edge`` records whose props (rule, evidence) reports cite.
- An unknown node id raises ``NodeNotFound``; no path raises ``NoPath``.
- ``ancestors`` walks against the arrows, ``descendants`` along them; ``depth`` counts
  edges; ``node_kinds`` filters what is returned, never what is walked through; the
  start node is not in the answer. The walk runs in the database as one recursive query.
- ``as_of`` keeps only edges and nodes whose validity interval holds that instant:
  ``valid_from <= t < valid_to``, a missing bound being open. Naive instants are UTC.
- ``SameAs`` says two records are one thing, so walks and paths cross it both ways
  whichever way reconciliation wrote it. ``neighbours`` and ``edges_of`` report edges as
  stored, with their direction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from crossline.collectors.model import FLOW_EDGES, Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.store import EDGES, NODES, GraphStore, _chunks, _to_edge
from crossline.errors import NodeNotFound, NoPath
from crossline.times import iso, utc

Direction = Literal["both", "in", "out"]

# What "depends on" a dataset for impact(): deployable things. The walk adds variant_of
# so a variant's endpoint is reached; nothing flows out of an endpoint, so it stops there.
IMPACT_KINDS = (NodeKind.MODEL_PACKAGE, NodeKind.ENDPOINT_VARIANT, NodeKind.ENDPOINT)
IMPACT_EDGES = FLOW_EDGES | {EdgeKind.VARIANT_OF}


def _valid(table: sa.Table | sa.Alias, as_of: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.or_(table.c.valid_from.is_(None), table.c.valid_from <= as_of),
        sa.or_(table.c.valid_to.is_(None), table.c.valid_to > as_of),
    )


def _node_valid(node_id: sa.ColumnElement[str], as_of: datetime) -> sa.ColumnElement[bool]:
    """No stored node of that id is out of its interval (an id without a node row passes)."""
    n = NODES.alias("n_valid")
    return ~sa.exists().where(n.c.id == node_id, ~_valid(n, as_of))


def _kinds(kinds: Iterable[EdgeKind | NodeKind | str]) -> list[str]:
    return sorted({str(k) for k in kinds})


class Graph:
    """Read-only queries over one ``GraphStore``; see the module docstring."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str) -> Graph:
        """The graph in the store at ``url`` (opened, migrated); close it, or use ``with``."""
        return cls(GraphStore.open(url))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def node(self, node_id: str) -> Node:
        return self.store.node(node_id)

    def nodes(self, kind: NodeKind | str | None = None, ids: Iterable[str] | None = None) -> Iterator[Node]:
        """Nodes in id order, of one kind and/or among ``ids`` (unknown ids skipped), page by page."""
        return self.store.nodes(kind=kind, ids=ids)

    def find(self, *, name: str, kinds: Iterable[NodeKind] | None = None) -> list[Node]:
        """The nodes whose name is exactly ``name`` (of ``kinds``), by id."""
        where = [NODES.c.name == name]
        if kinds is not None:
            where.append(NODES.c.kind.in_(_kinds(kinds)))
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(NODES.c.id).where(*where).order_by(NODES.c.id)).scalars().all()
        return list(self.store.nodes(ids=rows)) if rows else []

    def _require(self, conn: sa.Connection, ids: Collection[str]) -> None:
        found = set(conn.execute(sa.select(NODES.c.id).where(NODES.c.id.in_(list(ids)))).scalars())
        for node_id in ids:
            if node_id not in found:
                raise NodeNotFound(f"no node {node_id!r} in the graph store")

    # -- walks ----------------------------------------------------------------------------------
    def ancestors(
        self,
        node: str,
        *,
        depth: int | None = None,
        node_kinds: Iterable[NodeKind] | None = None,
        edge_kinds: Iterable[EdgeKind] = FLOW_EDGES,
        as_of: datetime | None = None,
    ) -> set[NodeId]:
        """Nodes from which ``node`` can be reached in at most ``depth`` edges (all when None)."""
        return self._walk([node], upstream=True, depth=depth, node_kinds=node_kinds, edge_kinds=edge_kinds, as_of=as_of)

    def descendants(
        self,
        node: str,
        *,
        depth: int | None = None,
        node_kinds: Iterable[NodeKind] | None = None,
        edge_kinds: Iterable[EdgeKind] = FLOW_EDGES,
        as_of: datetime | None = None,
    ) -> set[NodeId]:
        """Nodes reachable from ``node`` in at most ``depth`` edges (all when None)."""
        return self._walk([node], upstream=False, depth=depth, node_kinds=node_kinds, edge_kinds=edge_kinds, as_of=as_of)

    def _walk(
        self,
        starts: Sequence[str],
        *,
        upstream: bool,
        depth: int | None,
        node_kinds: Iterable[NodeKind] | None,
        edge_kinds: Iterable[EdgeKind],
        as_of: datetime | None,
    ) -> set[NodeId]:
        if depth is not None and depth < 0:
            raise ValueError(f"depth must be >= 0 or None, not {depth}")
        kinds = _kinds(edge_kinds)
        as_of = utc(as_of) if as_of is not None else None
        with self.store.engine.connect() as conn:
            self._require(conn, starts)
            if not kinds or depth == 0:
                return set()
            query = self._walk_query(starts, upstream, depth, kinds, node_kinds, as_of)
            found = {NodeId(i) for i in conn.execute(query).scalars()}
        return found - set(starts)

    @staticmethod
    def _walk_query(
        starts: Sequence[str],
        upstream: bool,
        depth: int | None,
        kinds: list[str],
        node_kinds: Iterable[NodeKind] | None,
        as_of: datetime | None,
    ) -> sa.Select[tuple[str]]:
        """WITH RECURSIVE walk: the seeds, then one edge further per step.

        UNION (not UNION ALL) drops rows already found, which ends the walk on cycles.
        Without a depth bound the rows are bare ids, so each node is expanded once; with
        one, rows are (id, depth) and the bound ends the walk.
        """
        e = EDGES.alias("e")
        near, far = (e.c.dst, e.c.src) if upstream else (e.c.src, e.c.dst)
        seed_cols: list[sa.ColumnElement[object]] = [NODES.c.id.label("id")]
        if depth is not None:
            seed_cols.append(sa.literal(0, sa.Integer).label("d"))
        walk = sa.select(*seed_cols).where(NODES.c.id.in_(list(starts))).cte("walk", recursive=True)

        step = sa.and_(near == walk.c.id, e.c.kind.in_(kinds))
        nxt: sa.ColumnElement[str] = far
        if EdgeKind.SAME_AS.value in kinds:
            # Cross SameAs against its arrow too; one join with OR because PostgreSQL
            # allows the recursive reference only once in the recursive term.
            step = sa.or_(step, sa.and_(far == walk.c.id, e.c.kind == EdgeKind.SAME_AS.value))
            nxt = sa.case((near == walk.c.id, far), else_=near)
        where: list[sa.ColumnElement[bool]] = []
        if as_of is not None:
            where += [_valid(e, as_of), _node_valid(nxt, as_of)]
        cols: list[sa.ColumnElement[object]] = [nxt.label("id")]
        if depth is not None:
            cols.append((walk.c.d + 1).label("d"))
            where.append(walk.c.d < depth)
        walk = walk.union(sa.select(*cols).select_from(walk.join(e, step)).where(*where))

        query = sa.select(walk.c.id).distinct()
        if node_kinds is not None:
            query = query.join(NODES, NODES.c.id == walk.c.id).where(NODES.c.kind.in_(_kinds(node_kinds)))
        return query

    # -- one step ---------------------------------------------------------------------------------
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
        ends = []
        if direction in ("both", "out"):
            ends.append(EDGES.c.src == node)
        if direction in ("both", "in"):
            ends.append(EDGES.c.dst == node)
        where = [sa.or_(*ends)]
        if edge_kinds is not None:
            where.append(EDGES.c.kind.in_(_kinds(edge_kinds)))
        if as_of is not None:
            as_of = utc(as_of)
            other = sa.case((EDGES.c.src == node, EDGES.c.dst), else_=EDGES.c.src)
            where += [_valid(EDGES, as_of), _node_valid(other, as_of)]
        with self.store.engine.connect() as conn:
            self._require(conn, [node])
            rows = conn.execute(sa.select(EDGES).where(*where)).all()
        return sorted((_to_edge(r) for r in rows), key=lambda x: (x.src, x.dst, x.kind.value, x.key[3]))

    def neighbours(
        self,
        node: str,
        *,
        direction: Direction = "both",
        edge_kinds: Iterable[EdgeKind] | None = None,
        as_of: datetime | None = None,
    ) -> set[NodeId]:
        """Ids one edge away from ``node`` (see ``edges_of``)."""
        found = set()
        for edge in self.edges_of(node, direction=direction, edge_kinds=edge_kinds, as_of=as_of):
            if edge.src == node and direction != "in":
                found.add(edge.dst)
            if edge.dst == node and direction != "out":
                found.add(edge.src)
        return found

    # -- paths ------------------------------------------------------------------------------------
    def shortest_path(
        self,
        a: str,
        b: str,
        *,
        edge_kinds: Iterable[EdgeKind] = FLOW_EDGES,
        as_of: datetime | None = None,
        directed: bool = True,
    ) -> list[NodeId]:
        """The fewest-edges path ``[a, ..., b]``, along the arrows unless ``directed=False``.

        Breadth first, one query per level; among equally short paths the one through the
        smallest ids wins, so the answer does not depend on the backend. Raises ``NoPath``.
        """
        kinds = _kinds(edge_kinds)
        as_of = utc(as_of) if as_of is not None else None
        with self.store.engine.connect() as conn:
            self._require(conn, [a, b])
            if a == b:
                return [NodeId(a)]
            parent: dict[str, str] = {a: a}
            frontier = [a]
            while frontier and b not in parent:
                steps = sorted(self._steps(conn, frontier, kinds, as_of, directed))
                frontier = []
                for here, there in steps:
                    if there not in parent:
                        parent[there] = here
                        frontier.append(there)
        if b not in parent:
            how = "along" if directed else "over"
            at = f" as of {iso(as_of)}" if as_of else ""
            raise NoPath(f"no path from {a!r} to {b!r} {how} edges {', '.join(kinds) or '(none)'}{at}")
        path = [b]
        while path[-1] != a:
            path.append(parent[path[-1]])
        return [NodeId(n) for n in reversed(path)]

    def _steps(
        self, conn: sa.Connection, frontier: list[str], kinds: list[str], as_of: datetime | None, directed: bool
    ) -> set[tuple[str, str]]:
        """(from, to) for every edge leaving the frontier, both ways for SameAs or undirected."""
        if not kinds:
            return set()
        back_kinds = kinds if not directed else [k for k in kinds if k == EdgeKind.SAME_AS.value]
        found: set[tuple[str, str]] = set()
        for chunk in _chunks(frontier):
            queries = [(EDGES.c.src, EDGES.c.dst, kinds)]
            if back_kinds:
                queries.append((EDGES.c.dst, EDGES.c.src, back_kinds))
            for near, far, allowed in queries:
                where = [near.in_(list(chunk)), EDGES.c.kind.in_(allowed)]
                if as_of is not None:
                    where += [_valid(EDGES, as_of), _node_valid(far, as_of)]
                found.update((h, t) for h, t in conn.execute(sa.select(near, far).where(*where)))
        return found

    # -- questions --------------------------------------------------------------------------------
    def impact(self, node: str, *, as_of: datetime | None = None) -> dict[NodeKind, set[NodeId]]:
        """Which model packages, endpoint variants and endpoints depend on ``node``.

        A dataset counts with all its versions (the ``version_of`` edges into it), since
        runs read versions. Every kind of ``IMPACT_KINDS`` is a key, maybe of an empty set.
        """
        versions = self.neighbours(node, direction="in", edge_kinds=[EdgeKind.VERSION_OF], as_of=as_of)
        starts = [node, *sorted(versions)]
        found = self._walk(
            starts, upstream=False, depth=None, node_kinds=IMPACT_KINDS, edge_kinds=IMPACT_EDGES, as_of=as_of
        )
        impact: dict[NodeKind, set[NodeId]] = {kind: set() for kind in IMPACT_KINDS}
        for n in self.store.nodes(ids=found):
            impact[n.kind].add(n.id)
        return impact
