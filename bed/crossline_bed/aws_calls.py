"""Which AWS API call an HTTP request to the bed's moto server is, and AWS's answer when throttled.

Contract:
- ``identify(environ)`` returns the ``Call`` (service, operation, protocol) a WSGI request
  makes, or None for a request that is no signed AWS call (moto's ``/moto-api``, the
  bed's admin routes, a browser). The service is the SigV4 signing name in the
  credential scope (``sagemaker``, ``s3``, ``glue``...). The operation comes from where
  each protocol puts it: ``X-Amz-Target`` (JSON protocols), the ``Action`` parameter
  (query protocols; a form body is read and put back), or the REST route of the
  service's botocore model (rest-json, rest-xml), matched on method, path, query keys
  and required headers; None when nothing matches. Models are read from the botocore
  in this environment, once per service.
- ``throttling_answer(call)`` is ``(status, headers, body)`` as AWS throttles that
  protocol, with error codes botocore's retry handlers treat as throttling
  (``botocore/retries/standard.py``; ``botocore/data/_retry.json`` for legacy mode):
  JSON protocol 400 ``ThrottlingException`` (``__type`` and ``x-amzn-ErrorType``);
  rest-json 429 ``TooManyRequestsException``; rest-xml (S3) 503 ``SlowDown``; query
  400 ``Throttling``; EC2 503 ``RequestLimitExceeded``.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request$")


@dataclass(frozen=True)
class Call:
    service: str
    operation: str | None
    protocol: str


def _signing_name(environ: dict[str, Any], query: dict[str, list[str]]) -> str | None:
    found = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return found.group(1)
    credential = (query.get("X-Amz-Credential") or [""])[0]  # a presigned URL
    found = _QUERY_SCOPE.match(credential)
    return found.group(1) if found else None


def identify(environ: dict[str, Any]) -> Call | None:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    service = _signing_name(environ, query)
    if service is None:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Call(service, target.rsplit(".", 1)[-1], "json")
    models = _models(service)
    protocol = models[0]["metadata"]["protocol"] if models else "rest-json"
    if protocol in ("query", "ec2"):
        action = (query.get("Action") or [None])[0] or _form_action(environ)
        return Call(service, action, protocol)
    for model in models:
        operation = _rest_operation(model, environ, query)
        if operation is not None:
            return Call(service, operation, model["metadata"]["protocol"])
    return Call(service, None, protocol)


def _form_action(environ: dict[str, Any]) -> str | None:
    """The Action of a form-encoded body; the body is put back for the app to read."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]


# -- botocore's models ---------------------------------------------------------------------
_load_lock = threading.Lock()


@lru_cache(maxsize=None)
def _models(signing_name: str) -> tuple[dict[str, Any], ...]:
    """The botocore models that sign as ``signing_name``: the service itself, then ``name-*``."""
    import botocore.loaders

    with _load_lock:
        loader = botocore.loaders.create_loader()
        names = [n for n in loader.list_available_services("service-2")
                 if n == signing_name or n.startswith(signing_name + "-")]
        models = [loader.load_service_model(n, "service-2") for n in sorted(names, key=lambda n: (n != signing_name, n))]
    return tuple(m for m in models if (m["metadata"].get("signingName") or m["metadata"]["endpointPrefix"]) == signing_name)


def _route(uri: str) -> tuple[list[str], dict[str, str | None]]:
    path, _, query = uri.partition("?")
    keys: dict[str, str | None] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        keys[key] = value if eq else None
    return [s for s in path.split("/") if s], keys


def _rest_operation(model: dict[str, Any], environ: dict[str, Any], query: dict[str, list[str]]) -> str | None:
    method = environ.get("REQUEST_METHOD", "GET")
    segments = [unquote(s) for s in environ.get("PATH_INFO", "/").split("/") if s]
    best: tuple[int, str] | None = None
    for name, operation in model["operations"].items():
        http = operation.get("http", {})
        if http.get("method") != method:
            continue
        pattern, keys = _route(http.get("requestUri", "/"))
        score = _path_score(pattern, segments)
        if score is None or any(k not in query or (v is not None and query[k][0] != v) for k, v in keys.items()):
            continue
        required = _required_locations(model, operation)
        if any(("HTTP_" + h.upper().replace("-", "_")) not in environ for h in required["header"]):
            continue
        if any(q not in query for q in required["querystring"]):
            continue
        score += 2 * len(keys) + len(required["header"]) + len(required["querystring"])
        if best is None or score > best[0]:
            best = (score, name)
    return best[1] if best else None


def _path_score(pattern: list[str], segments: list[str]) -> int | None:
    """Literal segments matched, or None; ``{X}`` takes one segment, ``{X+}`` the rest."""
    score = 0
    for i, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            return score if len(segments) > i else None
        if i >= len(segments):
            return None
        if part.startswith("{"):
            continue
        if part != segments[i]:
            return None
        score += 1
    return score if len(segments) == len(pattern) else None


def _required_locations(model: dict[str, Any], operation: dict[str, Any]) -> dict[str, list[str]]:
    shape = model["shapes"].get(operation.get("input", {}).get("shape", ""), {})
    found: dict[str, list[str]] = {"header": [], "querystring": []}
    for member in shape.get("required", []):
        spec = shape.get("members", {}).get(member, {})
        if spec.get("location") in found:
            found[spec["location"]].append(spec.get("locationName", member))
    return found


# -- AWS's throttling answers --------------------------------------------------------------
def throttling_answer(call: Call) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if call.protocol == "json":
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return 400, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "ThrottlingException"),
                     ("x-amzn-RequestId", request_id)], body
    if call.protocol == "rest-json":
        body = json.dumps({"message": "Rate exceeded"}).encode()
        return 429, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException"),
                     ("x-amzn-RequestId", request_id)], body
    if call.protocol == "rest-xml":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                f"<Message>Please reduce your request rate.</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>{request_id}</HostId></Error>").encode()
        return 503, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if call.protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                f"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>{request_id}</RequestID>"
                "</Response>").encode()
        return 503, [("Content-Type", "text/xml")], body
    body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>'
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
    return 400, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
