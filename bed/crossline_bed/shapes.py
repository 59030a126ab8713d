"""Check an AWS response against botocore's output shape for its operation.

Contract: ``shape_errors(value, shape, path, raw)`` yields every way ``value`` departs
from ``shape`` (nothing when it conforms): on the raw JSON body (``raw=True``: no member
the model does not know, required members present, JSON types right, timestamps as
numbers) or on boto3's parsed result (``raw=False``: Python types, timestamps as
``datetime``), with enums, length limits and ARN patterns respected.
``response_problems(service, operation, raw, parsed)`` checks both for one call. The
bed's fidelity tests run every emulated action through it: boto3 validates what a
client sends, this validates what the bed sends back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape


@cache
def service_model(service: str) -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def response_problems(service: str, operation: str, raw: Any, parsed: dict[str, Any]) -> list[str]:
    """Departures of one response from ``operation``'s output shape, raw body and parsed."""
    shape = service_model(service).operation_model(operation).output_shape
    if shape is None:
        return []
    problems = list(shape_errors(raw, shape, f"{operation}(raw)", raw=True))
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    problems += shape_errors(body, shape, f"{operation}(parsed)", raw=False)
    return problems


def shape_errors(value: Any, shape: Shape, path: str, raw: bool) -> Iterator[str]:
    """Every way ``value`` departs from ``shape`` (empty when it conforms)."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            yield f"{path}: expected structure, got {type(value).__name__}"
            return
        for name in shape.required_members:
            if name not in value:
                yield f"{path}.{name}: required member missing"
        for name, member in value.items():
            if name not in shape.members:
                yield f"{path}.{name}: not a member of {shape.name}"
            else:
                yield from shape_errors(member, shape.members[name], f"{path}.{name}", raw)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            yield f"{path}: expected list, got {type(value).__name__}"
            return
        for index, item in enumerate(value):
            yield from shape_errors(item, shape.member, f"{path}[{index}]", raw)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            yield f"{path}: expected map, got {type(value).__name__}"
            return
        for key, item in value.items():
            yield from shape_errors(key, shape.key, f"{path}<key>", raw)
            yield from shape_errors(item, shape.value, f"{path}[{key!r}]", raw)
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{path}: expected string, got {type(value).__name__}"
            return
        if shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} not in enum {shape.enum}"
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            yield f"{path}: length {len(value)} outside [{low}, {high}]"
        pattern = shape.metadata.get("pattern")
        if pattern and "arn:" in pattern:  # the ARN patterns are plain Python regexes
            if not re.fullmatch(pattern, value):
                yield f"{path}: {value!r} does not match {pattern}"
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{path}: expected integer, got {type(value).__name__}"
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{path}: expected number, got {type(value).__name__}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: expected boolean, got {type(value).__name__}"
    elif kind == "timestamp":
        expected: tuple[type, ...] = (int, float) if raw else (datetime,)
        if isinstance(value, bool) or not isinstance(value, expected):
            yield f"{path}: expected timestamp, got {type(value).__name__}"
    else:
        yield f"{path}: shape type {kind} not handled by this walker"
