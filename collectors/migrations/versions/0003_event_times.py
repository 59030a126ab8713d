"""Event time: per-prop fact times, and what is derived from the whole set of facts.

``times`` (nodes and edges) holds, per prop (and ``@name``/``@kind``), the event time of
the value the store keeps: records merge by those times, never by arrival, so any order
and any duplication of the same records give the same graph. ``derived`` holds what
``collectors.timeline`` computes from the whole set (when a deployment was replaced,
when an approval decision stopped being in force, which records of two systems are one
decision), replaced whole each time it is computed. Both are NULL on rows written
before: such props have no known time and lose to any record that has one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    for table in ("nodes", "edges"):
        op.add_column(table, sa.Column("times", _JSON))
        op.add_column(table, sa.Column("derived", _JSON))


def downgrade() -> None:
    for table in ("nodes", "edges"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("derived")
            batch.drop_column("times")
