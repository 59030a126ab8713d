"""Alembic environment of the graph store.

``GraphStore.open`` passes its own connection in ``config.attributes["connection"]`` so the
migration runs inside the store's engine (and, for ``sqlite://``, on the same in-memory
database). Run from the alembic command line, ``sqlalchemy.url`` names the database.
The version table has a name of its own so the store can share a PostgreSQL database with
another Alembic user (Airflow keeps ``alembic_version``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

VERSION_TABLE = "crossline_graph_version"

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), version_table=VERSION_TABLE, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
