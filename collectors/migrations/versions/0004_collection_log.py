"""The collection log: each source's warnings, kept with the batches they came with.

A warning (source, where, why, kind) is written in the same transaction as the batch it
belongs to and the watermark that batch reached, so the log holds each warning exactly
once however often a collection is killed and resumed. ``seq`` orders the log;
``(source, seq)`` reads one source's log in order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("watermark", sa.Text),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_collection_log_source", "collection_log", ["source", "seq"])


def downgrade() -> None:
    op.drop_index("ix_collection_log_source", table_name="collection_log")
    op.drop_table("collection_log")
