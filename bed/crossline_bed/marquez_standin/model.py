"""Pure helpers of the Marquez stand-in: event validation, ids, times and versions.

Contract: ``parse_event(body)`` turns a request body into a validated ``dict`` or raises
``EventRejected`` carrying the HTTP status and JSON body Marquez 0.50 would answer with,
checked in Marquez's order: what Jackson cannot read into Marquez's event model
(``jackson``: unreadable JSON, NaN/Infinity, nesting past 1000, wrong types) gets
Marquez's JSON-processing mapper's HTTP 500 with ``{"code": 400, "message": ...}``;
a missing required field Dropwizard's 422 ``{"errors": [...]}``; a namespace Marquez's
``NamespaceName`` pattern refuses 400 with no body; a NUL anywhere, which PostgreSQL
cannot store, 500 with no body (Marquez's ``onComplete``); and, the stand-in's own
limit, a time outside years 1-9999 in UTC a 400 ``{"code": 400, "message": ...}``. ``run_uuid`` maps a runId to a UUID as Marquez does (a UUID as is,
anything else through a name-based UUID). ``iso`` renders a timestamp like Java's
``Instant.toString``. ``parse_node_id`` splits ``dataset:<ns>:<name>`` the way Marquez's
``NodeId`` does, colons inside URIs included.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from crossline_bed.marquez_standin import jackson

RUN_EVENT, DATASET_EVENT, JOB_EVENT = "RunEvent", "DatasetEvent", "JobEvent"

# Marquez maps eventType to a run state with a lenient switch: anything it does not
# know (RUNNING, OTHER, a typo) is RUNNING.
_STATES = {"complete": "COMPLETED", "abort": "ABORTED", "fail": "FAILED", "start": "RUNNING"}
DONE_STATES = frozenset({"COMPLETED", "ABORTED", "FAILED"})

_NAMESPACE_PATTERN = re.compile(r"[a-zA-Z:;=/0-9_\-.@+]{1,1024}")  # NamespaceName, whole value
_NAMESPACE_FORMAT = re.compile(r"[^a-z:/A-Z0-9\-_.@+]")


class EventRejected(Exception):
    """An event Marquez would refuse; ``status`` and ``body`` are its answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def run_state(event_type: str | None) -> str:
    if event_type is None:
        return "RUNNING"
    return _STATES.get(event_type.lower(), "RUNNING")


def run_uuid(run_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(run_id)
    except ValueError:
        # Java's UUID.nameUUIDFromBytes: an MD5 of the bytes with version 3 bits set.
        digest = bytearray(hashlib.md5(run_id.encode()).digest())
        digest[6] = (digest[6] & 0x0F) | 0x30
        digest[8] = (digest[8] & 0x3F) | 0x80
        return uuid.UUID(bytes=bytes(digest))


def format_namespace(name: str) -> str:
    return _NAMESPACE_FORMAT.sub("_", name)


def parse_time(value: Any, where: str) -> datetime:
    """An ISO-8601 date-time in UTC; without an offset it is UTC (Marquez runs with TZ=UTC).

    A value Jackson cannot read is Marquez's unreadable-JSON answer (500, code 400); a
    time outside years 1-9999 once in UTC is a 400 (Python's ``datetime`` ends there).
    """
    try:
        parsed = jackson.check_time(value, where)
    except jackson.Unreadable as err:
        raise EventRejected(500, {"code": 400, "message": err.message}) from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError as err:
        raise EventRejected(
            400, {"code": 400, "message": f"{where} {value} is outside years 1-9999 UTC, which the stand-in can store"}
        ) from err


def iso(value: datetime | None) -> str | None:
    """Render like ``java.time.Instant.toString``: UTC, 0/3/6 fraction digits, ``Z``."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    micros = value.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def event_kind(event: dict[str, Any]) -> str:
    """RunEvent unless schemaURL names DatasetEvent or JobEvent, as Marquez's resolver does."""
    url = event.get("schemaURL")
    if isinstance(url, str) and "/" in url:
        tail = url[url.rfind("/"):]
        if tail == "/DatasetEvent":
            return DATASET_EVENT
        if tail == "/JobEvent":
            return JOB_EVENT
    return RUN_EVENT


def _require(errors: list[str], obj: Any, path: str) -> None:
    if obj is None:
        errors.append(f"{path} must not be null")


def _check_datasets(errors: list[str], datasets: list[Any] | None, path: str) -> None:
    for i, ds in enumerate(datasets or []):
        _require(errors, ds.get("namespace"), f"{path}[{i}].namespace")
        _require(errors, ds.get("name"), f"{path}[{i}].name")
        schema = (ds.get("facets") or {}).get("schema") or {}
        for j, field in enumerate(schema.get("fields") or []):
            if field.get("name") is None:
                errors.append(f"{path}[{i}].facets.schema.fields[{j}].name must not be null")


def _required_fields(event: dict[str, Any], kind: str) -> list[str]:
    """Bean validation's ``@NotNull`` failures (Dropwizard answers them with 422)."""
    errors: list[str] = []
    _require(errors, event.get("eventTime"), "eventTime")
    _require(errors, event.get("producer"), "producer")
    if kind in (RUN_EVENT, JOB_EVENT):
        job = event.get("job")
        _require(errors, job, "job")
        if job is not None:
            _require(errors, job.get("namespace"), "job.namespace")
            _require(errors, job.get("name"), "job.name")
        _check_datasets(errors, event.get("inputs"), "inputs")
        _check_datasets(errors, event.get("outputs"), "outputs")
    if kind == RUN_EVENT:
        run = event.get("run")
        _require(errors, run, "run")
        if run is not None:
            _require(errors, run.get("runId"), "run.runId")
            parent = (run.get("facets") or {}).get("parent")
            if parent is not None:
                _require(errors, parent.get("run"), "run.facets.parent.run")
                _require(errors, parent.get("job"), "run.facets.parent.job")
                if parent.get("run") is not None:
                    _require(errors, parent["run"].get("runId"), "run.facets.parent.run.runId")
                if parent.get("job") is not None:
                    _require(errors, parent["job"].get("namespace"), "run.facets.parent.job.namespace")
                    _require(errors, parent["job"].get("name"), "run.facets.parent.job.name")
    if kind == DATASET_EVENT:
        _require(errors, event.get("dataset"), "dataset")
        if event.get("dataset") is not None:
            _check_datasets(errors, [event["dataset"]], "dataset")
    return errors


_SPECS = {RUN_EVENT: jackson.RUN_EVENT, JOB_EVENT: jackson.JOB_EVENT, DATASET_EVENT: jackson.DATASET_EVENT}


def event_times(event: dict[str, Any]) -> list[tuple[str, Any]]:
    """The event's times as (where, value): eventTime and the nominalTime facet's."""
    times = [("eventTime", event.get("eventTime"))]
    nominal = ((event.get("run") or {}).get("facets") or {}).get("nominalTime") or {}
    times += [(key, nominal[key]) for key in ("nominalStartTime", "nominalEndTime") if nominal.get(key) is not None]
    return times


def parse_event(body: bytes) -> dict[str, Any]:
    """Validate a POSTed event as Marquez 0.50 does; return it parsed, as Marquez would store it.

    In Marquez's order: Jackson reads the body into the event model (refusals: 500 with
    ``{"code": 400}``); bean validation (422); the namespaces (400); PostgreSQL, which
    cannot store a NUL (500, no body). Last comes the stand-in's own limit, times past
    year 9999 in UTC (400), which Marquez would store.
    """
    try:
        read = jackson.read(body)
        event = read.value
        if not isinstance(event, dict):
            raise jackson.Unreadable("Cannot deserialize value of type `marquez.service.models.BaseEvent` from non-object")
        kind = event_kind(event)
        jackson.conform(event, _SPECS[kind])
    except jackson.Unreadable as err:
        raise EventRejected(500, {"code": 400, "message": err.message}) from err
    errors = _required_fields(event, kind)
    if errors:
        raise EventRejected(422, {"errors": sorted(errors)})
    # A namespace NamespaceName refuses is an IllegalArgumentException: 400, no body.
    namespaces = [ds.get("namespace") for key in ("inputs", "outputs") for ds in (event.get(key) or [])]
    if kind == DATASET_EVENT:
        namespaces.append(event["dataset"]["namespace"])
    if kind != DATASET_EVENT:
        namespaces.append(format_namespace(event["job"]["namespace"]))
    for ns in namespaces:
        if not _NAMESPACE_PATTERN.fullmatch(ns):
            raise EventRejected(400, {})
    if read.has_nul:
        # PostgreSQL refuses NUL in text and in jsonb; Marquez's onComplete answers 500, no body.
        raise EventRejected(500, {})
    for where, value in event_times(event):
        parse_time(value, where)
    return event


# -- versions --------------------------------------------------------------------------
_VERSION_NS = uuid.UUID("6f1d2a52-58c8-4f0e-9a55-7a0c5b3d1e10")


def content_version(*parts: Any) -> uuid.UUID:
    """A deterministic version UUID over ``parts`` (Marquez hashes the same inputs)."""
    return uuid.uuid5(_VERSION_NS, json.dumps(parts, sort_keys=True, default=str))


# -- node ids --------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeId:
    kind: str  # "dataset" | "job" | "datasetField" | "run"
    namespace: str
    name: str

    @property
    def value(self) -> str:
        return f"{self.kind}:{self.namespace}:{self.name}"


_URI_COLON = re.compile(r":(?!//|\d+)")


def parse_node_id(value: str) -> NodeId:
    """Split like Marquez's ``NodeId``; raises ``ValueError`` on an id it refuses."""
    if not re.match(r"^(dataset|datasetField|job|run):.*$", value):
        raise ValueError(f"node ID ({value}) must start with 'dataset', 'datasetField', 'job' or 'run'")
    kind = value.split(":", 1)[0]
    if kind not in ("dataset", "job"):
        raise ValueError(f"Node '{value}' must be of type dataset or job!")
    parts = re.split(r"[:#]", value)
    if len(parts) < 3:
        raise ValueError(f"Expected NodeId of type {kind} with 3 parts. Got: {value}")
    if len(parts) == 3:
        return NodeId(kind, parts[1], parts[2])
    found: list[str] = []
    prev = 0
    for match in _URI_COLON.finditer(value):
        found.append(value[prev:match.start()])
        prev = match.end()
        if len(found) == 2:
            break
    if len(found) < 2:
        raise ValueError(f"Expected NodeId of type {kind} with 3 parts. Got: {value}")
    return NodeId(kind, found[1], value[prev:])
