"""PostgreSQL storage of the Marquez stand-in: raw events plus the entities Marquez derives.

Contract:
- ``Store(dsn).migrate()`` creates the schema if missing; it is idempotent and safe when
  several stand-ins start against one database (guarded by an advisory lock).
- ``Store.ingest(event)`` stores one validated event raw (JSONB, in arrival order) and
  derives namespaces, datasets, dataset versions, symlinks, jobs, job versions, runs and
  facets from it, in one transaction. Ingestion is serialised by a transaction-level
  advisory lock, so concurrent POSTs derive the same state as the same POSTs one by one.
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

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from crossline_bed.marquez_standin import model
from crossline_bed.marquez_standin.model import DONE_STATES, iso

OWNER = "anonymous"
DEFAULT_SOURCE = "default"
_MIGRATE_LOCK = 0x6D71_7A01
_INGEST_LOCK = 0x6D71_7A02

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


def merge_facets(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Newer facets of the same name replace older ones (rows come in event-time order)."""
    merged: dict[str, Any] = {}
    for row in rows:
        merged[row["name"]] = row["facet"]
    return merged


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
        kind = model.event_kind(event)
        now = model.parse_time(event["eventTime"], "eventTime")
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INGEST_LOCK,))
            job = event.get("job") or {}
            run = event.get("run") or {}
            run_uuid = model.run_uuid(run["runId"]) if kind == model.RUN_EVENT else None
            conn.execute(
                "INSERT INTO lineage_events (event_time, event_type, kind, run_uuid, job_namespace,"
                " job_name, producer, event) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (now, event.get("eventType"), kind, run_uuid, job.get("namespace"), job.get("name"),
                 event.get("producer"), Jsonb(event)),
            )
            if kind == model.RUN_EVENT:
                _Ingest(conn, event, now).run_event()
            elif kind == model.DATASET_EVENT:
                _Ingest(conn, event, now).dataset_event()
            else:
                _Ingest(conn, event, now).job_event()

    # ================================================================== reads ======
    def list_namespaces(self, limit: int, offset: int) -> list[dict[str, Any]]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM namespaces ORDER BY name LIMIT %s OFFSET %s", (limit, offset)
            ).fetchall()
        return [_namespace_json(r) for r in rows]

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM namespaces WHERE name = %s", (name,)).fetchone()
        return _namespace_json(row) if row else None

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
            return _Read(conn).dataset(row) if row else None

    def list_datasets(self, namespace: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM datasets WHERE namespace = %s AND NOT is_deleted ORDER BY name LIMIT %s OFFSET %s",
                (namespace, limit, offset),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) AS n FROM datasets WHERE namespace = %s AND NOT is_deleted", (namespace,)
            ).fetchone()["n"]
            read = _Read(conn)
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
            read = _Read(conn)
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
            return _Read(conn).dataset_version(owner, row)

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
            return _Read(conn).job(row) if row else None

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
            read = _Read(conn)
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
            read = _Read(conn)
            return [read.run(r) for r in rows], total

    # -- runs --------------------------------------------------------------------------
    def get_run(self, run_uuid: uuid.UUID) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE uuid = %s", (run_uuid,)).fetchone()
            return _Read(conn).run(row) if row else None

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
    def lineage_inputs(self) -> _LineageReader:
        return _LineageReader(self)


# ====================================================================== ingestion ==
class _Ingest:
    """One event's derivation, inside the ingest transaction."""

    def __init__(self, conn: psycopg.Connection, event: dict[str, Any], now: datetime) -> None:
        self.conn = conn
        self.event = event
        self.now = now

    def q(self, sql: str, params: Any = None) -> psycopg.Cursor:
        return self.conn.execute(sql, params)

    def namespace(self, name: str) -> str:
        self.q(
            "INSERT INTO namespaces (name, created_at, updated_at, owner_name) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name) DO UPDATE SET updated_at = EXCLUDED.updated_at",
            (name, self.now, self.now, OWNER),
        )
        return name

    # -- jobs ------------------------------------------------------------------------
    def upsert_job(
        self, namespace: str, name: str, facets: dict[str, Any], parent: dict[str, Any] | None,
        run_uuid: uuid.UUID | None,
    ) -> dict[str, Any]:
        doc = (facets.get("documentation") or {}).get("description")
        location = (facets.get("sourceCodeLocation") or {}).get("url")
        job_type = "STREAM" if (facets.get("jobType") or {}).get("processingType") == "STREAMING" else "BATCH"
        simple = name
        parent_uuid = parent_name = None
        if parent is not None:
            parent_uuid, parent_name = parent["uuid"], parent["name"]
            if name.startswith(parent_name + "."):
                simple = name[len(parent_name) + 1:]
        return self.q(
            "INSERT INTO jobs (uuid, namespace, name, simple_name, parent_job_uuid, parent_job_name, type,"
            " description, location, created_at, updated_at, current_run_uuid)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (namespace, name) DO UPDATE SET updated_at = EXCLUDED.updated_at,"
            " type = EXCLUDED.type, description = EXCLUDED.description, location = EXCLUDED.location,"
            " simple_name = EXCLUDED.simple_name,"
            " parent_job_uuid = COALESCE(EXCLUDED.parent_job_uuid, jobs.parent_job_uuid),"
            " parent_job_name = COALESCE(EXCLUDED.parent_job_name, jobs.parent_job_name),"
            " current_run_uuid = COALESCE(EXCLUDED.current_run_uuid, jobs.current_run_uuid)"
            " RETURNING *",
            (uuid.uuid4(), namespace, name, simple, parent_uuid, parent_name, job_type, doc, location,
             self.now, self.now, run_uuid),
        ).fetchone()

    def parent_job(self, parent: dict[str, Any]) -> dict[str, Any]:
        """The job of the parent run if known, else the parent facet's job (created if missing)."""
        parent_run = model.run_uuid(parent["run"]["runId"])
        row = self.q(
            "SELECT j.* FROM runs r JOIN jobs j ON j.uuid = r.job_uuid WHERE r.uuid = %s", (parent_run,)
        ).fetchone()
        if row is not None:
            return row
        ns = self.namespace(model.format_namespace(parent["job"]["namespace"]))
        existing = self.q("SELECT * FROM jobs WHERE namespace = %s AND name = %s", (ns, parent["job"]["name"])).fetchone()
        if existing is not None:
            return existing
        return self.upsert_job(ns, parent["job"]["name"], {}, None, None)

    # -- datasets --------------------------------------------------------------------
    def dataset(self, ds: dict[str, Any], run_uuid: uuid.UUID | None, is_input: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Upsert a dataset and pick (input) or make (output) its version; return both rows."""
        facets = ds.get("facets") or {}
        ns = self.namespace(ds["namespace"])
        name = ds["name"]
        source = (facets.get("dataSource") or {}).get("name") or DEFAULT_SOURCE
        description = (facets.get("documentation") or {}).get("description")
        lifecycle = (facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange") or ""
        alias = self.q(
            "SELECT d.* FROM dataset_symlinks s JOIN datasets d ON d.uuid = s.dataset_uuid"
            " WHERE s.namespace = %s AND s.name = %s AND NOT s.is_primary",
            (ns, name),
        ).fetchone()
        if alias is not None:
            # A name registered as another dataset's symlink resolves to that dataset.
            row = self.q(
                "UPDATE datasets SET updated_at = %s, description = COALESCE(%s, description)"
                " WHERE uuid = %s RETURNING *",
                (self.now, description, alias["uuid"]),
            ).fetchone()
        else:
            row = self.q(
                "INSERT INTO datasets (uuid, namespace, name, physical_name, source_name, description,"
                " created_at, updated_at, is_deleted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (namespace, name) DO UPDATE SET updated_at = EXCLUDED.updated_at,"
                " source_name = EXCLUDED.source_name, description = EXCLUDED.description,"
                " is_deleted = EXCLUDED.is_deleted RETURNING *",
                (uuid.uuid4(), ns, name, name, source, description, self.now, self.now,
                 lifecycle.upper() == "DROP"),
            ).fetchone()
            self.q(
                "INSERT INTO dataset_symlinks (namespace, name, dataset_uuid, is_primary, created_at)"
                " VALUES (%s, %s, %s, TRUE, %s) ON CONFLICT (namespace, name) DO NOTHING",
                (ns, name, row["uuid"], self.now),
            )
        for ident in (facets.get("symlinks") or {}).get("identifiers") or []:
            if not isinstance(ident, dict) or not ident.get("namespace") or not ident.get("name"):
                continue
            self.q(
                "INSERT INTO dataset_symlinks (namespace, name, dataset_uuid, is_primary, type, created_at)"
                " VALUES (%s, %s, %s, FALSE, %s, %s) ON CONFLICT (namespace, name) DO NOTHING",
                (self.namespace(ident["namespace"]), ident["name"], row["uuid"], ident.get("type"), self.now),
            )
        fields = (facets.get("schema") or {}).get("fields")
        version_row = None
        if is_input and row["current_version_uuid"] is not None:
            version_row = self.q(
                "SELECT * FROM dataset_versions WHERE uuid = %s", (row["current_version_uuid"],)
            ).fetchone()
        if version_row is None:
            version = model.content_version(
                row["namespace"], row["source_name"], row["physical_name"], name, lifecycle, fields, run_uuid
            )
            version_row = self.q(
                "INSERT INTO dataset_versions (uuid, dataset_uuid, version, namespace, name, created_at,"
                " run_uuid, fields, lifecycle_state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (version) DO UPDATE SET fields = COALESCE(EXCLUDED.fields, dataset_versions.fields)"
                " RETURNING *",
                (uuid.uuid4(), row["uuid"], version, row["namespace"], row["name"], self.now,
                 None if is_input else run_uuid, Jsonb(fields) if fields is not None else None, lifecycle),
            ).fetchone()
            row = self.q(
                "UPDATE datasets SET current_version_uuid = %s WHERE uuid = %s RETURNING *",
                (version_row["uuid"], row["uuid"]),
            ).fetchone()
        self.dataset_facets(row, version_row, run_uuid, "DATASET", facets)
        key = "inputFacets" if is_input else "outputFacets"
        self.dataset_facets(row, version_row, run_uuid, "INPUT" if is_input else "OUTPUT", ds.get(key) or {})
        return row, version_row

    def dataset_facets(self, ds: dict[str, Any], version: dict[str, Any], run_uuid: uuid.UUID | None,
                       kind: str, facets: dict[str, Any]) -> None:
        for name, facet in facets.items():
            self.q(
                "INSERT INTO dataset_facets (dataset_uuid, dataset_version_uuid, run_uuid, event_time,"
                " event_type, kind, name, facet) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (ds["uuid"], version["uuid"], run_uuid, self.now, self.event.get("eventType"), kind, name,
                 Jsonb(facet)),
            )

    # -- events ----------------------------------------------------------------------
    def run_event(self) -> None:
        event, now = self.event, self.now
        job_in, run_in = event["job"], event["run"]
        run_facets = run_in.get("facets") or {}
        job_facets = job_in.get("facets") or {}
        run_uuid = model.run_uuid(run_in["runId"])
        state = model.run_state(event.get("eventType"))
        ns = self.namespace(model.format_namespace(job_in["namespace"]))

        parent_facet = run_facets.get("parent") if isinstance(run_facets.get("parent"), dict) else None
        parent = self.parent_job(parent_facet) if parent_facet else None
        parent_run = model.run_uuid(parent_facet["run"]["runId"]) if parent_facet else None
        job = self.upsert_job(ns, job_in["name"], job_facets, parent, run_uuid)

        nominal = run_facets.get("nominalTime") or {}
        nominal_start = model.parse_time(nominal["nominalStartTime"], "nominalStartTime") if nominal.get("nominalStartTime") else None
        nominal_end = model.parse_time(nominal["nominalEndTime"], "nominalEndTime") if nominal.get("nominalEndTime") else None
        args: dict[str, str] = {}
        if nominal_start is not None:
            args["nominal_start_time"] = nominal["nominalStartTime"]
            if nominal_end is not None:
                args["nominal_end_time"] = nominal["nominalEndTime"]
        if parent_facet:
            args.update(run_id=parent_facet["run"]["runId"], name=parent_facet["job"]["name"],
                        namespace=parent_facet["job"]["namespace"])

        self.q(
            "INSERT INTO runs (uuid, external_id, job_uuid, parent_run_uuid, created_at, updated_at, state,"
            " nominal_start_time, nominal_end_time, args) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (uuid) DO UPDATE SET updated_at = EXCLUDED.updated_at, state = EXCLUDED.state,"
            " parent_run_uuid = COALESCE(EXCLUDED.parent_run_uuid, runs.parent_run_uuid),"
            " nominal_start_time = COALESCE(EXCLUDED.nominal_start_time, runs.nominal_start_time),"
            " nominal_end_time = COALESCE(EXCLUDED.nominal_end_time, runs.nominal_end_time),"
            " args = EXCLUDED.args",
            (run_uuid, run_in["runId"], job["uuid"], parent_run, now, now, state, nominal_start, nominal_end,
             Jsonb(args)),
        )
        if state in DONE_STATES:
            self.q("UPDATE runs SET ended_at = %s WHERE uuid = %s", (now, run_uuid))
        else:
            self.q("UPDATE runs SET started_at = LEAST(COALESCE(started_at, %s), %s) WHERE uuid = %s",
                   (now, now, run_uuid))
        for name, facet in run_facets.items():
            self.q(
                "INSERT INTO run_facets (run_uuid, event_time, event_type, name, facet) VALUES (%s, %s, %s, %s, %s)",
                (run_uuid, now, event.get("eventType"), name, Jsonb(facet)),
            )
        for name, facet in job_facets.items():
            self.q(
                "INSERT INTO job_facets (job_uuid, run_uuid, event_time, event_type, name, facet)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (job["uuid"], run_uuid, now, event.get("eventType"), name, Jsonb(facet)),
            )

        for io_type, key in (("INPUT", "inputs"), ("OUTPUT", "outputs")):
            datasets = event.get(key) or []
            if not datasets:
                self.q("UPDATE job_io SET is_current = FALSE WHERE job_uuid = %s AND io_type = %s AND is_current",
                       (job["uuid"], io_type))
            for ds in datasets:
                _, version = self.dataset(ds, run_uuid, io_type == "INPUT")
                if io_type == "INPUT":
                    self.q("INSERT INTO run_inputs VALUES (%s, %s) ON CONFLICT DO NOTHING", (run_uuid, version["uuid"]))

        if state in DONE_STATES or job["type"] == "STREAM":
            self.job_version(job, run_uuid)
        if state == "COMPLETED":
            self.q(
                "UPDATE datasets SET last_modified_at = %s WHERE uuid IN"
                " (SELECT dataset_uuid FROM dataset_versions WHERE run_uuid = %s)",
                (now, run_uuid),
            )

    def job_version(self, job: dict[str, Any], run_uuid: uuid.UUID) -> None:
        """Make the job version of a finished run current, with the run's inputs and outputs."""
        inputs = [r["dataset_uuid"] for r in self.q(
            "SELECT DISTINCT dv.dataset_uuid FROM run_inputs ri JOIN dataset_versions dv"
            " ON dv.uuid = ri.dataset_version_uuid WHERE ri.run_uuid = %s", (run_uuid,)).fetchall()]
        outputs = [r["dataset_uuid"] for r in self.q(
            "SELECT DISTINCT dataset_uuid FROM dataset_versions WHERE run_uuid = %s", (run_uuid,)).fetchall()]
        names = {r["uuid"]: (r["namespace"], r["name"]) for r in self.q(
            "SELECT uuid, namespace, name FROM datasets WHERE uuid = ANY(%s)", (inputs + outputs,)).fetchall()}
        version = model.content_version(
            job["namespace"], job["name"], sorted(names[u] for u in inputs), sorted(names[u] for u in outputs),
            job["location"],
        )
        if job["type"] == "STREAM" and job["current_version_uuid"] is not None:
            current = self.q("SELECT version FROM job_versions WHERE uuid = %s", (job["current_version_uuid"],)).fetchone()
            if current is not None and current["version"] == version:
                self.q("UPDATE runs SET job_version_uuid = %s WHERE uuid = %s", (job["current_version_uuid"], run_uuid))
                return
        jv = self.q(
            "INSERT INTO job_versions (uuid, job_uuid, version, created_at, updated_at, latest_run_uuid)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (version) DO UPDATE SET"
            " updated_at = EXCLUDED.updated_at, latest_run_uuid = EXCLUDED.latest_run_uuid RETURNING *",
            (uuid.uuid4(), job["uuid"], version, self.now, self.now, run_uuid),
        ).fetchone()
        self.q("UPDATE runs SET job_version_uuid = %s WHERE uuid = %s", (jv["uuid"], run_uuid))
        self.q("UPDATE jobs SET current_version_uuid = %s WHERE uuid = %s", (jv["uuid"], job["uuid"]))
        self.q("UPDATE job_io SET is_current = FALSE WHERE job_uuid = %s AND job_version_uuid <> %s",
               (job["uuid"], jv["uuid"]))
        for io_type, uuids in (("INPUT", inputs), ("OUTPUT", outputs)):
            for ds_uuid in uuids:
                self.q(
                    "INSERT INTO job_io (job_uuid, job_version_uuid, dataset_uuid, io_type, is_current)"
                    " VALUES (%s, %s, %s, %s, TRUE) ON CONFLICT (job_version_uuid, dataset_uuid, io_type)"
                    " DO UPDATE SET is_current = TRUE, made_current_at = now()",
                    (job["uuid"], jv["uuid"], ds_uuid, io_type),
                )

    def dataset_event(self) -> None:
        self.dataset(self.event["dataset"], None, False)

    def job_event(self) -> None:
        job_in = self.event["job"]
        ns = self.namespace(model.format_namespace(job_in["namespace"]))
        job = self.upsert_job(ns, job_in["name"], job_in.get("facets") or {}, None, None)
        for name, facet in (job_in.get("facets") or {}).items():
            self.q(
                "INSERT INTO job_facets (job_uuid, run_uuid, event_time, name, facet) VALUES (%s, NULL, %s, %s, %s)",
                (job["uuid"], self.now, name, Jsonb(facet)),
            )
        for ds in self.event.get("inputs") or []:
            self.dataset(ds, None, True)
        for ds in self.event.get("outputs") or []:
            self.dataset(ds, None, False)


# ====================================================================== reads ======
def _namespace_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "ownerName": row["owner_name"],
        "description": row["description"],
        "isHidden": False,
    }


def _fields_json(fields: Any) -> list[dict[str, Any]]:
    out = []
    for f in fields or []:
        if not isinstance(f, dict) or f.get("name") is None:
            continue
        item: dict[str, Any] = {"name": f["name"]}
        if f.get("type") is not None:
            item["type"] = f["type"]
        item["tags"] = []
        item["description"] = f.get("description")
        out.append(item)
    return out


class _Read:
    """Shapes rows into Marquez JSON on one connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def q(self, sql: str, params: Any = None) -> psycopg.Cursor:
        return self.conn.execute(sql, params)

    def _version(self, uuid_: uuid.UUID | None) -> dict[str, Any] | None:
        if uuid_ is None:
            return None
        return self.q("SELECT * FROM dataset_versions WHERE uuid = %s", (uuid_,)).fetchone()

    def dataset_facets(self, version_uuid: uuid.UUID, kinds: tuple[str, ...] = ("DATASET",),
                       run_uuid: uuid.UUID | None = None) -> dict[str, Any]:
        return merge_facets(self.q(
            "SELECT name, facet FROM dataset_facets WHERE dataset_version_uuid = %s AND kind = ANY(%s)"
            " AND (%s::uuid IS NULL OR run_uuid = %s) ORDER BY event_time, id",
            (version_uuid, list(kinds), run_uuid, run_uuid),
        ).fetchall())

    def dataset_data(self, row: dict[str, Any]) -> dict[str, Any]:
        """The lineage graph's DatasetData: a Dataset without facets, version or deletion flag."""
        version = self._version(row["current_version_uuid"])
        return {
            "id": {"namespace": row["namespace"], "name": row["name"]},
            "type": row["type"],
            "name": row["name"],
            "physicalName": row["physical_name"],
            "createdAt": iso(row["created_at"]),
            "updatedAt": iso(row["updated_at"]),
            "namespace": row["namespace"],
            "sourceName": row["source_name"],
            "fields": _fields_json(version["fields"] if version else None),
            "tags": [],
            "lastModifiedAt": iso(row["last_modified_at"]),
            "description": row["description"],
            "lastLifecycleState": version["lifecycle_state"] if version else None,
        }

    def dataset(self, row: dict[str, Any]) -> dict[str, Any]:
        data = self.dataset_data(row)
        version_uuid = row["current_version_uuid"]
        current = self._version(version_uuid)
        data.update(
            currentVersion=str(current["version"]) if current else None,
            columnLineage=None,
            facets=self.dataset_facets(version_uuid) if version_uuid else {},
            deleted=row["is_deleted"],
        )
        # Jackson leaves out a plain null (columnLineage) but writes an empty Optional as null.
        data.pop("columnLineage")
        return data

    def dataset_version(self, ds: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        run = None
        if row["run_uuid"] is not None:
            run_row = self.q("SELECT * FROM runs WHERE uuid = %s", (row["run_uuid"],)).fetchone()
            run = self.run(run_row) if run_row else None
        return {
            "id": {"namespace": row["namespace"], "name": row["name"]},
            "type": ds["type"],
            "name": row["name"],
            "physicalName": ds["physical_name"],
            "createdAt": iso(row["created_at"]),
            "version": str(row["version"]),
            "namespace": row["namespace"],
            "sourceName": ds["source_name"],
            "fields": _fields_json(row["fields"]),
            "tags": [],
            "lifecycleState": row["lifecycle_state"],
            "description": ds["description"],
            "currentSchemaVersion": None,
            "createdByRun": run,
            "facets": self.dataset_facets(row["uuid"]),
        }

    def run(self, row: dict[str, Any]) -> dict[str, Any]:
        run_uuid = row["uuid"]
        job = self.q("SELECT namespace, name FROM jobs WHERE uuid = %s", (row["job_uuid"],)).fetchone()
        duration = None
        if row["started_at"] is not None and row["ended_at"] is not None:
            duration = int((row["ended_at"] - row["started_at"]).total_seconds() * 1000)
        out: dict[str, Any] = {
            "id": str(run_uuid),
            "createdAt": iso(row["created_at"]),
            "updatedAt": iso(row["updated_at"]),
            "nominalStartTime": iso(row["nominal_start_time"]),
            "nominalEndTime": iso(row["nominal_end_time"]),
            "state": row["state"],
            "startedAt": iso(row["started_at"]),
            "endedAt": iso(row["ended_at"]),
            "durationMs": duration,
            "args": row["args"] or {},
        }
        if row["job_version_uuid"] is not None:
            jv = self.q("SELECT version FROM job_versions WHERE uuid = %s", (row["job_version_uuid"],)).fetchone()
            out["jobVersion"] = {"namespace": job["namespace"], "name": job["name"], "version": str(jv["version"])}
        inputs = self.q(
            "SELECT dv.* FROM run_inputs ri JOIN dataset_versions dv ON dv.uuid = ri.dataset_version_uuid"
            " WHERE ri.run_uuid = %s ORDER BY dv.namespace, dv.name", (run_uuid,)).fetchall()
        outputs = self.q(
            "SELECT * FROM dataset_versions WHERE run_uuid = %s ORDER BY namespace, name", (run_uuid,)).fetchall()
        out["inputDatasetVersions"] = [
            {"datasetVersionId": {"namespace": v["namespace"], "name": v["name"], "version": str(v["version"])},
             "facets": self.dataset_facets(v["uuid"], ("INPUT",), run_uuid)}
            for v in inputs
        ]
        out["outputDatasetVersions"] = [
            {"datasetVersionId": {"namespace": v["namespace"], "name": v["name"], "version": str(v["version"])},
             "facets": self.dataset_facets(v["uuid"], ("OUTPUT",), run_uuid)}
            for v in outputs
        ]
        out["facets"] = merge_facets(self.q(
            "SELECT name, facet FROM run_facets WHERE run_uuid = %s ORDER BY event_time, id", (run_uuid,)).fetchall())
        return out

    def current_io(self, job_uuid: uuid.UUID) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        rows = self.q(
            "SELECT io.io_type, d.namespace, d.name FROM job_io io JOIN datasets d ON d.uuid = io.dataset_uuid"
            " WHERE io.job_uuid = %s AND io.is_current ORDER BY d.namespace, d.name", (job_uuid,)).fetchall()
        ids = lambda kind: [{"namespace": r["namespace"], "name": r["name"]} for r in rows if r["io_type"] == kind]  # noqa: E731
        return ids("INPUT"), ids("OUTPUT")

    def job_data(self, row: dict[str, Any], latest_run: dict[str, Any] | None) -> dict[str, Any]:
        """The fields Job and the lineage graph's JobData share, in Marquez's order."""
        out: dict[str, Any] = {
            "id": {"namespace": row["namespace"], "name": row["name"]},
            "type": row["type"],
            "name": row["name"],
            "simpleName": row["simple_name"],
        }
        if row["parent_job_name"] is not None:
            out["parentJobName"] = row["parent_job_name"]
        if row["parent_job_uuid"] is not None:
            out["parentJobUuid"] = str(row["parent_job_uuid"])
        out.update(
            createdAt=iso(row["created_at"]),
            updatedAt=iso(row["updated_at"]),
            namespace=row["namespace"],
            inputs=[],
            outputs=[],
            location=row["location"],
            description=row["description"],
            latestRun=latest_run,
        )
        return out

    def job(self, row: dict[str, Any]) -> dict[str, Any]:
        runs = self.q(
            "SELECT * FROM runs WHERE job_uuid = %s ORDER BY created_at DESC, uuid LIMIT 10", (row["uuid"],)
        ).fetchall()
        latest_runs = [self.run(r) for r in runs]
        out = self.job_data(row, latest_runs[0] if latest_runs else None)
        if latest_runs:
            # Like JobDao.setJobData: the latest run's datasets, unless the current version has I/O.
            latest = latest_runs[0]
            out["inputs"] = sorted(({"namespace": v["datasetVersionId"]["namespace"], "name": v["datasetVersionId"]["name"]}
                                    for v in latest["inputDatasetVersions"]), key=lambda d: (d["namespace"], d["name"]))
            out["outputs"] = sorted(({"namespace": v["datasetVersionId"]["namespace"], "name": v["datasetVersionId"]["name"]}
                                     for v in latest["outputDatasetVersions"]), key=lambda d: (d["namespace"], d["name"]))
        inputs, outputs = self.current_io(row["uuid"])
        if inputs:
            out["inputs"] = inputs
        if outputs:
            out["outputs"] = outputs
        facets: dict[str, Any] = {}
        version = None
        if row["current_version_uuid"] is not None:
            jv = self.q("SELECT * FROM job_versions WHERE uuid = %s", (row["current_version_uuid"],)).fetchone()
            version = str(jv["version"])
            facets = merge_facets(self.q(
                "SELECT name, facet FROM job_facets WHERE run_uuid = %s ORDER BY event_time, id",
                (jv["latest_run_uuid"],)).fetchall())
        labels = [str(facets.get("jobType", {}).get(k)) for k in ("jobType", "integration")
                  if isinstance(facets.get("jobType"), dict) and facets["jobType"].get(k) is not None]
        out.update(latestRuns=latest_runs or None, facets=facets, currentVersion=version, labels=labels, tags=[])
        return out


class _LineageReader:
    """What the lineage walk needs, read on one connection per request."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> "_LineageReader":
        self._cm = self.store.connect()
        self.conn = self._cm.__enter__()
        self.read = _Read(self.conn)
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)

    def job_by_name(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.conn.execute("SELECT * FROM jobs WHERE namespace = %s AND name = %s", (namespace, name)).fetchone()

    def dataset_by_name(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store._dataset_row(self.conn, namespace, name)

    def job_for_dataset(self, dataset_uuid: uuid.UUID) -> dict[str, Any] | None:
        """Marquez's getJobFromInputOrOutput: a writer before a reader, newest version first."""
        return self.conn.execute(
            "SELECT j.* FROM job_io io JOIN job_versions jv ON jv.uuid = io.job_version_uuid"
            " JOIN jobs j ON j.uuid = io.job_uuid WHERE io.dataset_uuid = %s"
            " ORDER BY io.io_type DESC, jv.created_at DESC LIMIT 1",
            (dataset_uuid,),
        ).fetchone()

    def current_io(self) -> dict[uuid.UUID, tuple[set[uuid.UUID], set[uuid.UUID]]]:
        io: dict[uuid.UUID, tuple[set[uuid.UUID], set[uuid.UUID]]] = {}
        for r in self.conn.execute("SELECT job_uuid, dataset_uuid, io_type FROM job_io WHERE is_current").fetchall():
            entry = io.setdefault(r["job_uuid"], (set(), set()))
            entry[0 if r["io_type"] == "INPUT" else 1].add(r["dataset_uuid"])
        return io

    def jobs(self, uuids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
        return self.conn.execute("SELECT * FROM jobs WHERE uuid = ANY(%s)", (list(uuids),)).fetchall()

    def datasets(self, uuids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
        return self.conn.execute("SELECT * FROM datasets WHERE uuid = ANY(%s)", (list(uuids),)).fetchall()

    def latest_run(self, job: dict[str, Any]) -> dict[str, Any] | None:
        if job["current_run_uuid"] is None:
            return None
        row = self.conn.execute("SELECT * FROM runs WHERE uuid = %s", (job["current_run_uuid"],)).fetchone()
        return self.read.run(row) if row else None

