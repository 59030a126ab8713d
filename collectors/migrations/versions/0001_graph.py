"""The graph: nodes, edges with validity intervals, and per-source watermarks.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sources", _JSON, nullable=False),
        sa.Column("props", _JSON, nullable=False),
        sa.Column("valid_from", _TS),
        sa.Column("valid_to", _TS),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        # SQLite: rows live in the primary key's b-tree, not in a second copy keyed by rowid.
        sqlite_with_rowid=False,
    )
    op.create_index("ix_nodes_kind", "nodes", ["kind"])
    op.create_table(
        "edges",
        sa.Column("src", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("dst", sa.Text, nullable=False),
        # Edge.key's last part: valid_from as UTC ISO text, "" when open. A nullable
        # valid_from cannot sit in a unique key (NULLs are distinct), this column can.
        sa.Column("valid_key", sa.Text, nullable=False),
        sa.Column("sources", _JSON, nullable=False),
        sa.Column("props", _JSON, nullable=False),
        sa.Column("valid_from", _TS),
        sa.Column("valid_to", _TS),
        # The key leads with (src, kind): it is the index for walks along the arrows.
        sa.PrimaryKeyConstraint("src", "kind", "dst", "valid_key", name="pk_edges"),
        sqlite_with_rowid=False,
    )
    # Walks against the arrows; src is included so the walk reads the index alone.
    op.create_index("ix_edges_dst_kind", "edges", ["dst", "kind", "src"])
    op.create_table(
        "watermarks",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("updated_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    op.drop_index("ix_edges_dst_kind", table_name="edges")
    op.drop_table("edges")
    op.drop_index("ix_nodes_kind", table_name="nodes")
    op.drop_table("nodes")
