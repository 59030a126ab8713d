"""HTTP layer of the Marquez stand-in: the Marquez 0.50 REST subset, and an admin app.

Contract: ``api_app(store)`` is a WSGI app serving ``/api/v1/...`` with Marquez 0.50's
paths, query parameters, status codes and JSON shapes; ``admin_app(store)`` serves
``/healthcheck`` (200 and JSON when PostgreSQL answers, 500 otherwise) and ``/ping``, as
Dropwizard's admin connector does. Every response carries ``X-Crossline-Standin`` so it
cannot be mistaken for Marquez.

Routing works on the raw, still-encoded path, as Jersey does: a ``%2F`` inside a dataset
name stays part of the name, so ``datasets/a%2Fb/versions`` is the versions of ``a/b``.

Errors mirror Marquez/Dropwizard: 404 ``{"code": 404, "message": "Dataset 'x' not
found."}`` for an unknown entity, 404 ``HTTP 404 Not Found`` for an unknown path or an
unparseable path or query parameter (Jersey's answer to a failed conversion), 400
``{"errors": [...]}`` for a constraint on a query parameter, and for POST /lineage the
answers described in ``model.parse_event``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from crossline_bed.marquez_standin import model
from crossline_bed.marquez_standin.lineage import lineage
from crossline_bed.marquez_standin.store import Store

log = logging.getLogger(__name__)

STANDIN_HEADER = ("X-Crossline-Standin", "marquez-0.50-api")
_DEFAULT_BEFORE = "2030-01-01T00:00:00+00:00"
_DEFAULT_AFTER = "1970-01-01T00:00:00+00:00"
_JAVA_INT = (-(2**31), 2**31 - 1)


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def not_found(message: str = "HTTP 404 Not Found") -> ApiError:
    return ApiError(404, {"code": 404, "message": message})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


def _int_param(request: Request, name: str, default: int, minimum: int | None = 0) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise not_found() from err
    if not _JAVA_INT[0] <= value <= _JAVA_INT[1]:
        raise not_found()  # Jersey cannot convert it to a Java int either
    if minimum is not None and value < minimum:
        raise ApiError(400, {"errors": [f"query param {name} must be greater than or equal to {minimum}"]})
    return value


def _time_param(request: Request, name: str, default: str) -> datetime:
    raw = request.args.get(name) or default
    try:
        return model.parse_time(raw, name)
    except model.EventRejected as err:
        raise ApiError(400, {"code": 400, "message": f"{name} is not a valid date-time: {raw!r}"}) from err


def _uuid_segment(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as err:
        raise not_found() from err


class StandinApi:
    """The /api/v1 resources; one method per Marquez resource method."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # (method, pattern over decoded segments) -> handler; segments are matched one by one.
        self.routes: list[tuple[str, tuple[str, ...], Callable[..., Response]]] = [
            ("POST", ("lineage",), self.post_lineage),
            ("GET", ("lineage",), self.get_lineage),
            ("GET", ("events", "lineage"), self.list_events),
            ("GET", ("namespaces",), self.list_namespaces),
            ("GET", ("namespaces", "*"), self.get_namespace),
            ("GET", ("namespaces", "*", "datasets"), self.list_datasets),
            ("GET", ("namespaces", "*", "datasets", "*"), self.get_dataset),
            ("GET", ("namespaces", "*", "datasets", "*", "versions"), self.list_dataset_versions),
            ("GET", ("namespaces", "*", "datasets", "*", "versions", "*"), self.get_dataset_version),
            ("GET", ("jobs",), self.list_all_jobs),
            ("GET", ("namespaces", "*", "jobs"), self.list_jobs),
            ("GET", ("namespaces", "*", "jobs", "*"), self.get_job),
            ("GET", ("namespaces", "*", "jobs", "*", "runs"), self.list_job_runs),
            ("GET", ("jobs", "runs", "*"), self.get_run),
            ("GET", ("jobs", "runs", "*", "facets"), self.get_run_facets),
        ]

    # -- dispatch ----------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except ApiError as err:
            response = _json(err.body, err.status) if err.body != {} else Response(status=err.status)
        except HTTPException as err:
            response = _json({"code": err.code, "message": f"HTTP {err.code} {err.name}"}, err.code or 500)
        except Exception:  # a stand-in bug must still answer, like Dropwizard's 500 mapper
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = _json({"code": 500, "message": "There was an error processing your request. It has been logged."}, 500)
        response.headers[STANDIN_HEADER[0]] = STANDIN_HEADER[1]
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        raw = environ_raw_path(request.environ)
        if not raw.startswith("/api/v1/"):
            raise not_found()
        segments = [unquote(s) for s in raw[len("/api/v1/"):].rstrip("/").split("/")]
        allowed = False
        for method, pattern, handler in self.routes:
            if len(pattern) != len(segments):
                continue
            if all(p == "*" or p == s for p, s in zip(pattern, segments)):
                if method != request.method:
                    allowed = True
                    continue
                args = [s for p, s in zip(pattern, segments) if p == "*"]
                return handler(request, *args)
        if allowed:
            raise ApiError(405, {"code": 405, "message": "HTTP 405 Method Not Allowed"})
        raise not_found()

    # -- checks (BaseResource.throwIfNotExists) -----------------------------------------
    def _namespace(self, ns: str) -> None:
        if not self.store.namespace_exists(ns):
            raise not_found(f"Namespace '{ns}' not found.")

    def _dataset(self, ns: str, name: str) -> None:
        if not self.store.dataset_exists(ns, name):
            raise not_found(f"Dataset '{name}' not found.")

    def _job(self, ns: str, name: str) -> None:
        if not self.store.job_exists(ns, name):
            raise not_found(f"Job '{name}' not found.")

    # -- OpenLineageResource -------------------------------------------------------------
    def post_lineage(self, request: Request) -> Response:
        if request.mimetype != "application/json":
            raise ApiError(415, {"code": 415, "message": "HTTP 415 Unsupported Media Type"})
        try:
            event = model.parse_event(request.get_data())
        except model.EventRejected as err:
            raise ApiError(err.status, err.body) from err
        self.store.ingest(event)
        return Response(status=201)

    def get_lineage(self, request: Request) -> Response:
        raw = request.args.get("nodeId")
        if raw is None:
            raise ApiError(400, {"errors": ["query param nodeId must not be null"]})
        try:
            node = model.parse_node_id(raw)
        except ValueError as err:
            raise not_found() from err
        depth = _int_param(request, "depth", 20, minimum=None)
        if node.kind == "dataset":
            self._dataset(node.namespace, node.name)
        else:
            self._job(node.namespace, node.name)
        with self.store.lineage_inputs() as reader:
            return _json(lineage(reader, node, depth))

    def list_events(self, request: Request) -> Response:
        before = _time_param(request, "before", _DEFAULT_BEFORE)
        after = _time_param(request, "after", _DEFAULT_AFTER)
        direction = (request.args.get("sortDirection") or "desc").lower()
        if direction not in ("asc", "desc"):
            raise not_found()
        limit = _int_param(request, "limit", 100)
        offset = _int_param(request, "offset", 0)
        events, total = self.store.list_events(before, after, direction == "asc", limit, offset)
        return _json({"events": events, "totalCount": total})

    # -- NamespaceResource ---------------------------------------------------------------
    def list_namespaces(self, request: Request) -> Response:
        limit, offset = _int_param(request, "limit", 100), _int_param(request, "offset", 0)
        return _json({"namespaces": self.store.list_namespaces(limit, offset)})

    def get_namespace(self, request: Request, ns: str) -> Response:
        found = self.store.get_namespace(ns)
        if found is None:
            raise not_found(f"Namespace '{ns}' not found.")
        return _json(found)

    # -- DatasetResource -----------------------------------------------------------------
    def list_datasets(self, request: Request, ns: str) -> Response:
        limit, offset = _int_param(request, "limit", 100), _int_param(request, "offset", 0)
        self._namespace(ns)
        datasets, total = self.store.list_datasets(ns, limit, offset)
        return _json({"datasets": datasets, "totalCount": total})

    def get_dataset(self, request: Request, ns: str, name: str) -> Response:
        self._namespace(ns)
        found = self.store.get_dataset(ns, name)
        if found is None:
            raise not_found(f"Dataset '{name}' not found.")
        return _json(found)

    def list_dataset_versions(self, request: Request, ns: str, name: str) -> Response:
        limit, offset = _int_param(request, "limit", 100), _int_param(request, "offset", 0)
        self._namespace(ns)
        self._dataset(ns, name)
        versions, total = self.store.list_dataset_versions(ns, name, limit, offset)
        return _json({"versions": versions, "totalCount": total})

    def get_dataset_version(self, request: Request, ns: str, name: str, version: str) -> Response:
        version_uuid = _uuid_segment(version)
        self._namespace(ns)
        self._dataset(ns, name)
        found = self.store.get_dataset_version(ns, name, version_uuid)
        if found is None:
            raise not_found(f"Dataset version '{version_uuid}' not found.")
        return _json(found)

    # -- JobResource ---------------------------------------------------------------------
    def _list_jobs(self, request: Request, ns: str | None) -> Response:
        limit, offset = _int_param(request, "limit", 100), _int_param(request, "offset", 0)
        states = request.args.getlist("lastRunStates") or None
        valid = {"NEW", "RUNNING", "COMPLETED", "ABORTED", "FAILED", "OTHER"}
        if states and not set(states) <= valid:
            raise not_found()
        jobs, total = self.store.list_jobs(ns, states, limit, offset)
        return _json({"jobs": jobs, "totalCount": total})

    def list_all_jobs(self, request: Request) -> Response:
        return self._list_jobs(request, None)

    def list_jobs(self, request: Request, ns: str) -> Response:
        # Marquez does not check the namespace here: an unknown one lists no jobs.
        return self._list_jobs(request, ns)

    def get_job(self, request: Request, ns: str, name: str) -> Response:
        self._namespace(ns)
        found = self.store.get_job(ns, name)
        if found is None:
            raise not_found(f"Job '{name}' not found.")
        return _json(found)

    def list_job_runs(self, request: Request, ns: str, name: str) -> Response:
        limit, offset = _int_param(request, "limit", 100), _int_param(request, "offset", 0)
        self._namespace(ns)
        self._job(ns, name)
        runs, total = self.store.list_job_runs(ns, name, limit, offset)
        return _json({"runs": runs, "totalCount": total})

    # -- RunResource ---------------------------------------------------------------------
    def get_run(self, request: Request, run_id: str) -> Response:
        run_uuid = _uuid_segment(run_id)
        found = self.store.get_run(run_uuid)
        if found is None:
            raise not_found(f"Run '{run_uuid}' not found.")
        return _json(found)

    def get_run_facets(self, request: Request, run_id: str) -> Response:
        run_uuid = _uuid_segment(run_id)
        kind = request.args.get("type")
        if kind is None:
            raise ApiError(400, {"errors": ["query param type must not be null"]})
        if kind.lower() not in ("run", "job", "dataset"):
            raise not_found()
        if self.store.get_run(run_uuid) is None:
            raise not_found(f"Run '{run_uuid}' not found.")
        facets = None if kind.lower() == "dataset" else self.store.run_facets(run_uuid, kind.lower())
        if facets is None:
            # Jersey answers Response.ok(null) with 204 and no body.
            return Response(status=204)
        return _json(facets)


def environ_raw_path(environ: dict[str, Any]) -> str:
    """The request path before percent-decoding (werkzeug's server keeps it in RAW_URI)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        path = re.sub(r"^[a-z]+://[^/]+", "", path)
        return path or "/"
    # Without the raw URI, fall back to the decoded path (a %2F is then a separator).
    return environ.get("PATH_INFO", "/")


def api_app(store: Store) -> StandinApi:
    return StandinApi(store)


def admin_app(store: Store) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/ping":
            response = Response("pong\n", mimetype="text/plain")
        elif request.path == "/healthcheck":
            try:
                store.ping()
                pg = {"healthy": True, "duration": 0, "timestamp": datetime.now().astimezone().isoformat()}
                status = 200
            except Exception as err:  # any database failure is an unhealthy check, not a crash
                pg = {"healthy": False, "message": str(err)}
                status = 500
            body = {
                "crossline-marquez-standin": {"healthy": True, "message": "crossline Marquez API stand-in"},
                "deadlocks": {"healthy": True},
                "postgresql": pg,
            }
            response = _json(body, status)
        else:
            response = _json({"code": 404, "message": "HTTP 404 Not Found"}, 404)
        response.headers[STANDIN_HEADER[0]] = STANDIN_HEADER[1]
        return response(environ, start_response)

    return app
