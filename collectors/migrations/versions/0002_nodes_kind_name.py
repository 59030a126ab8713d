"""Find nodes by name: an index on nodes (kind, name) in place of the one on kind alone.

``Graph.find(name, kinds)`` answers "which inference is loan-8231", "which package is
credit-xgb/73" in one indexed statement instead of a scan of a kind. The kind leads, so
the index serves ``nodes(kind=...)`` as ``ix_nodes_kind`` did; that one goes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_nodes_kind_name", "nodes", ["kind", "name"])
    op.drop_index("ix_nodes_kind", table_name="nodes")


def downgrade() -> None:
    op.create_index("ix_nodes_kind", "nodes", ["kind"])
    op.drop_index("ix_nodes_kind_name", table_name="nodes")
