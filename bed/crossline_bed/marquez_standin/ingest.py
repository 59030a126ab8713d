"""One validated event into the Marquez stand-in's tables, inside the caller's transaction.

Contract: ``ingest(conn, event, kind, now)`` stores the event raw and derives from it
what ``store``'s docstring lists, in the transaction open on ``conn``; the caller
commits, and retries the whole call after a deadlock (``DeadlockDetected``).

Locking, so that concurrent POSTs derive the same state as the same POSTs one by one
without one event holding up the others:
- the entities with one row each that an event changes, its job, its run and its parent
  job, are locked first, with transaction-level advisory locks taken in one statement in
  key order;
- the event's datasets are locked as rows, by one upsert of all of them sorted by
  (namespace, name); so events on other jobs and other datasets go on in parallel, and
  events sharing a job, run or dataset take turns;
- namespaces, which nearly every event shares, are upserted last, in one sorted
  statement, so their row locks are held only while the transaction commits.
A deadlock is left possible only through rows outside that order (a dataset reached
through a symlink alias, a run's outputs from earlier events); PostgreSQL breaks it and
the caller retries.

Large events are set-based: a fixed number of statements per event, not per dataset.
Within one event, a dataset named twice keeps its last occurrence's row values, and
symlink aliases the event registers apply from the next event on.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from crossline_bed.marquez_standin import model
from crossline_bed.marquez_standin.model import DONE_STATES

OWNER = "anonymous"
DEFAULT_SOURCE = "default"


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for an entity (a collision only serialises more)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8, person=b"crossline-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


def ingest(conn: psycopg.Connection, event: dict[str, Any], kind: str, now: datetime) -> None:
    _Ingest(conn, event, now).run(kind)


@dataclass
class _Occurrence:
    """One dataset entry of an event, with what the derivation reads from its facets."""

    namespace: str
    name: str
    is_input: bool
    facets: dict[str, Any]
    io_facets: dict[str, Any]
    source: str
    description: str | None
    lifecycle: str
    fields: list[Any] | None
    symlinks: list[tuple[str, str, str | None]]
    dataset: dict[str, Any] = field(default_factory=dict)
    primary: bool = True
    version_key: uuid.UUID | None = None
    version_uuid: uuid.UUID | None = None

    @classmethod
    def of(cls, ds: dict[str, Any], is_input: bool) -> _Occurrence:
        facets = ds.get("facets") or {}
        identifiers = (facets.get("symlinks") or {}).get("identifiers") or []
        return cls(
            namespace=ds["namespace"],
            name=ds["name"],
            is_input=is_input,
            facets=facets,
            io_facets=ds.get("inputFacets" if is_input else "outputFacets") or {},
            source=(facets.get("dataSource") or {}).get("name") or DEFAULT_SOURCE,
            description=(facets.get("documentation") or {}).get("description"),
            lifecycle=(facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange") or "",
            fields=(facets.get("schema") or {}).get("fields"),
            symlinks=[(i["namespace"], i["name"], i.get("type")) for i in identifiers if i.get("namespace") and i.get("name")],
        )

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


class _Ingest:
    def __init__(self, conn: psycopg.Connection, event: dict[str, Any], now: datetime) -> None:
        self.conn = conn
        self.event = event
        self.now = now
        self.namespaces: set[str] = set()

    def q(self, sql: str, params: Any = None) -> psycopg.Cursor:
        return self.conn.execute(sql, params)

    def namespace(self, name: str) -> str:
        self.namespaces.add(name)
        return name

    # -- the transaction's shape -------------------------------------------------------
    def run(self, kind: str) -> None:
        event = self.event
        job = event.get("job") or {}
        run_uuid = model.run_uuid(event["run"]["runId"]) if kind == model.RUN_EVENT else None
        self.lock(kind, run_uuid)
        self.q(
            "INSERT INTO lineage_events (event_time, event_type, kind, run_uuid, job_namespace,"
            " job_name, producer, event) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (self.now, event.get("eventType"), kind, run_uuid, job.get("namespace"), job.get("name"),
             event.get("producer"), Jsonb(event)),
        )
        if kind == model.RUN_EVENT:
            self.run_event()
        elif kind == model.DATASET_EVENT:
            self.datasets([], [event["dataset"]], None)
        else:
            self.job_event()
        self.q(
            "INSERT INTO namespaces (name, created_at, updated_at, owner_name)"
            " SELECT n, %s, %s, %s FROM unnest(%s::text[]) AS n ORDER BY n"
            " ON CONFLICT (name) DO UPDATE SET updated_at = EXCLUDED.updated_at",
            (self.now, self.now, OWNER, sorted(self.namespaces)),
        )

    def lock(self, kind: str, run_uuid: uuid.UUID | None) -> None:
        keys: set[int] = set()
        if kind != model.DATASET_EVENT:
            job = self.event["job"]
            keys.add(lock_key("job", model.format_namespace(job["namespace"]), job["name"]))
        if run_uuid is not None:
            keys.add(lock_key("run", str(run_uuid)))
            parent = (self.event["run"].get("facets") or {}).get("parent")
            if parent:
                keys.add(lock_key("job", model.format_namespace(parent["job"]["namespace"]), parent["job"]["name"]))
        if keys:
            self.q("SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS s",
                   (sorted(keys),))

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

    def facets(self, table: str, facets: dict[str, Any], run_uuid: uuid.UUID | None,
               job_uuid: uuid.UUID | None = None) -> None:
        """Append ``facets`` to ``run_facets`` or (with ``job_uuid``) ``job_facets``, in order."""
        if not facets:
            return
        job_column, job_value = ("job_uuid, ", "%(job)s, ") if table == "job_facets" else ("", "")
        self.q(
            f"INSERT INTO {table} ({job_column}run_uuid, event_time, event_type, name, facet)"
            f" SELECT {job_value}%(run)s, %(now)s, %(type)s, t.name, t.facet::jsonb"
            " FROM unnest(%(names)s::text[], %(facets)s::text[]) WITH ORDINALITY AS t(name, facet, n) ORDER BY t.n",
            {"job": job_uuid, "run": run_uuid, "now": self.now, "type": self.event.get("eventType"),
             "names": list(facets), "facets": [json.dumps(f) for f in facets.values()]},
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

        parent_facet = run_facets.get("parent")
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
        self.facets("run_facets", run_facets, run_uuid)
        self.facets("job_facets", job_facets, run_uuid, job["uuid"])

        inputs, outputs = event.get("inputs") or [], event.get("outputs") or []
        for io_type, datasets in (("INPUT", inputs), ("OUTPUT", outputs)):
            if not datasets:
                self.q("UPDATE job_io SET is_current = FALSE WHERE job_uuid = %s AND io_type = %s AND is_current",
                       (job["uuid"], io_type))
        self.datasets(inputs, outputs, run_uuid, record_inputs=True)

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
        self.q(
            "INSERT INTO job_io (job_uuid, job_version_uuid, dataset_uuid, io_type, is_current)"
            " SELECT %s, %s, t.dataset_uuid, t.io_type, TRUE"
            " FROM unnest(%s::uuid[], %s::text[]) AS t(dataset_uuid, io_type)"
            " ON CONFLICT (job_version_uuid, dataset_uuid, io_type)"
            " DO UPDATE SET is_current = TRUE, made_current_at = now()",
            (job["uuid"], jv["uuid"], inputs + outputs, ["INPUT"] * len(inputs) + ["OUTPUT"] * len(outputs)),
        )

    def job_event(self) -> None:
        job_in = self.event["job"]
        ns = self.namespace(model.format_namespace(job_in["namespace"]))
        job = self.upsert_job(ns, job_in["name"], job_in.get("facets") or {}, None, None)
        self.facets("job_facets", job_in.get("facets") or {}, None, job["uuid"])
        self.datasets(self.event.get("inputs") or [], self.event.get("outputs") or [], None)

    # -- datasets --------------------------------------------------------------------
    def datasets(self, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], run_uuid: uuid.UUID | None,
                 record_inputs: bool = False) -> None:
        """Upsert the datasets, pick (input) or make (output) their versions, store their facets."""
        occurrences = [_Occurrence.of(ds, True) for ds in inputs] + [_Occurrence.of(ds, False) for ds in outputs]
        if not occurrences:
            return
        for o in occurrences:
            self.namespace(o.namespace)
            for ns, _, _ in o.symlinks:
                self.namespace(ns)
        self.resolve(occurrences)
        self.symlinks(occurrences)
        self.versions(occurrences, run_uuid)
        self.dataset_facets(occurrences, run_uuid)
        if record_inputs:
            self.q(
                "INSERT INTO run_inputs (run_uuid, dataset_version_uuid) SELECT %s, v FROM unnest(%s::uuid[]) AS v"
                " ON CONFLICT DO NOTHING",
                (run_uuid, [o.version_uuid for o in occurrences if o.is_input]),
            )

    def resolve(self, occurrences: list[_Occurrence]) -> None:
        """Each occurrence's dataset row: the dataset a symlink alias names, or its own, upserted."""
        keys = sorted({o.key for o in occurrences})
        aliases = {(r["namespace"], r["name"]): r["dataset_uuid"] for r in self.q(
            "SELECT s.namespace, s.name, s.dataset_uuid FROM dataset_symlinks s"
            " JOIN unnest(%s::text[], %s::text[]) AS t(namespace, name) ON s.namespace = t.namespace AND s.name = t.name"
            " WHERE NOT s.is_primary",
            ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
        last = {o.key: o for o in occurrences if o.key not in aliases}
        own = sorted(last)
        rows = {(r["namespace"], r["name"]): r for r in self.q(
            "INSERT INTO datasets (uuid, namespace, name, physical_name, source_name, description,"
            " created_at, updated_at, is_deleted)"
            " SELECT gen_random_uuid(), t.namespace, t.name, t.name, t.source, t.description, %s, %s, t.deleted"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::boolean[])"
            " AS t(namespace, name, source, description, deleted) ORDER BY t.namespace, t.name"
            " ON CONFLICT (namespace, name) DO UPDATE SET updated_at = EXCLUDED.updated_at,"
            " source_name = EXCLUDED.source_name, description = EXCLUDED.description,"
            " is_deleted = EXCLUDED.is_deleted RETURNING uuid, namespace, name, source_name, physical_name,"
            " current_version_uuid",
            (self.now, self.now, [k[0] for k in own], [k[1] for k in own], [last[k].source for k in own],
             [last[k].description for k in own], [last[k].lifecycle.upper() == "DROP" for k in own]),
        ).fetchall()} if own else {}
        targets: dict[uuid.UUID, str | None] = {}
        for o in occurrences:
            if o.key in aliases:
                target = aliases[o.key]
                # Each write by an alias keeps the description unless it brings one.
                targets[target] = o.description if o.description is not None else targets.get(target)
        by_uuid = {r["uuid"]: r for r in self.q(
            "UPDATE datasets d SET updated_at = %s, description = COALESCE(t.description, d.description)"
            " FROM unnest(%s::uuid[], %s::text[]) AS t(uuid, description) WHERE d.uuid = t.uuid"
            " RETURNING d.uuid, d.namespace, d.name, d.source_name, d.physical_name, d.current_version_uuid",
            (self.now, sorted(targets), [targets[u] for u in sorted(targets)]),
        ).fetchall()} if targets else {}
        for o in occurrences:
            o.primary = o.key not in aliases
            o.dataset = rows[o.key] if o.primary else by_uuid[aliases[o.key]]

    def symlinks(self, occurrences: list[_Occurrence]) -> None:
        """Every dataset's own name, and the aliases its ``symlinks`` facet names (first come, kept)."""
        own = sorted({o.key: o.dataset["uuid"] for o in occurrences if o.primary}.items())
        aliases = [(ns, name, o.dataset["uuid"], kind) for o in occurrences for ns, name, kind in o.symlinks]
        rows = [(ns, name, d, True, None) for (ns, name), d in own] + [(ns, n, d, False, k) for ns, n, d, k in aliases]
        if not rows:
            return
        self.q(
            "INSERT INTO dataset_symlinks (namespace, name, dataset_uuid, is_primary, type, created_at)"
            " SELECT t.namespace, t.name, t.dataset_uuid, t.is_primary, t.type, %s"
            " FROM unnest(%s::text[], %s::text[], %s::uuid[], %s::boolean[], %s::text[]) WITH ORDINALITY"
            " AS t(namespace, name, dataset_uuid, is_primary, type, n) ORDER BY t.n"
            " ON CONFLICT (namespace, name) DO NOTHING",
            (self.now, *(list(column) for column in zip(*rows))),
        )

    def versions(self, occurrences: list[_Occurrence], run_uuid: uuid.UUID | None) -> None:
        """An input reads its dataset's current version (made if it has none); an output makes one."""
        made: dict[uuid.UUID, tuple[Any, ...]] = {}
        current: dict[uuid.UUID, uuid.UUID] = {}
        made_for_input: dict[uuid.UUID, uuid.UUID] = {}
        for o in occurrences:
            ds = o.dataset
            if o.is_input and ds["current_version_uuid"] is not None:
                o.version_uuid = ds["current_version_uuid"]
                continue
            if o.is_input and ds["uuid"] in made_for_input:
                o.version_key = made_for_input[ds["uuid"]]
                continue
            source = o.source if o.primary else ds["source_name"]
            o.version_key = model.content_version(
                ds["namespace"], source, ds["physical_name"], o.name, o.lifecycle, o.fields, run_uuid)
            made.setdefault(o.version_key, (
                ds["uuid"], ds["namespace"], ds["name"], None if o.is_input else run_uuid,
                json.dumps(o.fields) if o.fields is not None else None, o.lifecycle))
            if o.is_input:
                made_for_input[ds["uuid"]] = o.version_key
            current[ds["uuid"]] = o.version_key
        if not made:
            return
        keys = sorted(made)
        columns = list(zip(*(made[k] for k in keys)))
        uuids = {r["version"]: r["uuid"] for r in self.q(
            "INSERT INTO dataset_versions (uuid, dataset_uuid, version, namespace, name, created_at,"
            " run_uuid, fields, lifecycle_state)"
            " SELECT gen_random_uuid(), t.dataset_uuid, t.version, t.namespace, t.name, %s, t.run_uuid,"
            " t.fields::jsonb, t.lifecycle"
            " FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::uuid[], %s::text[], %s::text[])"
            " AS t(version, dataset_uuid, namespace, name, run_uuid, fields, lifecycle) ORDER BY t.version"
            " ON CONFLICT (version) DO UPDATE SET fields = COALESCE(EXCLUDED.fields, dataset_versions.fields)"
            " RETURNING uuid, version",
            (self.now, keys, *(list(c) for c in columns)),
        ).fetchall()}
        for o in occurrences:
            if o.version_key is not None:
                o.version_uuid = uuids[o.version_key]
        targets = sorted(current)
        self.q(
            "UPDATE datasets d SET current_version_uuid = t.version_uuid"
            " FROM unnest(%s::uuid[], %s::uuid[]) AS t(uuid, version_uuid) WHERE d.uuid = t.uuid",
            (targets, [uuids[current[u]] for u in targets]),
        )

    def dataset_facets(self, occurrences: list[_Occurrence], run_uuid: uuid.UUID | None) -> None:
        rows = []
        for o in occurrences:
            io_kind = "INPUT" if o.is_input else "OUTPUT"
            for kind, facets in (("DATASET", o.facets), (io_kind, o.io_facets)):
                rows += [(o.dataset["uuid"], o.version_uuid, kind, name, json.dumps(f)) for name, f in facets.items()]
        if not rows:
            return
        self.q(
            "INSERT INTO dataset_facets (dataset_uuid, dataset_version_uuid, run_uuid, event_time, event_type,"
            " kind, name, facet)"
            " SELECT t.dataset_uuid, t.version_uuid, %s, %s, %s, t.kind, t.name, t.facet::jsonb"
            " FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY"
            " AS t(dataset_uuid, version_uuid, kind, name, facet, n) ORDER BY t.n",
            (run_uuid, self.now, self.event.get("eventType"), *(list(c) for c in zip(*rows))),
        )
