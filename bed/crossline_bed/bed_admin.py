"""Admin routes of the bed's moto server, served beside moto's own app.

Contract: ``BedApplication(moto_app)`` is the WSGI app the moto server process runs
(``crossline_bed.aws.serve``): paths under ``/crossline-bed/`` go to the routes below,
everything else to moto unchanged, except an AWS call a throttle picks (see below),
which gets AWS's throttling answer for its protocol instead (``crossline_bed.aws_calls``).
Bodies are JSON; errors are ``{"error": message}`` with HTTP 400 (bad body), 404
(unknown path) or 405 (wrong method).

- ``GET /crossline-bed/clock`` -> ``{"now": iso, "travelling": bool}``.
- ``POST /crossline-bed/clock`` ``{"at": "2027-03-06T03:13:30Z"}`` moves the server's
  clock there and lets it tick on; ``{"at": null}`` returns to real time. Answers like
  GET. See ``crossline_bed.clock``.
- ``POST /crossline-bed/faults`` ``{"glue_job": name, "error": message}``: the next run
  of that Glue job fails with that ErrorMessage and writes no output.
- ``POST /crossline-bed/faults`` ``{"throttle": {"service": "sagemaker", "operations":
  ["ListArtifacts"], "rate": 0.3, "seed": 7}}``: that share of the service's calls to
  those operations (``"*"``: all; the default) is throttled; ``seed`` (default 0) fixes
  which ones.
- ``GET /crossline-bed/faults`` answers ``{"faults": {job: [error]}, "throttle": [{service,
  operations, rate, seed, calls, throttled}]}``; ``DELETE`` clears every fault, and
  answers the same. ``GET``/``DELETE /crossline-bed/faults/throttle`` read or clear the
  throttles alone: ``{"throttle": [...]}``. See ``crossline_bed.faults``.

``install()`` makes ``POST /moto-api/reset`` (moto's own route) also set the clock back
to real time and clear the faults, so a reset bed is a clean bed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from crossline_bed import aws_calls, clock, faults
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
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return _handle(Request(environ))(environ, start_response)
        if faults.throttling():
            call = aws_calls.identify(environ)
            if call is not None and faults.take_throttle(call.service, call.operation):
                status, headers, body = aws_calls.throttling_answer(call)
                return Response(body, status=status, headers=headers)(environ, start_response)
        return self.moto_app(environ, start_response)


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
    return {"faults": faults.pending(), "throttle": faults.throttles()}


def _throttle_state(_: Request | None = None) -> dict[str, Any]:
    return {"throttle": faults.throttles()}


def _add_fault(request: Request) -> dict[str, Any]:
    body = _body(request)
    if "throttle" in body:
        _add_throttle(body["throttle"])
        return _faults_state()
    job, error = body.get("glue_job"), body.get("error")
    if not isinstance(job, str) or not job or not isinstance(error, str) or not error:
        raise BadRequest('body must be {"glue_job": name, "error": message}, both non-empty strings, '
                         'or {"throttle": {"service": name, "operations": [name or "*"], "rate": 0..1, "seed": int}}')
    faults.inject_glue_failure(job, error)
    return _faults_state()


def _add_throttle(spec: Any) -> None:
    usage = '"throttle" must be {"service": name, "operations": [name or "*"], "rate": 0..1, "seed": int}'
    if not isinstance(spec, dict) or set(spec) - {"service", "operations", "rate", "seed"}:
        raise BadRequest(usage)
    service, operations = spec.get("service"), spec.get("operations", ["*"])
    rate, seed = spec.get("rate"), spec.get("seed", 0)
    if not isinstance(service, str) or not service:
        raise BadRequest(f"{usage}: service must be a non-empty string")
    if not isinstance(operations, list) or not operations or not all(isinstance(o, str) and o for o in operations):
        raise BadRequest(f"{usage}: operations must be a non-empty list of names")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise BadRequest(f"{usage}: rate must be a number from 0 to 1")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BadRequest(f"{usage}: seed must be an integer")
    faults.throttle(service, operations, rate, seed)


def _clear_faults(_: Request) -> dict[str, Any]:
    faults.clear()
    return _faults_state()


def _clear_throttles(_: Request) -> dict[str, Any]:
    faults.clear_throttles()
    return _throttle_state()


_ROUTES: dict[str, dict[str, Callable[[Request], dict[str, Any]]]] = {
    "clock": {"GET": _get_clock, "POST": _set_clock},
    "faults": {"GET": _faults_state, "POST": _add_fault, "DELETE": _clear_faults},
    "faults/throttle": {"GET": _throttle_state, "DELETE": _clear_throttles},
}


# ---- reset ----------------------------------------------------------------------------
def _reset_bed(*_: Any) -> None:
    clock.set_clock(None)
    faults.clear()


def install() -> None:
    """Make moto's reset reset the bed's clock and faults too; calling it again changes nothing."""
    from moto.moto_api._internal.models import MotoAPIBackend

    wrap_after(MotoAPIBackend, "reset", _reset_bed, _MARK)
