"""Read side of the Marquez stand-in: rows shaped into Marquez 0.50's JSON.

Contract: ``Read(conn)`` turns rows of ``store``'s tables into the ``dict``s Marquez's
API answers with (field names, nulls, nesting): namespaces, datasets, dataset versions,
runs, jobs, and the lineage graph's ``DatasetData``/``JobData``. ``LineageReader`` is
what the lineage walk (``lineage``) reads, on one connection per request. Facets of one
name merge newest last (``merge_facets``, rows in event-time order).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import psycopg

from crossline_bed.marquez_standin.model import iso

if TYPE_CHECKING:
    from crossline_bed.marquez_standin.store import Store


def merge_facets(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Newer facets of the same name replace older ones (rows come in event-time order)."""
    merged: dict[str, Any] = {}
    for row in rows:
        merged[row["name"]] = row["facet"]
    return merged


def namespace_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "ownerName": row["owner_name"],
        "description": row["description"],
        "isHidden": False,
    }


def fields_json(fields: Any) -> list[dict[str, Any]]:
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


class Read:
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
            "fields": fields_json(version["fields"] if version else None),
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
            "fields": fields_json(row["fields"]),
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


class LineageReader:
    """What the lineage walk needs, read on one connection per request."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> "LineageReader":
        self._cm = self.store.connect()
        self.conn = self._cm.__enter__()
        self.read = Read(self.conn)
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

