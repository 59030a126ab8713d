"""crossline's one time module: every instant is an aware UTC ``datetime``.

Contract:
- ``utc(moment)``: an aware UTC datetime; a naive one is taken to be UTC already (boto3
  and SQLite give naive or local-zone values).
- ``parse(text, what)``: a strict ISO 8601 instant *with a zone* (``Z`` or an offset), as
  OpenLineage requires for ``eventTime``, to aware UTC. Anything else (not a string, no
  zone, not a date, or out of the range a UTC ``datetime`` can hold, such as
  ``9999-12-31T23:59:59-01:00``) is an ``InvalidEvent`` naming ``what`` and quoting the
  value.
- ``parse_user(text, what)``: the same for a time a person typed (``--as-of``), where a
  missing zone means UTC and a bare date means its midnight UTC; a ``ConfigError`` (exit
  2) when unreadable.
- ``coerce(value)``: a ``datetime`` or an ISO string from an API record, to aware UTC, or
  ``None`` for nothing or something unreadable (records are reported on elsewhere).
- ``iso(moment)``: the canonical text form, ``2027-03-12T10:14:03Z`` (microseconds only
  when present). ``None`` stays ``None``.
- ``stamp(moment)``: ``2027-03-12T10:14:03+00:00``, the form the graph has always stored
  where a time is part of an identity or a record read back: node ids (``approval:...@``),
  edge keys, dumps, SageMaker and data-capture props, approval run ids. It is ``iso``
  with ``+00:00`` for ``Z``; it stays so that stores, ids and run ids written before keep
  matching. New text forms use ``iso``.
- ``human(moment)``: ``2027-03-08 09:42 UTC``, to the minute, for people (reports).
- ``fixed(moment)``: ``2027-03-12T10:14:03.000000Z``, always to the microsecond, so that
  the text order of two values is their time order: the graph store's per-prop fact
  times are compared as text.
- ``from_millis(value)``: epoch milliseconds (MLflow's times) to aware UTC, ``None`` for
  nothing or something that is not a number.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, overload

from crossline.errors import ConfigError, InvalidEvent

__all__ = ["UTC", "coerce", "fixed", "from_millis", "human", "iso", "now", "parse", "parse_user", "stamp", "utc"]


def now() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise InvalidEvent(f"time {moment.isoformat()!r} is outside the range crossline can hold") from err


def parse(text: Any, what: str) -> datetime:
    """A strict ISO 8601 instant with a zone, to aware UTC; ``InvalidEvent`` otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidEvent(f"{what} must be an ISO 8601 time, got {text!r}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise InvalidEvent(f"{what} is not an ISO 8601 time: {text!r}") from err
    if moment.tzinfo is None:
        raise InvalidEvent(f"{what} has no time zone: {text!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise InvalidEvent(f"{what} is outside the range of a UTC time: {text!r}") from err


def parse_user(text: str, what: str) -> datetime:
    """A time a person typed: ISO 8601; no zone means UTC; a bare date is its midnight UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise ConfigError(f"{what}: {text!r} is not an ISO 8601 time (e.g. 2027-03-12T10:14:03Z)") from err
    try:
        return utc(moment)
    except InvalidEvent as err:
        raise ConfigError(f"{what}: {err}") from err


def coerce(value: Any) -> datetime | None:
    """A datetime or ISO string from an API record, to aware UTC; None if absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return utc(value)
        except InvalidEvent:
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return utc(moment)
    except (ValueError, InvalidEvent):
        return None


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
def iso(moment: datetime | None) -> str | None:
    """``2027-03-12T10:14:03Z``; None stays None."""
    if moment is None:
        return None
    return utc(moment).isoformat().replace("+00:00", "Z")


@overload
def stamp(moment: datetime) -> str: ...
@overload
def stamp(moment: None) -> None: ...
def stamp(moment: datetime | None) -> str | None:
    """``2027-03-12T10:14:03+00:00`` (see the module docstring); None stays None."""
    if moment is None:
        return None
    return utc(moment).isoformat()


def human(moment: datetime) -> str:
    """``2027-03-08 09:42 UTC``."""
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def fixed(moment: datetime) -> str:
    """``2027-03-12T10:14:03.000000Z``: fixed width, so text order is time order."""
    return utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_millis(value: Any) -> datetime | None:
    """Epoch milliseconds (MLflow stamps runs, metrics and models so) to aware UTC; None if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
