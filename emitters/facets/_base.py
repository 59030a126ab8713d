"""What every crossline facet shares: producer, schema URLs, and build-time validators.

Contract: a crossline facet refuses a malformed value when it is constructed (or a
field is set), raising ``InvalidEvent`` that names the facet class and the field, so a
bad facet never reaches an event. Validators are attrs validators/converters; the
facet modules only declare fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

import attr

from crossline import times
from crossline.emitters import producer
from crossline.emitters.naming import dataset_name, parse_arn
from crossline.emitters.producer import PRODUCER
from crossline.errors import InvalidEvent

FOLDER = "emitters/facets/schemas"
"""Where the facets' schemas live in the repository (and, below ``crossline.emitters``, in the wheel)."""


def schema_url(name: str, schema_version: str) -> str:
    """``{RAW}/emitters/facets/schemas/{1-0-0}/{Name}.json#/$defs/{Name}`` (see ``crossline.emitters.producer``)."""
    return producer.schema_url(FOLDER, schema_version, name)


class CrosslineFacet:
    """Mixin: default ``_producer`` to crossline's, not the OpenLineage client's."""

    __slots__ = ()

    def __attrs_post_init__(self) -> None:
        if not self._producer:  # type: ignore[attr-defined]
            self._producer = PRODUCER  # type: ignore[attr-defined]
        super().__attrs_post_init__()  # type: ignore[misc]


# --- validators ----------------------------------------------------------------------
# attrs calls validators as (instance, attribute, value). A nested value class sets a
# ``_where`` class attribute ("CrosslineMetricsRunFacet.metrics[]") so its messages
# name the facet it belongs to.

Validator = Callable[[Any, "attr.Attribute[Any]", Any], None]


def _where(instance: Any, attribute: attr.Attribute[Any]) -> str:
    owner = getattr(type(instance), "_where", type(instance).__name__)
    return f"{owner}.{attribute.name}"


def _typed(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _refuse(instance: Any, attribute: attr.Attribute[Any], problem: str) -> InvalidEvent:
    return InvalidEvent(f"{_where(instance, attribute)}: {problem}")


def optional(validator: Validator) -> Validator:
    def check(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


def text(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
    """A non-blank string."""
    if not isinstance(value, str):
        raise _refuse(instance, attribute, f"must be a string, got {_typed(value)}")
    if not value.strip():
        raise _refuse(instance, attribute, "must not be empty")


def one_of(allowed: Collection[str]) -> Validator:
    def check(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            raise _refuse(instance, attribute, f"must be one of {sorted(allowed)}, got {value!r}")

    return check


def number(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
    """A finite int or float (JSON has no NaN or infinity; a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(instance, attribute, f"must be a number, got {_typed(value)}")
    if not math.isfinite(value):
        raise _refuse(instance, attribute, f"must be a finite number, got {value!r}")


def positive_int(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _refuse(instance, attribute, f"must be an integer >= 1, got {value!r}")


def non_negative_int(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _refuse(instance, attribute, f"must be an integer >= 0, got {value!r}")


def string_map(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
    """A ``str -> str`` mapping with non-empty keys (SageMaker's hyperparameter shape)."""
    if not isinstance(value, Mapping):
        raise _refuse(instance, attribute, f"must be a mapping, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise _refuse(instance, attribute, f"keys must be non-empty strings, got {key!r}")
        if not isinstance(item, str):
            problem = f"value of {key!r} must be a string, got {_typed(item)}"
            raise _refuse(instance, attribute, problem)


def list_of(cls: type) -> Validator:
    def check(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
        if not isinstance(value, list):
            raise _refuse(instance, attribute, f"must be a list, got {type(value).__name__}")
        for index, item in enumerate(value):
            if not isinstance(item, cls):
                raise _refuse(
                    instance, attribute, f"item {index} must be a {cls.__name__}, got {item!r}"
                )

    return check


def arn(service: str | tuple[str, ...], *resource_types: str) -> Validator:
    """An ARN of ``service`` (or one of several), and if given of one of ``resource_types``."""
    services = (service,) if isinstance(service, str) else service

    def check(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
        text(instance, attribute, value)
        try:
            parsed = parse_arn(value)
        except InvalidEvent as err:
            raise _refuse(instance, attribute, str(err)) from err
        if parsed.service not in services:
            wanted = " or ".join(services)
            raise _refuse(instance, attribute, f"must be a {wanted} ARN, got {value!r}")
        if resource_types and parsed.resource_type not in resource_types:
            wanted = " or ".join(resource_types)
            raise _refuse(instance, attribute, f"must be a {wanted} ARN, got {value!r}")

    return check


def s3_uri(instance: Any, attribute: attr.Attribute[Any], value: Any) -> None:
    """An ``s3://`` URI that the naming function can name."""
    text(instance, attribute, value)
    try:
        named = dataset_name(value)
    except InvalidEvent as err:
        raise _refuse(instance, attribute, str(err)) from err
    if value.startswith("arn:") or not named.namespace.startswith("s3://"):
        raise _refuse(instance, attribute, f"must be an s3:// URI, got {value!r}")


def utc_time(value: Any, instance: Any, field: attr.Attribute[Any]) -> Any:
    """Converter: an aware datetime or ISO 8601 string -> ISO 8601 UTC string ending in ``Z``.

    A naive time is refused: a lineage record whose clock is unknown cannot answer an
    as-of question.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return times.iso(times.parse(value, field.name))
        except InvalidEvent as err:
            if times.coerce(value) is not None:  # readable, but without a zone
                raise _refuse(instance, field, f"must carry a time zone, got naive {value!r}") from err
            raise _refuse(instance, field, f"is not an ISO 8601 time: {value!r}") from err
    if not isinstance(value, datetime):
        raise _refuse(instance, field, f"must be a datetime or ISO 8601 string, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _refuse(instance, field, f"must carry a time zone, got naive {value!r}")
    try:
        return times.iso(value)
    except InvalidEvent as err:
        raise _refuse(instance, field, str(err)) from err


UTC_TIME = attr.Converter(utc_time, takes_self=True, takes_field=True)
