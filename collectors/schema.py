"""The graph store's tables, once: what the store writes and ``Graph`` reads.

Contract: ``NODES``, ``EDGES``, ``WATERMARKS`` and ``COLLECTION_LOG`` (in ``METADATA``)
are SQLAlchemy's view of the schema the Alembic scripts in ``migrations/`` create;
nothing calls ``create_all``, and a test compares the two (the migrations are the only
other copy). ``to_node``/``to_edge`` turn a row back into a ``Node``/``Edge``:
``source`` is the sorted, comma-joined sources that recorded it; ``times`` (per prop,
the event time of the value kept) and ``derived`` (what ``collectors.timeline`` derived
from the whole set of facts) read back as dicts, empty when the column is NULL (rows
written before the event-time migration). ``UTCDateTime`` stores every instant as UTC
and reads it back aware. ``CHUNK`` bounds the rows or ids one statement carries;
``chunks`` slices a sequence by it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.times import utc

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

METADATA = sa.MetaData()
NODES = sa.Table(
    "nodes",
    METADATA,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sources", _JSON, nullable=False),
    sa.Column("props", _JSON, nullable=False),
    sa.Column("valid_from", UTCDateTime),
    sa.Column("valid_to", UTCDateTime),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("times", _JSON),
    sa.Column("derived", _JSON),
    # find(name, kinds) and nodes(kind): the kind leads, so it also serves kind alone.
    sa.Index("ix_nodes_kind_name", "kind", "name"),
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
    sa.Column("times", _JSON),
    sa.Column("derived", _JSON),
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
COLLECTION_LOG = sa.Table(
    "collection_log",
    METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("watermark", sa.Text),
    sa.Column("logged_at", UTCDateTime, nullable=False),
    sa.Index("ix_collection_log_source", "source", "seq"),
)
EDGE_PK = (EDGES.c.src, EDGES.c.kind, EDGES.c.dst, EDGES.c.valid_key)


def to_node(row: Any) -> Node:
    return Node(
        id=NodeId(row.id),
        kind=NodeKind(row.kind),
        name=row.name,
        source=",".join(row.sources),
        props=dict(row.props),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        times=dict(row.times or {}),
        derived=dict(row.derived or {}),
    )


def to_edge(row: Any) -> Edge:
    return Edge(
        src=NodeId(row.src),
        dst=NodeId(row.dst),
        kind=EdgeKind(row.kind),
        source=",".join(row.sources),
        props=dict(row.props),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        times=dict(row.times or {}),
        derived=dict(row.derived or {}),
    )


def chunks(items: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    size = size or CHUNK
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["CHUNK", "COLLECTION_LOG", "EDGES", "EDGE_PK", "METADATA", "NODES", "WATERMARKS", "UTCDateTime", "chunks", "to_edge", "to_node"]
