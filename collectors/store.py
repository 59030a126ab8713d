"""The graph store: typed nodes, edges and per-source watermarks in SQLite or PostgreSQL.

Contract:
- ``GraphStore.open(url)`` connects (``sqlite:///path.db``, ``sqlite://`` in memory for
  tests, ``postgresql://user@host:port/db``), migrates the schema to head with the
  Alembic scripts shipped in ``migrations/`` (idempotent) and returns the store.
- ``write(nodes, edges, watermark=..., log=...)`` is ONE transaction: the batch, the
  source's watermark and the batch's warnings (the source's collection log, ``Graph.log``)
  are stored together or not at all, so a crash (even kill -9) loses a whole batch or
  nothing, and a resumed collection logs each warning once. Writing the same records again changes nothing; ``WriteResult`` says
  what was new, changed or unchanged.
- Merging a record into one already stored is by event time, never by arrival (DESIGN.md
  decision 3): per prop (and for name and kind), the value with the latest fact time
  wins (``Node.at``/``Edge.at``, else ``valid_from``; a value without a time loses to any
  with one); equal times go to the greater canonical JSON of the value. Sources are the
  union; ``valid_from`` keeps the earliest and ``valid_to`` the latest known instant
  (``None`` is "not known" on write). Each rule is a max or a union, so any order and
  any duplication of the same records, in one batch or many, store the same graph; the
  kept value's time is stored beside it (``times``). The rules are ``collectors.merge``.
- ``derive(nodes, edges)`` sets what ``collectors.timeline`` computed from the whole set
  of facts: ``valid_to`` and ``derived``, replacing what was there (a late fact may
  shorten an interval, which a max could not). ``write`` never touches ``derived``.
- Times are UTC: naive datetimes are taken as UTC, aware ones converted; reads return
  aware UTC datetimes. Props are JSON; datetimes in them become ISO strings.
- Edges are keyed by ``Edge.key`` (src, dst, kind, valid_from). No foreign keys: an edge
  may arrive before the nodes it joins (another source, a later batch).
- One writer at a time per store: SQLite serialises writers (``BEGIN IMMEDIATE``); on
  PostgreSQL a concurrent writer of the same new record fails its batch, which can be
  retried whole.

The store writes; it does not answer questions. ``graph.Graph`` is the one read API
(``Graph(store)`` or ``Graph.open(url)``); the tables both use are in ``schema``, the
only copy besides the migrations. ``watermark(source)`` is the one read here: where a
source's last written batch ended, which collection resumes from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from crossline import times
from crossline.collectors.merge import EDGE_CONTENT, NODE_CONTENT, edge_pk, edge_row, merge, node_row, plain
from crossline.collectors.model import Edge, Node
from crossline.collectors.log import CollectWarning
from crossline.collectors.schema import COLLECTION_LOG, EDGE_PK, EDGES, NODES, WATERMARKS, chunks
from crossline.errors import ConfigError, StoreUnavailable
from crossline.times import utc

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# -- values -------------------------------------------------------------------------------
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
        log: Sequence[CollectWarning] = (),
    ) -> WriteResult:
        """Upsert ``nodes`` and ``edges``, set ``watermark`` = (source, value) and append ``log``, atomically."""
        node_rows: dict[str, dict[str, Any]] = {}
        for node in nodes:
            row = node_row(node)
            old = node_rows.get(row["id"])
            node_rows[row["id"]] = row if old is None else merge(old, row)
        edge_rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for edge in edges:
            row = edge_row(edge)
            key = edge_pk(row)
            old = edge_rows.get(key)
            edge_rows[key] = row if old is None else merge(old, row)

        result = WriteResult()
        now = times.now()
        with self._write() as conn:
            for chunk in chunks(list(node_rows.values())):
                self._write_nodes(conn, chunk, now, result)
            for chunk in chunks(list(edge_rows.values())):
                self._write_edges(conn, chunk, result)
            if watermark is not None:
                self._set_watermark(conn, watermark[0], watermark[1], now)
            if log:
                mark = watermark[1] if watermark is not None else None
                conn.execute(COLLECTION_LOG.insert(), [
                    {"source": w.source, "kind": w.kind, "location": w.where, "reason": w.why, "watermark": mark,
                     "logged_at": now} for w in log])
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
            merged = merge(old, row)
            if any(merged[c] != old[c] for c in NODE_CONTENT):
                updates.append({"b_id": row["id"], **{c: merged[c] for c in NODE_CONTENT}, "last_seen": now})
                result.nodes_changed += 1
            else:
                seen.append({"b_id": row["id"]})
                result.nodes_unchanged += 1
        if inserts:
            conn.execute(NODES.insert(), inserts)
        by_id = NODES.c.id == sa.bindparam("b_id")
        if updates:
            values = {c: sa.bindparam(c) for c in (*NODE_CONTENT, "last_seen")}
            conn.execute(NODES.update().where(by_id).values(values), updates)
        if seen:
            conn.execute(NODES.update().where(by_id).values(last_seen=now), seen)

    def _write_edges(self, conn: Connection, rows: Sequence[dict[str, Any]], result: WriteResult) -> None:
        keys = _keys(conn, [c.name for c in EDGE_PK], [edge_pk(r) for r in rows])
        on = sa.and_(*(c == keys.c[c.name] for c in EDGE_PK))
        found = conn.execute(sa.select(EDGES).select_from(keys).join(EDGES, on))
        existing = {(r.src, r.kind, r.dst, r.valid_key): r._asdict() for r in found}
        inserts, updates = [], []
        for row in rows:
            old = existing.get(edge_pk(row))
            if old is None:
                inserts.append(row)
                result.edges_new += 1
                continue
            merged = merge(old, row)
            if any(merged[c] != old[c] for c in EDGE_CONTENT):
                updates.append({**{f"b_{c.name}": row[c.name] for c in EDGE_PK}, **{c: merged[c] for c in EDGE_CONTENT}})
                result.edges_changed += 1
            else:
                result.edges_unchanged += 1
        if inserts:
            conn.execute(EDGES.insert(), inserts)
        if updates:
            where = sa.and_(*(c == sa.bindparam(f"b_{c.name}") for c in EDGE_PK))
            values = {c: sa.bindparam(c) for c in EDGE_CONTENT}
            conn.execute(EDGES.update().where(where).values(values), updates)

    def _set_watermark(self, conn: Connection, source: str, value: str | None, now: datetime) -> None:
        done = conn.execute(
            WATERMARKS.update().where(WATERMARKS.c.source == source).values(value=value, updated_at=now)
        )
        if done.rowcount == 0:
            conn.execute(WATERMARKS.insert().values(source=source, value=value, updated_at=now))

    # -- what is derived from the whole set of facts ---------------------------------------------
    def derive(
        self,
        nodes: Mapping[str, tuple[datetime | None, dict[str, Any]]],
        edges: Mapping[tuple[str, str, str, str], tuple[datetime | None, dict[str, Any]]],
    ) -> int:
        """Set ``(valid_to, derived)`` of the given nodes (by id) and edges (by ``Edge.key``), in one transaction.

        Replaces what was there, unlike ``write``'s merge: these values are a function of
        the whole set of facts, recomputed whole. Records not stored are skipped. Returns
        how many records changed.
        """
        changed = 0
        with self._write() as conn:
            node_rows = [(node_id, utc(to) if to else None, plain(derived)) for node_id, (to, derived) in sorted(nodes.items())]
            for chunk in chunks(node_rows):
                keys = _keys(conn, ["id"], [(r[0],) for r in chunk])
                found = conn.execute(
                    sa.select(NODES.c.id, NODES.c.valid_to, NODES.c.derived).select_from(keys).join(NODES, NODES.c.id == keys.c.id)
                )
                stored = {r.id: (r.valid_to, r.derived or {}) for r in found}
                updates = [
                    {"b_id": node_id, "valid_to": to, "derived": derived}
                    for node_id, to, derived in chunk
                    if node_id in stored and stored[node_id] != (to, derived)
                ]
                if updates:
                    conn.execute(NODES.update().where(NODES.c.id == sa.bindparam("b_id"))
                                 .values(valid_to=sa.bindparam("valid_to"), derived=sa.bindparam("derived")), updates)
                changed += len(updates)
            edge_rows = [((src, kind, dst, vkey), utc(to) if to else None, plain(derived))
                         for (src, dst, kind, vkey), (to, derived) in sorted(edges.items())]
            for chunk in chunks(edge_rows):
                keys = _keys(conn, [c.name for c in EDGE_PK], [r[0] for r in chunk])
                on = sa.and_(*(c == keys.c[c.name] for c in EDGE_PK))
                found = conn.execute(sa.select(*EDGE_PK, EDGES.c.valid_to, EDGES.c.derived).select_from(keys).join(EDGES, on))
                stored = {(r.src, r.kind, r.dst, r.valid_key): (r.valid_to, r.derived or {}) for r in found}
                updates = [
                    {**{f"b_{c.name}": key[i] for i, c in enumerate(EDGE_PK)}, "valid_to": to, "derived": derived}
                    for key, to, derived in chunk
                    if key in stored and stored[key] != (to, derived)
                ]
                if updates:
                    where = sa.and_(*(c == sa.bindparam(f"b_{c.name}") for c in EDGE_PK))
                    conn.execute(EDGES.update().where(where)
                                 .values(valid_to=sa.bindparam("valid_to"), derived=sa.bindparam("derived")), updates)
                changed += len(updates)
        return changed

    # -- reading -------------------------------------------------------------------------------
    def watermark(self, source: str) -> str | None:
        """The watermark ``source`` reached with its last written batch; None before any."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(WATERMARKS.c.value).where(WATERMARKS.c.source == source)).scalar()
