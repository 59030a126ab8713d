"""Fixtures of the bed's own tests.

``own_standin`` is a Marquez stand-in of the test module's own, on a fresh database of
the session's PostgreSQL cluster (dropped at the module's end), for tests that load it
or read its log and so must not share it with other modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossline_bed.marquez_standin import StandinServer
from crossline_bed.postgres import Postgres
from crossline_bed.process import free_port


@pytest.fixture(scope="module")
def own_standin(request: pytest.FixtureRequest, bed_postgres: Postgres) -> Iterator[StandinServer]:
    name = ("standin_" + re.sub(r"\W", "_", Path(str(request.node.path)).stem).lower())[:63]
    pg = bed_postgres.up()
    pg.drop_database(name)
    server = StandinServer(pg.ensure_database(name), free_port(), free_port()).start(timeout=60)
    try:
        yield server
    finally:
        server.stop()
        pg.drop_database(name)
