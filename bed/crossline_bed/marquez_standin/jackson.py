"""What Marquez 0.50's JSON layer (Jackson) makes of a POSTed body, mirrored for the stand-in.

Contract:
- ``read(body)`` returns ``Body(value, has_nul)``: the parsed JSON value, and whether a
  string in it holds a NUL (``\\u0000``). Whatever Jackson's parser refuses raises
  ``Unreadable``, which the API answers as Marquez does (``JsonProcessingExceptionMapper``:
  HTTP 500 with ``{"code": 400, "message": ...}``):
  - bytes that are not UTF-8/16/32 text, or text that is not JSON;
  - ``NaN``, ``Infinity``, ``-Infinity``: not JSON, and Marquez leaves
    ``ALLOW_NON_NUMERIC_NUMBERS`` off;
  - nesting deeper than 1000 (``StreamReadConstraints.maxNestingDepth``, Jackson 2.15+),
    measured on the raw text before parsing, so a deep body never reaches Python's
    recursive parser;
  - a number of more than 1000 characters (``maxNumberLength``).
- What Jackson takes, the value keeps as Marquez would store it: a float beyond double
  range is the string ``"Infinity"`` (or ``"-Infinity"``; Jackson reads it as an infinite
  double and writes that as a string); a lone UTF-16 surrogate (``\\ud800``) becomes
  ``?``, as Java's UTF-8 encoder in the PostgreSQL driver writes it.
- ``conform(value, spec, where)`` holds a parsed event to the types of Marquez's event
  model (``LineageEvent`` and its typed facets; the specs are ``RUN_EVENT``,
  ``DATASET_EVENT`` and ``JOB_EVENT``): an object or list where a string is expected,
  or a scalar where an object or list is expected, raises ``Unreadable`` (Jackson's
  mismatched input); a number or boolean where a string is expected becomes that text
  (Jackson's scalar coercion), in place. Members the model does not type are left as
  they are. Times are checked by ``check_time`` (format only; the range is the caller's).

Not mirrored: Jackson's string length limit, ``java.net.URI`` syntax of ``_producer``
and ``schemaURL``, epoch numbers for times (refused here).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import Any

MAX_DEPTH = 1000
MAX_NUMBER_LENGTH = 1000

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A \u0000 escape whose backslash is not itself escaped.
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class Unreadable(Exception):
    """A body Jackson would not read into Marquez's model; ``message`` is Jackson's gist."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Body:
    value: Any
    has_nul: bool


def read(body: bytes) -> Body:
    try:
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as err:
        raise Unreadable(f"Invalid character encoding: {err}") from err
    depth = _excess_depth(text)
    if depth is not None:
        raise Unreadable(
            f"Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_DEPTH}, "
            "from `StreamReadConstraints.getMaxNestingDepth()`)"
        )
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_int, parse_float=_float)
    except RecursionError as err:  # only if this process's recursion limit is below MAX_DEPTH
        raise Unreadable(f"Document nesting depth exceeds what this process can read: {err}") from err
    except ValueError as err:
        raise Unreadable(f"Unexpected character: {err}") from err
    if _SURROGATE_ESCAPE.search(text):
        value = _replace_lone_surrogates(value)
    return Body(value, _NUL.search(text) is not None)


def _excess_depth(text: str) -> int | None:
    """The first depth past ``MAX_DEPTH`` that brackets outside strings reach, if any."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    for depth in accumulate(map(_STEP.__getitem__, brackets)):
        if depth > MAX_DEPTH:
            return depth
    return None


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")


def _check_length(token: str) -> None:
    if len(token) > MAX_NUMBER_LENGTH:
        raise ValueError(
            f"Number value length ({len(token)}) exceeds the maximum allowed ({MAX_NUMBER_LENGTH}, "
            "from `StreamReadConstraints.getMaxNumberLength()`)"
        )


def _int(token: str) -> int:
    _check_length(token)
    return int(token)


def _float(token: str) -> float | str:
    _check_length(token)
    number = float(token)
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


def _fix(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _replace_lone_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in keys and strings replaced by ``?``."""
    if isinstance(value, str):
        return _fix(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                item = node.pop(key)
                node[_fix(key)] = _fix(item) if isinstance(item, str) else item
                if isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = _fix(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
    return value


# -- times -------------------------------------------------------------------------------
def check_time(value: Any, where: str) -> datetime:
    """A ``ZonedDateTime`` as Jackson reads it; naive means UTC. The range is not checked here."""
    if not isinstance(value, str) or not _DATETIME.match(value):
        raise Unreadable(f"Cannot deserialize value of type `java.time.ZonedDateTime` from {json.dumps(value)} ({where})")
    text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        return datetime.fromisoformat(text)
    except ValueError as err:
        raise Unreadable(
            f"Cannot deserialize value of type `java.time.ZonedDateTime` from {json.dumps(value)} ({where}): {err}"
        ) from err


# -- the model's types -------------------------------------------------------------------
TEXT, TIME, ANY = "java.lang.String", "java.time.ZonedDateTime", "java.lang.Object"
_FACET = {"_producer": TEXT, "_schemaURL": TEXT}
_JOB = {
    "namespace": TEXT,
    "name": TEXT,
    "facets": {
        "documentation": {**_FACET, "description": TEXT},
        "sourceCodeLocation": {**_FACET, "type": TEXT, "url": TEXT},
        "sql": {**_FACET, "query": TEXT},
        "jobType": {**_FACET, "processingType": TEXT, "integration": TEXT, "jobType": TEXT},
    },
}
_DATASET = {
    "namespace": TEXT,
    "name": TEXT,
    "facets": {
        "documentation": {**_FACET, "description": TEXT},
        "schema": {**_FACET, "fields": [{"name": TEXT, "type": TEXT, "description": TEXT}]},
        "lifecycleStateChange": {**_FACET, "lifecycleStateChange": TEXT},
        "dataSource": {**_FACET, "name": TEXT, "uri": TEXT},
        "columnLineage": {**_FACET, "fields": {}},
        "symlinks": {**_FACET, "identifiers": [{"namespace": TEXT, "name": TEXT, "type": TEXT}]},
        "description": TEXT,
    },
    "inputFacets": {},
    "outputFacets": {},
}
_HEAD = {"eventTime": TIME, "producer": TEXT, "schemaURL": TEXT}
RUN_EVENT = {
    **_HEAD,
    "eventType": TEXT,
    "run": {
        "runId": TEXT,
        "facets": {
            "nominalTime": {**_FACET, "nominalStartTime": TIME, "nominalEndTime": TIME},
            "parent": {**_FACET, "run": {"runId": TEXT}, "job": {"namespace": TEXT, "name": TEXT}},
        },
    },
    "job": _JOB,
    "inputs": [_DATASET],
    "outputs": [_DATASET],
}
JOB_EVENT = {**_HEAD, "job": _JOB, "inputs": [_DATASET], "outputs": [_DATASET]}
DATASET_EVENT = {**_HEAD, "dataset": _DATASET}

_KINDS = {dict: "Object", list: "Array", str: "String", bool: "Boolean", int: "Integer", float: "Float"}


def _mismatch(expected: str, value: Any, where: str) -> Unreadable:
    return Unreadable(
        f"Cannot deserialize value of type `{expected}` from {_KINDS.get(type(value), 'value')} value "
        f"(through reference chain: {where})"
    )


def conform(value: dict[str, Any], spec: dict[str, Any], where: str = "event") -> None:
    """Hold ``value``'s typed members to ``spec``, coercing scalars to text in place."""
    for key, want in spec.items():
        item = value.get(key)
        if item is None:
            continue
        path = f"{where}.{key}" if where != "event" else key
        if isinstance(want, dict):
            if not isinstance(item, dict):
                raise _mismatch("java.lang.Object", item, path)
            conform(item, want, path)
        elif isinstance(want, list):
            if not isinstance(item, list):
                raise _mismatch("java.util.List", item, path)
            for i, element in enumerate(item):
                # Jackson reads a null element, and Marquez then fails on it with a 500.
                if not isinstance(element, dict):
                    raise _mismatch("java.lang.Object", element, f"{path}[{i}]")
                conform(element, want[0], f"{path}[{i}]")
        elif want == TIME:
            check_time(item, path)
        elif want == TEXT:
            if isinstance(item, (dict, list)):
                raise _mismatch(TEXT, item, path)
            if not isinstance(item, str):
                value[key] = json.dumps(item)  # Jackson's coercion: 7 -> "7", true -> "true"
