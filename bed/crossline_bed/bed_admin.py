"""Admin routes of the bed's moto server, served beside moto's own app.

Contract: ``BedApplication(moto_app)`` is the WSGI app the moto server process runs
(``crossline_bed.aws.serve``): paths under ``/crossline-bed/`` go to the routes below,
everything else to moto unchanged. Bodies are JSON; errors are ``{"error": message}``
with HTTP 400 (bad body), 404 (unknown path) or 405 (wrong method).

- ``GET /crossline-bed/clock`` -> ``{"now": iso, "travelling": bool}``.
- ``POST /crossline-bed/clock`` ``{"at": "2027-03-06T03:13:30Z"}`` moves the server's
  clock there and lets it tick on; ``{"at": null}`` returns to real time. Answers like
  GET. See ``crossline_bed.clock``.
- ``POST /crossline-bed/faults`` ``{"glue_job": name, "error": message}``: the next run
  of that Glue job fails with that ErrorMessage and writes no output. ``GET`` lists the
  faults not yet used, ``DELETE`` clears them; both answer ``{"faults": {job: [error]}}``.
  See ``crossline_bed.faults``.

``install()`` makes ``POST /moto-api/reset`` (moto's own route) also set the clock back
to real time and clear the faults, so a reset bed is a clean bed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from crossline_bed import clock, faults
from crossline_bed.moto_ext import wrap_after

PREFIX = "/crossline-bed/"
_MARK = "_crossline_bed_admin"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BadRequest(Exception):
    """A request body the admin routes cannot take; answered with HTTP 400."""


class BedApplication:
    """moto's WSGI app with the bed's admin routes in front of it."""

    def __init__(self, moto_app: WSGIApp) -> None:
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self.moto_app(environ, start_response)
        return _handle(Request(environ))(environ, start_response)


def _handle(request: Request) -> Response:
    route = request.path[len(PREFIX) :].strip("/")
    handlers = _ROUTES.get(route)
    if handlers is None:
        return _json({"error": f"no bed admin route {request.path}"}, 404)
    handler = handlers.get(request.method)
    if handler is None:
        return _json({"error": f"{request.method} not allowed on {request.path}; use {sorted(handlers)}"}, 405)
    try:
        return _json(handler(request))
    except BadRequest as err:
        return _json({"error": str(err)}, 400)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError as err:
        raise BadRequest(f"body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


# ---- clock ----------------------------------------------------------------------------
def _clock_state() -> dict[str, Any]:
    return {"now": clock.now().isoformat().replace("+00:00", "Z"), "travelling": clock.travelling()}


def _get_clock(_: Request) -> dict[str, Any]:
    return _clock_state()


def _set_clock(request: Request) -> dict[str, Any]:
    body = _body(request)
    if "at" not in body:
        raise BadRequest('body must name "at": an ISO 8601 time, or null for real time')
    at = body["at"]
    if at is None:
        clock.set_clock(None)
    else:
        try:
            clock.set_clock(datetime.fromisoformat(str(at)))
        except ValueError as err:
            raise BadRequest(f'"at" is not an ISO 8601 time: {at!r}') from err
    return _clock_state()


# ---- faults ---------------------------------------------------------------------------
def _faults_state(_: Request | None = None) -> dict[str, Any]:
    return {"faults": faults.pending()}


def _add_fault(request: Request) -> dict[str, Any]:
    body = _body(request)
    job, error = body.get("glue_job"), body.get("error")
    if not isinstance(job, str) or not job or not isinstance(error, str) or not error:
        raise BadRequest('body must be {"glue_job": name, "error": message}, both non-empty strings')
    faults.inject_glue_failure(job, error)
    return _faults_state()


def _clear_faults(_: Request) -> dict[str, Any]:
    faults.clear()
    return _faults_state()


_ROUTES: dict[str, dict[str, Callable[[Request], dict[str, Any]]]] = {
    "clock": {"GET": _get_clock, "POST": _set_clock},
    "faults": {"GET": _faults_state, "POST": _add_fault, "DELETE": _clear_faults},
}


# ---- reset ----------------------------------------------------------------------------
def _reset_bed(*_: Any) -> None:
    clock.set_clock(None)
    faults.clear()


def install() -> None:
    """Make moto's reset reset the bed's clock and faults too; calling it again changes nothing."""
    from moto.moto_api._internal.models import MotoAPIBackend

    wrap_after(MotoAPIBackend, "reset", _reset_bed, _MARK)
