"""PostgreSQL storage of the Marquez stand-in: raw events plus the entities Marquez derives.

Contract:
- ``Store(dsn).migrate()`` creates the schema if missing; it is idempotent and safe when
  several stand-ins start against one database (guarded by an advisory lock).
- ``Store.ingest(event)`` stores one validated event raw (JSONB, in arrival order) and
  derives namespaces, datasets, dataset versions, symlinks, jobs, job versions, runs and
  facets from it, in one transaction (``ingest``). No lock is global: events lock their
  own job, run and datasets, so a large event holds up only events that share them, and
  concurrent POSTs derive the same state as the same POSTs one by one. A transaction
  PostgreSQL rolls back for a deadlock is retried (up to 5 attempts in all).
- The read methods return plain ``dict``s already shaped like Marquez 0.50's JSON (field
  names, nulls, nesting); ``None`` means "not found" and the API turns it into a 404.

Derivation follows Marquez's ``OpenLineageDao.updateMarquezModel``:
- every namespace seen (job's, datasets', symlinks') is upserted, owner ``anonymous``;
- a run's state comes from eventType (START/RUNNING/OTHER/unknown -> RUNNING,
  COMPLETE -> COMPLETED, FAIL -> FAILED, ABORT -> ABORTED); startedAt is the first
  starting event's time, endedAt the terminal event's time;
- each output creates a dataset version per run (same run, same version); an input
  reuses the dataset's current version and only creates one if the dataset has none;
- a job version is made when a run ends, from all the run's inputs and outputs; it
  becomes the job's current version and its inputs/outputs the job's current I/O,
  which is what the lineage graph walks; an event without inputs (or outputs) marks the
  job's current inputs (or outputs) as previous, as Marquez does;
- facets merge per name in event-time order (newer wins), per run, job or dataset
  version; COMPLETE sets ``lastModifiedAt`` on the run's output datasets;
- the ``symlinks`` dataset facet registers its identifiers as aliases of the dataset:
  the dataset keeps its own namespace and name, and a lookup or a later event by an
  alias resolves to it;
- the ``parent`` run facet links the job to a parent job (created if unknown) and the
  run to its parent run; ``simpleName`` drops the parent's ``name.`` prefix.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import psycopg.errors
from psycopg.rows import dict_row

from crossline_bed.marquez_standin import ingest, model
from crossline_bed.marquez_standin.views import LineageReader, Read, merge_facets, namespace_json

log = logging.getLogger(__name__)
_MIGRATE_LOCK = 0x6D71_7A01
_ATTEMPTS = 5  # a deadlock PostgreSQL broke is retried this many times in all

SCHEMA = """
CREATE TABLE IF NOT EXISTS lineage_events (
    seq           BIGSERIAL PRIMARY KEY,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    event_time    TIMESTAMPTZ NOT NULL,
    event_type    TEXT,
    kind          TEXT NOT NULL,
    run_uuid      UUID,
    job_namespace TEXT,
    job_name      TEXT,
    producer      TEXT,
    event         JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS lineage_events_time ON lineage_events (event_time);
CREATE TABLE IF NOT EXISTS namespaces (
    name        TEXT PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    owner_name  TEXT NOT NULL,
    description TEXT
);
CREATE TABLE IF NOT EXISTS datasets (
    uuid                 UUID PRIMARY KEY,
    namespace            TEXT NOT NULL,
    name                 TEXT NOT NULL,
    physical_name        TEXT NOT NULL,
    type                 TEXT NOT NULL DEFAULT 'DB_TABLE',
    source_name          TEXT NOT NULL,
    description          TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    current_version_uuid UUID,
    last_modified_at     TIMESTAMPTZ,
    is_deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS dataset_symlinks (
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    dataset_uuid UUID NOT NULL REFERENCES datasets (uuid),
    is_primary   BOOLEAN NOT NULL,
    type         TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS dataset_versions (
    uuid            UUID PRIMARY KEY,
    dataset_uuid    UUID NOT NULL REFERENCES datasets (uuid),
    version         UUID NOT NULL UNIQUE,
    namespace       TEXT NOT NULL,
    name            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    run_uuid        UUID,
    fields          JSONB,
    lifecycle_state TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS dataset_facets (
    id                   BIGSERIAL PRIMARY KEY,
    dataset_uuid         UUID NOT NULL,
    dataset_version_uuid UUID NOT NULL,
    run_uuid             UUID,
    event_time           TIMESTAMPTZ NOT NULL,
    event_type           TEXT,
    kind                 TEXT NOT NULL,
    name                 TEXT NOT NULL,
    facet                JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS dataset_facets_version ON dataset_facets (dataset_version_uuid);
CREATE TABLE IF NOT EXISTS jobs (
    uuid                 UUID PRIMARY KEY,
    namespace            TEXT NOT NULL,
    name                 TEXT NOT NULL,
    simple_name          TEXT NOT NULL,
    parent_job_uuid      UUID,
    parent_job_name      TEXT,
    type                 TEXT NOT NULL,
    description          TEXT,
    location             TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    current_version_uuid UUID,
    current_run_uuid     UUID,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS job_versions (
    uuid            UUID PRIMARY KEY,
    job_uuid        UUID NOT NULL REFERENCES jobs (uuid),
    version         UUID NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    latest_run_uuid UUID
);
CREATE TABLE IF NOT EXISTS job_io (
    job_uuid         UUID NOT NULL,
    job_version_uuid UUID NOT NULL,
    dataset_uuid     UUID NOT NULL,
    io_type          TEXT NOT NULL,
    is_current       BOOLEAN NOT NULL,
    made_current_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_version_uuid, dataset_uuid, io_type)
);
CREATE TABLE IF NOT EXISTS runs (
    uuid               UUID PRIMARY KEY,
    external_id        TEXT NOT NULL,
    job_uuid           UUID NOT NULL REFERENCES jobs (uuid),
    parent_run_uuid    UUID,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    state              TEXT NOT NULL,
    started_at         TIMESTAMPTZ,
    ended_at           TIMESTAMPTZ,
    nominal_start_time TIMESTAMPTZ,
    nominal_end_time   TIMESTAMPTZ,
    job_version_uuid   UUID,
    args               JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job_uuid, created_at);
CREATE TABLE IF NOT EXISTS run_inputs (
    run_uuid             UUID NOT NULL,
    dataset_version_uuid UUID NOT NULL,
    PRIMARY KEY (run_uuid, dataset_version_uuid)
);
CREATE TABLE IF NOT EXISTS run_facets (
    id         BIGSERIAL PRIMARY KEY,
    run_uuid   UUID NOT NULL,
    event_time TIMESTAMPTZ NOT NULL,
    event_type TEXT,
    name       TEXT NOT NULL,
    facet      JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS run_facets_run ON run_facets (run_uuid);
CREATE TABLE IF NOT EXISTS job_facets (
    id         BIGSERIAL PRIMARY KEY,
    job_uuid   UUID NOT NULL,
    run_uuid   UUID,
    event_time TIMESTAMPTZ NOT NULL,
    event_type TEXT,
    name       TEXT NOT NULL,
    facet      JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS job_facets_run ON job_facets (run_uuid);
"""


class Store:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            yield conn

    def migrate(self) -> None:
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            conn.execute(SCHEMA)

    def ping(self) -> None:
        with self.connect() as conn:
            conn.execute("SELECT 1")

    # ================================================================== ingestion ==
    def ingest(self, event: dict[str, Any]) -> None:
        """Store one validated event and derive from it, in one transaction (see ``ingest``)."""
        kind = model.event_kind(event)
        now = model.parse_time(event["eventTime"], "eventTime")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self.connect() as conn:
                    ingest.ingest(conn, event, kind, now)
                return
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as err:
                if attempt == _ATTEMPTS:
                    raise
                log.info("ingest rolled back (%s), attempt %d of %d: retrying", err.sqlstate, attempt, _ATTEMPTS)

    # ================================================================== reads ======
    def list_namespaces(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM namespaces ORDER BY name LIMIT %s OFFSET %s", (limit, offset)
            ).fetchall()
        return [namespace_json(r) for r in rows]

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM namespaces WHERE name = %s", (name,)).fetchone()
        return namespace_json(row) if row else None

    def namespace_exists(self, name: str) -> bool:
        return self.get_namespace(name) is not None

    # -- datasets ----------------------------------------------------------------------
    def _dataset_row(self, conn: psycopg.Connection, namespace: str, name: str) -> dict[str, Any] | None:
        return conn.execute(
            "SELECT d.* FROM dataset_symlinks s JOIN datasets d ON d.uuid = s.dataset_uuid"
            " WHERE s.namespace = %s AND s.name = %s",
            (namespace, name),
        ).fetchone()

    def dataset_exists(self, namespace: str, name: str) -> bool:
        with self.connect() as conn:
            return self._dataset_row(conn, namespace, name) is not None

    def get_dataset(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = self._dataset_row(conn, namespace, name)
            return Read(conn).dataset(row) if row else None

    def list_datasets(self, namespace: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM datasets WHERE namespace = %s AND NOT is_deleted ORDER BY name LIMIT %s OFFSET %s",
                (namespace, limit, offset),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) AS n FROM datasets WHERE namespace = %s AND NOT is_deleted", (namespace,)
            ).fetchone()["n"]
            read = Read(conn)
            return [read.dataset(r) for r in rows], total

    def list_dataset_versions(
        self, namespace: str, name: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        with self.connect() as conn:
            ds = self._dataset_row(conn, namespace, name)
            if ds is None:
                return [], 0
            rows = conn.execute(
                "SELECT * FROM dataset_versions WHERE dataset_uuid = %s ORDER BY created_at DESC, version"
                " LIMIT %s OFFSET %s",
                (ds["uuid"], limit, offset),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) AS n FROM dataset_versions WHERE dataset_uuid = %s", (ds["uuid"],)
            ).fetchone()["n"]
            read = Read(conn)
            return [read.dataset_version(ds, r) for r in rows], total

    def get_dataset_version(self, namespace: str, name: str, version: uuid.UUID) -> dict[str, Any] | None:
        with self.connect() as conn:
            ds = self._dataset_row(conn, namespace, name)
            if ds is None:
                return None
            row = conn.execute(
                "SELECT * FROM dataset_versions WHERE version = %s", (version,)
            ).fetchone()
            if row is None:
                return None
            owner = conn.execute("SELECT * FROM datasets WHERE uuid = %s", (row["dataset_uuid"],)).fetchone()
            return Read(conn).dataset_version(owner, row)

    # -- jobs --------------------------------------------------------------------------
    def _job_row(self, conn: psycopg.Connection, namespace: str, name: str) -> dict[str, Any] | None:
        return conn.execute(
            "SELECT * FROM jobs WHERE namespace = %s AND name = %s", (namespace, name)
        ).fetchone()

    def job_exists(self, namespace: str, name: str) -> bool:
        with self.connect() as conn:
            return self._job_row(conn, namespace, name) is not None

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = self._job_row(conn, namespace, name)
            return Read(conn).job(row) if row else None

    def list_jobs(
        self, namespace: str | None, states: list[str] | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT j.* FROM jobs j LEFT JOIN runs r ON r.uuid = j.current_run_uuid"
                " WHERE (%(ns)s::text IS NULL OR j.namespace = %(ns)s)"
                " AND (%(states)s::text[] IS NULL OR r.state = ANY(%(states)s) OR r.uuid IS NULL)"
                " ORDER BY j.updated_at DESC, j.name LIMIT %(limit)s OFFSET %(offset)s",
                {"ns": namespace, "states": states, "limit": limit, "offset": offset},
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) AS n FROM jobs WHERE (%(ns)s::text IS NULL OR namespace = %(ns)s)",
                {"ns": namespace},
            ).fetchone()["n"]
            read = Read(conn)
            return [read.job(r) for r in rows], total

    def list_job_runs(
        self, namespace: str, name: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        with self.connect() as conn:
            job = self._job_row(conn, namespace, name)
            if job is None:
                return [], 0
            rows = conn.execute(
                "SELECT * FROM runs WHERE job_uuid = %s ORDER BY created_at DESC, uuid LIMIT %s OFFSET %s",
                (job["uuid"], limit, offset),
            ).fetchall()
            total = conn.execute("SELECT count(*) AS n FROM runs WHERE job_uuid = %s", (job["uuid"],)).fetchone()["n"]
            read = Read(conn)
            return [read.run(r) for r in rows], total

    # -- runs --------------------------------------------------------------------------
    def get_run(self, run_uuid: uuid.UUID) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE uuid = %s", (run_uuid,)).fetchone()
            return Read(conn).run(row) if row else None

    def run_facets(self, run_uuid: uuid.UUID, kind: str) -> dict[str, Any] | None:
        """``{"runId", "facets"}`` for ``kind`` "run" or "job"; ``None`` when there are none."""
        table = "run_facets" if kind == "run" else "job_facets"
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT name, facet FROM {table} WHERE run_uuid = %s ORDER BY event_time, id", (run_uuid,)
            ).fetchall()
        if not rows:
            return None
        return {"runId": str(run_uuid), "facets": merge_facets(rows)}

    # -- events ------------------------------------------------------------------------
    def list_events(
        self, before: datetime, after: datetime, ascending: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        order = "ASC" if ascending else "DESC"
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT event FROM lineage_events WHERE event_time < %s AND event_time >= %s"
                f" ORDER BY event_time {order}, seq {order} LIMIT %s OFFSET %s",
                (before, after, limit, offset),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) AS n FROM lineage_events WHERE event_time < %s AND event_time >= %s",
                (before, after),
            ).fetchone()["n"]
        return [r["event"] for r in rows], total

    # -- lineage -----------------------------------------------------------------------
    def lineage_inputs(self) -> LineageReader:
        return LineageReader(self)
