"""Graph-store fixtures: every store test runs on SQLite (a file) AND the bed's PostgreSQL.

``store_url`` is parametrized over both backends and gives an empty database each time;
``graph_store`` opens a ``GraphStore`` on it. PostgreSQL is the session's own cluster
(``bed_postgres``), never skipped. Each test
module gets a database of its own, dropped (with its role) when the module ends.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from crossline_bed.postgres import Postgres
from crossline.collectors.store import GraphStore

_STORE_TABLES = ("edges", "nodes", "watermarks", "collection_log", "crossline_graph_version")


@pytest.fixture(scope="module")
def store_pg_database(request: pytest.FixtureRequest, bed_postgres: Postgres) -> Iterator[tuple[Postgres, str, str]]:
    """(cluster, database name, URL) of a PostgreSQL database of this test module's own."""
    module = re.sub(r"\W", "_", Path(str(request.node.path)).stem).lower()
    name = f"crossline_graph_{module}"[:63]
    pg = bed_postgres.up()  # a test may have stopped the session's cluster (Marquez's down())
    url = pg.ensure_database(name)
    try:
        yield pg, name, url
    finally:
        pg.up()
        pg.drop_database(name)
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty graph-store database: a SQLite file, or this module's PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'graph.db'}"
    pg, name, url = request.getfixturevalue("store_pg_database")
    pg.up()
    with psycopg.connect(pg.dsn(name), autocommit=True) as conn:
        for table in _STORE_TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
    return url


@pytest.fixture
def graph_store(store_url: str) -> Iterator[GraphStore]:
    """A migrated, empty ``GraphStore`` on each backend."""
    with GraphStore.open(store_url) as store:
        yield store


# -- the scenario's graph ---------------------------------------------------------------------
def story_configs(story) -> list[dict]:  # type: ignore[no-untyped-def]
    """The sources that read what the story left: its events, SageMaker, data capture."""
    from crossline_bed.aws import TEST_ENV

    aws = {"endpoint_url": story.aws.endpoint_url, "region": TEST_ENV["AWS_DEFAULT_REGION"]}
    return [
        {"type": "openlineage-file", "paths": [str(story.airflow.events_file)]},
        {"type": "sagemaker", **aws},
        {"type": "data-capture", "prefixes": ["s3://credit/datacapture/"], **aws},
    ]


def story_sources(story):  # type: ignore[no-untyped-def]
    from crossline.collectors.sources import source_from_config

    return [source_from_config(c) for c in story_configs(story)]


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """The bed's moto credentials for the boto3 clients the sources make."""
    from crossline_bed.aws import TEST_ENV

    with pytest.MonkeyPatch.context() as patch:
        for key, value in TEST_ENV.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def story_graph(story, tmp_path_factory: pytest.TempPathFactory, aws_credentials: None):  # type: ignore[no-untyped-def]
    """The story collected once into a SQLite store: ``(store, collect report)``."""
    from crossline.collectors.collect import collect

    store = GraphStore.open(f"sqlite:///{tmp_path_factory.mktemp('story-graph') / 'graph.db'}")
    report = collect(store, story_sources(story))
    yield store, report
    store.close()


@pytest.fixture(scope="session")
def story_source_configs(story) -> list[dict]:  # type: ignore[no-untyped-def]
    return story_configs(story)


@pytest.fixture(scope="session")
def make_story_sources(story):  # type: ignore[no-untyped-def]
    """Fresh source objects over the story (a source keeps per-read state)."""
    return lambda: story_sources(story)
