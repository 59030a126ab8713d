"""The SQL behind ``Graph``'s verbs: each builder returns ONE statement over ``schema``'s tables.

Contract: builders take plain values (ids, kind values, an aware UTC ``as_of`` or None)
and return a SQLAlchemy ``Select`` (or compound select); they never execute anything.
The trace's hot path (``node``, ``named``, ``step``) is built once per shape, with bound
parameters, and cached: building a statement costs more than SQLite takes to run it.
``as_of`` keeps an edge or node whose interval holds that instant (``valid_from <= t <
valid_to``, a missing bound open); an edge's far end passes when no node of that id is
stored or its node holds at ``t``. ``step`` joins each edge to the node at its far end
(LEFT JOIN: an edge may name a node no source has recorded yet), so one statement gives
a whole frontier's edges and the nodes they lead to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa

from crossline.collectors.model import EdgeKind, NodeKind
from crossline.collectors.schema import EDGES, NODES, UTCDateTime

# Columns of the far node in a step's rows, apart from the edge's own.
NODE_PREFIX = "n_"
NODE_COLUMNS = ("id", "kind", "name", "sources", "props", "valid_from", "valid_to", "times", "derived")


def valid(table: sa.Table | sa.Alias, as_of: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.or_(table.c.valid_from.is_(None), table.c.valid_from <= as_of),
        sa.or_(table.c.valid_to.is_(None), table.c.valid_to > as_of),
    )


def node_valid(node_id: sa.ColumnElement[str], as_of: datetime) -> sa.ColumnElement[bool]:
    """No stored node of that id is out of its interval (an id without a node row passes)."""
    n = NODES.alias("n_valid")
    return ~sa.exists().where(n.c.id == node_id, ~valid(n, as_of))


@lru_cache(maxsize=None)
def node() -> sa.Select[tuple[object, ...]]:
    """The node ``:id``."""
    return sa.select(NODES).where(NODES.c.id == sa.bindparam("id"))


@lru_cache(maxsize=None)
def named() -> sa.Select[tuple[object, ...]]:
    """Nodes of ``:kinds`` (expanding) named ``:name``, in id order: the ``(kind, name)`` index."""
    where = [NODES.c.kind.in_(sa.bindparam("kinds", expanding=True)), NODES.c.name == sa.bindparam("name")]
    return sa.select(NODES).where(*where).order_by(NODES.c.id)


@lru_cache(maxsize=None)
def step(direction: str, by_kind: bool, dated: bool) -> sa.CompoundSelect | sa.Select[tuple[object, ...]]:
    """Every edge leaving ``:ids`` (``out``: as src, ``in``: as dst, ``both``), with its far node.

    Parameters: ``ids`` (expanding), ``kinds`` (expanding) when ``by_kind``, ``as_of``
    when ``dated``. Rows: the edge's columns, ``way`` ('out' or 'in'), and the far
    node's columns prefixed ``n_`` (all NULL when no node of that id is stored). Built
    once per shape and reused: building a statement costs more than running it.
    """
    parts = _move(direction, lambda near: near.in_(sa.bindparam("ids", expanding=True)),
                  sa.bindparam("kinds", expanding=True) if by_kind else None, dated)
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


@lru_cache(maxsize=None)
def chain(moves: tuple[tuple[str, bool], ...], dated: bool) -> sa.CompoundSelect:
    """Moves one after another in ONE statement: move 1 leaves ``:ids``; each next move
    leaves the far ends of the edges the one before it found.

    ``moves`` are ``(direction, by_kind)``; parameters ``ids``, ``kinds_<i>`` (expanding,
    for a move with ``by_kind``, ``i`` from 1) and ``as_of`` when ``dated``. Rows are
    ``step``'s plus ``move`` (1, 2, ...). Each move is a CTE the next one reads its
    starts from, so the database walks the frontier; the rows are each move's edges.
    """
    ctes: list[sa.CTE] = []
    for index, (direction, by_kind) in enumerate(moves, start=1):
        if not ctes:
            def starts(near: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
                return near.in_(sa.bindparam("ids", expanding=True))
        else:
            before = ctes[-1]
            ends = sa.union(sa.select(before.c.dst).where(before.c.way == "out"),
                            sa.select(before.c.src).where(before.c.way == "in"))

            def starts(near: sa.ColumnElement[str], ends: sa.CompoundSelect = ends) -> sa.ColumnElement[bool]:
                return near.in_(ends)
        kinds = sa.bindparam(f"kinds_{index}", expanding=True) if by_kind else None
        parts = _move(direction, starts, kinds, dated, alias=f"m{index}")
        ctes.append((parts[0] if len(parts) == 1 else sa.union_all(*parts)).cte(f"move_{index}"))
    return sa.union_all(*(sa.select(*cte.c, sa.literal(i, sa.Integer).label("move")) for i, cte in enumerate(ctes, 1)))


def _move(direction: str, starts: Callable[[sa.ColumnElement[str]], sa.ColumnElement[bool]],
          kinds: sa.BindParameter[object] | None, dated: bool, alias: str = "") -> list[sa.Select[tuple[object, ...]]]:
    parts = []
    for way, near, far in (("out", EDGES.c.src, EDGES.c.dst), ("in", EDGES.c.dst, EDGES.c.src)):
        if direction not in ("both", way):
            continue
        n = NODES.alias(f"far_{alias}{way}")
        where: list[sa.ColumnElement[bool]] = [starts(near)]
        if kinds is not None:
            where.append(EDGES.c.kind.in_(kinds))
        if dated:
            as_of = sa.bindparam("as_of", type_=UTCDateTime())
            where += [valid(EDGES, as_of), sa.or_(n.c.id.is_(None), valid(n, as_of))]
        columns = [*EDGES.c, sa.literal(way).label("way"), *(n.c[c].label(f"{NODE_PREFIX}{c}") for c in NODE_COLUMNS)]
        parts.append(sa.select(*columns).select_from(EDGES.outerjoin(n, n.c.id == far)).where(*where))
    return parts


def walk(
    starts: Sequence[str],
    upstream: bool,
    depth: int | None,
    kinds: list[str],
    node_kinds: Sequence[NodeKind] | None,
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
    cte = sa.select(*seed_cols).where(NODES.c.id.in_(list(starts))).cte("walk", recursive=True)

    on = sa.and_(near == cte.c.id, e.c.kind.in_(kinds))
    nxt: sa.ColumnElement[str] = far
    if EdgeKind.SAME_AS.value in kinds:
        # Cross SameAs against its arrow too; one join with OR because PostgreSQL
        # allows the recursive reference only once in the recursive term.
        on = sa.or_(on, sa.and_(far == cte.c.id, e.c.kind == EdgeKind.SAME_AS.value))
        nxt = sa.case((near == cte.c.id, far), else_=near)
    where: list[sa.ColumnElement[bool]] = []
    if as_of is not None:
        where += [valid(e, as_of), node_valid(nxt, as_of)]
    cols: list[sa.ColumnElement[object]] = [nxt.label("id")]
    if depth is not None:
        cols.append((cte.c.d + 1).label("d"))
        where.append(cte.c.d < depth)
    cte = cte.union(sa.select(*cols).select_from(cte.join(e, on)).where(*where))

    query = sa.select(cte.c.id).distinct()
    if node_kinds is not None:
        query = query.join(NODES, NODES.c.id == cte.c.id).where(NODES.c.kind.in_(sorted(str(k) for k in node_kinds)))
    return query


def pairs(
    frontier: Sequence[str], kinds: list[str], as_of: datetime | None, back_kinds: list[str]
) -> sa.CompoundSelect | sa.Select[tuple[str, str]]:
    """(from, to) for every edge of ``kinds`` leaving ``frontier``, and against the arrow for ``back_kinds``."""
    parts = []
    for near, far, allowed in ((EDGES.c.src, EDGES.c.dst, kinds), (EDGES.c.dst, EDGES.c.src, back_kinds)):
        if not allowed:
            continue
        where = [near.in_(list(frontier)), EDGES.c.kind.in_(allowed)]
        if as_of is not None:
            where += [valid(EDGES, as_of), node_valid(far, as_of)]
        parts.append(sa.select(near.label("here"), far.label("there")).where(*where))
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def id_prefix(prefix: str, dialect: str) -> sa.ColumnElement[bool]:
    """Ids starting with ``prefix``, in a form each backend's primary-key index serves.

    SQLite compares ids bytewise (BINARY), so a range is exact and uses the key; its
    LIKE ignores case. PostgreSQL orders by the database's collation, where a range is
    not a prefix; LIKE is exact there (and indexed under the C collation).
    """
    if dialect == "postgresql":
        return NODES.c.id.startswith(prefix, autoescape=True)
    upper = _successor(prefix)
    lower = NODES.c.id >= prefix
    return lower if upper is None else sa.and_(lower, NODES.c.id < upper)


def _successor(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound)."""
    text = prefix
    while text:
        last = ord(text[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be stored; skip past them
                nxt = 0xE000
            return text[:-1] + chr(nxt)
        text = text[:-1]
    return None


__all__ = ["NODE_COLUMNS", "NODE_PREFIX", "id_prefix", "named", "node", "node_valid", "pairs", "step", "valid", "walk"]
