"""The graph store: typed nodes, edges and per-source watermarks in SQLite or PostgreSQL.

Contract:
- ``GraphStore.open(url)`` connects (``sqlite:///path.db``, ``sqlite://`` in memory for
  tests, ``postgresql://user@host:port/db``), migrates the schema to head with the
  Alembic scripts shipped in ``migrations/`` (idempotent) and returns the store.
- ``write(nodes, edges, watermark=...)`` is ONE transaction: the batch and the source's
  watermark are stored together or not at all, so a crash (even kill -9) loses a whole
  batch or nothing. Writing the same records again changes nothing; ``WriteResult`` says
  what was new, changed or unchanged.
- Merging a record into one already stored: props are merged (keys of the newer record
  win), sources are the union, name and kind are the newer record's. ``valid_from`` keeps
  the earliest and ``valid_to`` the latest known instant: ``None`` means "not known" on
  write (an open interval stays open until some record closes it), so replaying an older
  batch never reopens an interval a newer one closed.
- Times are UTC: naive datetimes are taken as UTC, aware ones converted; reads return
  aware UTC datetimes. Props are JSON; datetimes in them become ISO strings.
- A node read back has ``source`` = the sorted, comma-joined sources that recorded it.
- Edges are keyed by ``Edge.key`` (src, dst, kind, valid_from). No foreign keys: an edge
  may arrive before the nodes it joins (another source, a later batch).
- One writer at a time per store: SQLite serialises writers (``BEGIN IMMEDIATE``); on
  PostgreSQL a concurrent writer of the same new record fails its batch, which can be
  retried whole.

The store knows records, not queries: ``graph.Graph`` walks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.errors import ConfigError, NodeNotFound, StoreUnavailable
from crossline import times
from crossline.times import stamp, utc

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Rows per statement: well under SQLite's 32766 bound variables even for 4-column keys.
CHUNK = 2000


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as UTC: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite.

    SQLite compares the stored text, so every value must be written in one zone and one
    format for ``valid_from <= t`` to mean what it says.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return utc(value)


_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# The store's view of the schema that migrations/ creates (it never calls create_all).
METADATA = sa.MetaData()
NODES = sa.Table(
    "nodes",
    METADATA,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sources", _JSON, nullable=False),
    sa.Column("props", _JSON, nullable=False),
    sa.Column("valid_from", UTCDateTime),
    sa.Column("valid_to", UTCDateTime),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sqlite_with_rowid=False,
)
EDGES = sa.Table(
    "edges",
    METADATA,
    sa.Column("src", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dst", sa.Text, nullable=False),
    sa.Column("valid_key", sa.Text, nullable=False),
    sa.Column("sources", _JSON, nullable=False),
    sa.Column("props", _JSON, nullable=False),
    sa.Column("valid_from", UTCDateTime),
    sa.Column("valid_to", UTCDateTime),
    sa.PrimaryKeyConstraint("src", "kind", "dst", "valid_key", name="pk_edges"),
    sa.Index("ix_edges_dst_kind", "dst", "kind", "src"),
    sqlite_with_rowid=False,
)
WATERMARKS = sa.Table(
    "watermarks",
    METADATA,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
_EDGE_PK = (EDGES.c.src, EDGES.c.kind, EDGES.c.dst, EDGES.c.valid_key)


# -- values -------------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return str(value)  # ISO 8601: 2027-03-08
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _plain(props: dict[str, Any]) -> dict[str, Any]:
    """Props as they will read back, so that comparing old and new says 'unchanged' truly."""
    if not props:
        return {}
    return json.loads(json.dumps(props, default=_json_default))


def _valid_key(valid_from: datetime | None) -> str:
    return stamp(valid_from) if valid_from is not None else ""


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _ts(value: datetime | None) -> str | None:
    return stamp(value)


@dataclass
class WriteResult:
    """What one ``write`` did, record by record (duplicates within a batch count once)."""

    nodes_new: int = 0
    nodes_changed: int = 0
    nodes_unchanged: int = 0
    edges_new: int = 0
    edges_changed: int = 0
    edges_unchanged: int = 0

    @property
    def new(self) -> int:
        return self.nodes_new + self.edges_new

    @property
    def changed(self) -> int:
        return self.nodes_changed + self.edges_changed

    @property
    def unchanged(self) -> int:
        return self.nodes_unchanged + self.edges_unchanged


# Content columns: the graph itself. first_seen/last_seen are bookkeeping and never make
# a record "changed".
_NODE_CONTENT = ("kind", "name", "sources", "props", "valid_from", "valid_to")
_EDGE_CONTENT = ("sources", "props", "valid_to")


def _node_row(node: Node) -> dict[str, Any]:
    return {
        "id": str(node.id),
        "kind": str(node.kind),
        "name": node.name,
        "sources": [node.source],
        "props": _plain(node.props),
        "valid_from": utc(node.valid_from) if node.valid_from else None,
        "valid_to": utc(node.valid_to) if node.valid_to else None,
    }


def _edge_row(edge: Edge) -> dict[str, Any]:
    return {
        "src": str(edge.src),
        "kind": str(edge.kind),
        "dst": str(edge.dst),
        "valid_key": _valid_key(edge.valid_from),
        "sources": [edge.source],
        "props": _plain(edge.props),
        "valid_from": utc(edge.valid_from) if edge.valid_from else None,
        "valid_to": utc(edge.valid_to) if edge.valid_to else None,
    }


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` recorded after ``old``: the merge rules of the module docstring."""
    merged = dict(old)
    if "name" in new:  # a node (an edge's kind is part of its key)
        merged["kind"] = new["kind"]
        merged["name"] = new["name"]
    merged["sources"] = sorted(set(old["sources"]) | set(new["sources"]))
    merged["props"] = {**old["props"], **new["props"]}
    merged["valid_from"] = _earliest(old["valid_from"], new["valid_from"])
    merged["valid_to"] = _latest(old["valid_to"], new["valid_to"])
    return merged


def _edge_pk(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return (row["src"], row["kind"], row["dst"], row["valid_key"])


def _to_node(row: Any) -> Node:
    return Node(
        id=NodeId(row.id),
        kind=NodeKind(row.kind),
        name=row.name,
        source=",".join(row.sources),
        props=dict(row.props),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _to_edge(row: Any) -> Edge:
    return Edge(
        src=NodeId(row.src),
        dst=NodeId(row.dst),
        kind=EdgeKind(row.kind),
        source=",".join(row.sources),
        props=dict(row.props),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _chunks(items: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    size = size or CHUNK
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _keys(conn: Connection, names: list[str], rows: Sequence[tuple[str, ...]]) -> sa.Subquery:
    """The ``rows`` as a small table with columns ``names``, to join a batch's keys to the store.

    One array parameter, not thousands of IN values: a tuple IN list makes SQLite scan
    the whole edge table once per chunk; a table-valued function as the outer side of
    the join makes both backends probe the primary key once per key.
    """
    if conn.dialect.name == "postgresql":
        arrays = [sa.literal([r[i] for r in rows], postgresql.ARRAY(sa.Text)) for i in range(len(names))]
        return sa.select(sa.func.unnest(*arrays).table_valued(*names).render_derived()).subquery("keys")
    each = sa.func.json_each(json.dumps(rows)).table_valued("value")
    return sa.select(*(sa.func.json_extract(each.c.value, f"$[{i}]").label(n) for i, n in enumerate(names))).subquery("keys")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# -- engine -------------------------------------------------------------------------------
def _url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as err:
        raise ConfigError(f"not a database URL: {url!r}") from err
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ConfigError(f"graph store URL {parsed!r}: only the psycopg (3) driver is supported")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise ConfigError(
        f"graph store URL {parsed!r}: expected sqlite:///path.db, sqlite:// (memory) or postgresql://user@host:port/db"
    )


def _engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    memory = url.database in (None, "", ":memory:")
    if memory:
        # One connection for the life of the store: each new one would be an empty database.
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = sa.create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite would BEGIN only before the first INSERT, so a batch's reads would sit
        # outside its transaction; we issue BEGIN ourselves (see _begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            # WAL: readers never block the writer. NORMAL sync is durable against a killed
            # process (the OS keeps the log); only power loss may drop the last commits.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        # Bulk upserts touch b-tree pages all over a large file: a bigger page cache and
        # memory-mapped reads keep them off the read() path.
        cur.execute("PRAGMA cache_size=-262144")
        cur.execute("PRAGMA mmap_size=4294967296")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A writer takes the write lock up front, so two writers queue instead of one
        # failing halfway through a batch when it upgrades its read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("crossline_write") else "BEGIN")

    return engine


# -- the store ------------------------------------------------------------------------------
class GraphStore:
    """Nodes, edges and watermarks in one database; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> GraphStore:
        """Connect to ``url``, migrate the schema to head, and return the store."""
        store = cls(_engine(_url(url)))
        try:
            store.migrate()
        except sa.exc.OperationalError as err:
            store.close()
            raise StoreUnavailable(
                f"cannot open the graph store {store.url}: {_first_line(err.orig or err)}; "
                "check that it exists and is reachable and writable, or name another with --store "
                "or CROSSLINE_STORE_URL"
            ) from err
        except Exception:
            store.close()
            raise
        return store

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"GraphStore({self.url!r})"

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(crossline_write=True) as conn, conn.begin():
            yield conn

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to head; a no-op when it is there already."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Two collectors starting together must not both create the tables.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('crossline graph schema'))"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": "crossline_graph_version"})
            return context.get_current_revision()

    # -- writing -------------------------------------------------------------------------------
    def write(
        self,
        nodes: Iterable[Node],
        edges: Iterable[Edge],
        *,
        watermark: tuple[str, str | None] | None = None,
    ) -> WriteResult:
        """Upsert ``nodes`` and ``edges`` and set ``watermark`` = (source, value), atomically."""
        node_rows: dict[str, dict[str, Any]] = {}
        for node in nodes:
            row = _node_row(node)
            old = node_rows.get(row["id"])
            node_rows[row["id"]] = row if old is None else _merge(old, row)
        edge_rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for edge in edges:
            row = _edge_row(edge)
            key = _edge_pk(row)
            old = edge_rows.get(key)
            edge_rows[key] = row if old is None else _merge(old, row)

        result = WriteResult()
        now = times.now()
        with self._write() as conn:
            for chunk in _chunks(list(node_rows.values())):
                self._write_nodes(conn, chunk, now, result)
            for chunk in _chunks(list(edge_rows.values())):
                self._write_edges(conn, chunk, result)
            if watermark is not None:
                self._set_watermark(conn, watermark[0], watermark[1], now)
        return result

    def _write_nodes(self, conn: Connection, rows: Sequence[dict[str, Any]], now: datetime, result: WriteResult) -> None:
        keys = _keys(conn, ["id"], [(r["id"],) for r in rows])
        found = conn.execute(sa.select(NODES).select_from(keys).join(NODES, NODES.c.id == keys.c.id))
        existing = {r.id: r._asdict() for r in found}
        inserts, updates, seen = [], [], []
        for row in rows:
            old = existing.get(row["id"])
            if old is None:
                inserts.append({**row, "first_seen": now, "last_seen": now})
                result.nodes_new += 1
                continue
            merged = _merge(old, row)
            if any(merged[c] != old[c] for c in _NODE_CONTENT):
                updates.append({"b_id": row["id"], **{c: merged[c] for c in _NODE_CONTENT}, "last_seen": now})
                result.nodes_changed += 1
            else:
                seen.append({"b_id": row["id"]})
                result.nodes_unchanged += 1
        if inserts:
            conn.execute(NODES.insert(), inserts)
        by_id = NODES.c.id == sa.bindparam("b_id")
        if updates:
            values = {c: sa.bindparam(c) for c in (*_NODE_CONTENT, "last_seen")}
            conn.execute(NODES.update().where(by_id).values(values), updates)
        if seen:
            conn.execute(NODES.update().where(by_id).values(last_seen=now), seen)

    def _write_edges(self, conn: Connection, rows: Sequence[dict[str, Any]], result: WriteResult) -> None:
        keys = _keys(conn, [c.name for c in _EDGE_PK], [_edge_pk(r) for r in rows])
        on = sa.and_(*(c == keys.c[c.name] for c in _EDGE_PK))
        found = conn.execute(sa.select(EDGES).select_from(keys).join(EDGES, on))
        existing = {(r.src, r.kind, r.dst, r.valid_key): r._asdict() for r in found}
        inserts, updates = [], []
        for row in rows:
            old = existing.get(_edge_pk(row))
            if old is None:
                inserts.append(row)
                result.edges_new += 1
                continue
            merged = _merge(old, row)
            if any(merged[c] != old[c] for c in _EDGE_CONTENT):
                updates.append({**{f"b_{c.name}": row[c.name] for c in _EDGE_PK}, **{c: merged[c] for c in _EDGE_CONTENT}})
                result.edges_changed += 1
            else:
                result.edges_unchanged += 1
        if inserts:
            conn.execute(EDGES.insert(), inserts)
        if updates:
            where = sa.and_(*(c == sa.bindparam(f"b_{c.name}") for c in _EDGE_PK))
            values = {c: sa.bindparam(c) for c in _EDGE_CONTENT}
            conn.execute(EDGES.update().where(where).values(values), updates)

    def _set_watermark(self, conn: Connection, source: str, value: str | None, now: datetime) -> None:
        done = conn.execute(
            WATERMARKS.update().where(WATERMARKS.c.source == source).values(value=value, updated_at=now)
        )
        if done.rowcount == 0:
            conn.execute(WATERMARKS.insert().values(source=source, value=value, updated_at=now))

    # -- reading -------------------------------------------------------------------------------
    def watermark(self, source: str) -> str | None:
        """The watermark ``source`` reached with its last written batch; None before any."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(WATERMARKS.c.value).where(WATERMARKS.c.source == source)).scalar()

    def watermarks(self) -> dict[str, str | None]:
        with self.engine.connect() as conn:
            return {r.source: r.value for r in conn.execute(sa.select(WATERMARKS.c.source, WATERMARKS.c.value))}

    def node(self, node_id: str) -> Node:
        """The node ``node_id``; raises ``NodeNotFound`` naming it when the store has none."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(NODES).where(NODES.c.id == node_id)).first()
        if row is None:
            raise NodeNotFound(f"no node {node_id!r} in the graph store")
        return _to_node(row)

    def has_node(self, node_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(NODES.c.id).where(NODES.c.id == node_id)).first() is not None

    def nodes(self, kind: NodeKind | str | None = None, ids: Iterable[str] | None = None) -> Iterator[Node]:
        """Nodes in id order, optionally of one kind and/or among ``ids`` (unknown ids are skipped).

        Reads page by page (keyset on id), so a million nodes never sit in memory and no
        connection stays open between pages.
        """
        where = [] if kind is None else [NODES.c.kind == str(kind)]
        if ids is not None:
            for chunk in _chunks(sorted(set(ids))):
                with self.engine.connect() as conn:
                    query = sa.select(NODES).where(NODES.c.id.in_(chunk), *where).order_by(NODES.c.id)
                    rows = conn.execute(query).all()
                yield from (_to_node(r) for r in rows)
            return
        after: str | None = None
        while True:
            page = [*where] if after is None else [*where, NODES.c.id > after]
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(NODES).where(*page).order_by(NODES.c.id).limit(CHUNK)).all()
            yield from (_to_node(r) for r in rows)
            if len(rows) < CHUNK:
                return
            after = rows[-1].id

    def edges(
        self,
        src: str | None = None,
        dst: str | None = None,
        kinds: Iterable[EdgeKind | str] | None = None,
    ) -> Iterator[Edge]:
        """Edges, optionally from ``src``, to ``dst`` and of ``kinds``, in key order, page by page."""
        where = []
        if src is not None:
            where.append(EDGES.c.src == src)
        if dst is not None:
            where.append(EDGES.c.dst == dst)
        if kinds is not None:
            where.append(EDGES.c.kind.in_(sorted(str(k) for k in kinds)))
        after: tuple[str, ...] | None = None
        while True:
            page = [*where] if after is None else [*where, sa.tuple_(*_EDGE_PK) > sa.tuple_(*after)]
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(EDGES).where(*page).order_by(*_EDGE_PK).limit(CHUNK)).all()
            yield from (_to_edge(r) for r in rows)
            if len(rows) < CHUNK:
                return
            after = (rows[-1].src, rows[-1].kind, rows[-1].dst, rows[-1].valid_key)

    def counts(self) -> dict[str, int]:
        """Records per node kind and per edge kind (the kinds' values, which never collide);
        every known kind is present, with 0 when the store has none."""
        counts = {str(k): 0 for k in NodeKind} | {str(k): 0 for k in EdgeKind}
        with self.engine.connect() as conn:
            for table in (NODES, EDGES):
                query = sa.select(table.c.kind, sa.func.count()).group_by(table.c.kind)
                counts.update({kind: n for kind, n in conn.execute(query)})
        return counts

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """The whole graph, canonical: JSON-ready, sorted, without first/last-seen bookkeeping.

        Two collections that produced the same graph dump equal, whatever the backend.
        """
        nodes = [
            {
                "id": n.id,
                "kind": str(n.kind),
                "name": n.name,
                "sources": n.source.split(","),
                "props": n.props,
                "valid_from": _ts(n.valid_from),
                "valid_to": _ts(n.valid_to),
            }
            for n in self.nodes()
        ]
        edges = [
            {
                "src": e.src,
                "dst": e.dst,
                "kind": str(e.kind),
                "sources": e.source.split(","),
                "props": e.props,
                "valid_from": _ts(e.valid_from),
                "valid_to": _ts(e.valid_to),
            }
            for e in self.edges()
        ]
        # Sorted here, not by the database: collations differ between backends.
        nodes.sort(key=lambda n: n["id"])
        edges.sort(key=lambda e: (e["src"], e["dst"], e["kind"], e["valid_from"] or ""))
        return {"nodes": nodes, "edges": edges}
