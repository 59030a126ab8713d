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


# -- the second story's graph (tests/STORY2.md) -----------------------------------------------
STORY2_REGION = "eu-west-1"


def story2_env(story2) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The fraud team's credentials (its account, 210987654321), as the sources' boto3 finds them."""
    creds = story2.bed.credentials
    return {"AWS_ACCESS_KEY_ID": creds["key"], "AWS_SECRET_ACCESS_KEY": creds["secret"],
            "AWS_SESSION_TOKEN": creds["token"], "AWS_DEFAULT_REGION": STORY2_REGION}


def story2_configs(story2, events: Path, only: set[str] | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every source over what the second story left: its events, SageMaker, the catalog,
    Feature Store, MLflow, the manual audit CSV and the data capture (``only``: some of them)."""
    aws = {"endpoint_url": story2.bed.aws.endpoint_url, "region": STORY2_REGION}
    configs = [
        {"type": "openlineage-file", "paths": [str(events)]},
        {"type": "sagemaker", **aws},
        {"type": "glue-catalog", **aws},
        {"type": "feature-store", **aws},
        {"type": "mlflow", "tracking_uri": story2.mlflow_url},
        {"type": "manual", "paths": [str(story2.audit_csv)]},
        {"type": "data-capture", "prefixes": ["s3://fraud-ml-eu/datacapture/"], **aws},
    ]
    return [c for c in configs if only is None or c["type"] in only]


class Timed:
    """A source whose read is timed, store writes between its batches included."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.name, self.seconds = inner, inner.name, 0.0

    def total(self, since):  # type: ignore[no-untyped-def]
        return self.inner.total(since)

    def read(self, since):  # type: ignore[no-untyped-def]
        import time

        started = time.perf_counter()
        try:
            yield from self.inner.read(since)
        finally:
            self.seconds = time.perf_counter() - started


@pytest.fixture(scope="session")
def story2_events(story2, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The second story's OpenLineage events as the file transport wrote them (JSON lines)."""
    import json

    path = tmp_path_factory.mktemp("story2-events") / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in story2.run.events))
    return path


def story2_aws(story2):  # type: ignore[no-untyped-def]
    """While in it, boto3 finds the fraud team's credentials (only then: the first story's tests use the bed's)."""
    patch = pytest.MonkeyPatch()

    class _Context:
        def __enter__(self) -> None:
            for key, value in story2_env(story2).items():
                patch.setenv(key, value)

        def __exit__(self, *exc: object) -> None:
            patch.undo()

    return _Context()


def collect_story2(store, story2, events: Path, only: set[str] | None = None):  # type: ignore[no-untyped-def]
    """Collect the second story's sources (``only``: some of them) into ``store``: ``(report, seconds per source)``."""
    from crossline.collectors.collect import collect
    from crossline.collectors.sources import source_from_config

    with story2_aws(story2):
        sources = [Timed(source_from_config(c)) for c in story2_configs(story2, events, only)]
        report = collect(store, sources)
    return report, {s.name: s.seconds for s in sources}


@pytest.fixture(scope="session")
def story2_graph(story2, story2_events, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The second story collected once, every source, into SQLite: ``(store, report, seconds per source)``."""
    store = GraphStore.open(f"sqlite:///{tmp_path_factory.mktemp('story2-graph') / 'graph.db'}")
    report, seconds = collect_story2(store, story2, story2_events)
    yield store, report, seconds
    store.close()


@pytest.fixture(scope="session")
def story2_collector(story2, story2_events):  # type: ignore[no-untyped-def]
    """``collect(store, only=None)``: the second story's sources into ``store``; ``(report, seconds)``."""
    return lambda store, only=None: collect_story2(store, story2, story2_events, only)


@pytest.fixture(scope="session")
def story2_source_configs(story2, story2_events) -> list[dict]:  # type: ignore[no-untyped-def]
    return story2_configs(story2, story2_events)


@pytest.fixture(scope="session")
def story2_environment(story2) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return story2_env(story2)
