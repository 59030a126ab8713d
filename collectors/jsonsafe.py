"""JSON that every graph store reads back alike: the values the collectors let in.

Contract:
- ``loads(data, what)`` parses one JSON document (bytes or text) or raises
  ``InvalidEvent`` saying why, naming ``what``, when it cannot be read: longer than
  ``MAX_BYTES``, not UTF-8, not JSON, nesting too deep for Python's parser (it gives up
  near 1,000 levels, with a ``RecursionError``); and ``HostileInput`` (an
  ``InvalidEvent``) when it can, but holds what no store keeps alike: the tokens
  ``NaN``/``Infinity`` (not JSON, though Python's parser takes them), an object with a
  key twice (parsers disagree on which one wins), or anything ``refusal`` refuses.
- ``refusal(value)`` is why ``value`` (parsed JSON, or a record's props) cannot be stored
  as it is, or None: a string or key with a NUL character (PostgreSQL's text and JSONB
  refuse it) or a lone surrogate (not Unicode: no UTF-8 encoder writes it); a string
  longer than ``MAX_STRING`` characters; a float that is NaN, infinite, or beyond
  +-2**53 (PostgreSQL's JSONB keeps such a number as the decimal its text says and reads
  it back as another value, where SQLite keeps the float); nesting deeper than
  ``MAX_DEPTH``; a key that is not a string; a value of a type no store can write.
  ``where(value)`` names the first such place (``run.facets.x[2]``), for the warning.

These are the rules of I-JSON (RFC 7493: Unicode strings, unique keys, numbers a double
holds) plus what PostgreSQL refuses, and bounds on depth and size: one rule for SQLite
and PostgreSQL alike, so a store is the same whichever backend holds it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from crossline.errors import HostileInput, InvalidEvent

MAX_BYTES = 16 << 20
"""A line (event, record) longer than this is refused unread: 16 MiB."""
MAX_STRING = 1 << 20
"""Characters in one string: 1 Mi (a SQL query or a schema is long; a name is not this long)."""
MAX_DEPTH = 100
"""Nested objects and arrays: OpenLineage events need about 12 (column lineage)."""
_FLOAT_LIMIT = 2.0**53
# Values the store's JSON writer turns into JSON itself (see store._json_default).
_WRITABLE = (bool, int, type(None), datetime, date, Enum, Path)
_CONTAINERS = (dict, list, tuple, set, frozenset)


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(f"key {_show(twice)} appears twice in one object")
    return made


def _constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def loads(data: bytes | str, what: str, *, check: bool = True) -> Any:
    """One JSON document, or ``InvalidEvent`` naming ``what`` and why (see the module docstring).

    ``check=False`` leaves ``refusal`` to the caller (the converter's door runs it anyway).
    """
    if len(data) > MAX_BYTES:
        raise InvalidEvent(f"{what} is {len(data):,} bytes long, over the {MAX_BYTES:,} crossline reads")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidEvent(f"{what} is not UTF-8 (byte {err.start})") from err
    try:
        value = json.loads(data, object_pairs_hook=_unique, parse_constant=_constant)
    except RecursionError as err:
        raise InvalidEvent(f"{what} nests deeper than JSON can be read (over {MAX_DEPTH} levels)") from err
    except json.JSONDecodeError as err:
        raise InvalidEvent(f"{what} is not JSON ({err.msg} at column {err.colno})") from err
    except ValueError as err:  # duplicate keys, NaN/Infinity, an integer of more than 4,300 digits
        raise HostileInput(f"{what} is not JSON crossline can keep: {_clip(str(err))}") from err
    why = refusal(value) if check else None
    if why is not None:
        raise HostileInput(f"{what} {why}")
    return value


def refusal(value: Any) -> str | None:
    """Why ``value`` cannot be stored as it is, or None (see the module docstring)."""
    # Iterative, not recursive: it must survive the depth it is there to refuse. Scalars
    # are checked where they are met, containers stacked: this runs on every event and
    # record, so it is written for speed (``where`` says what and where, when needed).
    limit, longest = _FLOAT_LIMIT, MAX_STRING
    if type(value) not in _CONTAINERS:
        return None if _scalar_ok(value) else _why_at(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > MAX_DEPTH:
            return _why_at(value)
        if type(item) is dict:
            for key in item:
                if type(key) is not str or "\x00" in key or len(key) > longest or (not key.isascii() and _surrogate(key)):
                    return _why_at(value)
            subs = item.values()
        else:
            subs = item
        inner = depth + 1
        for sub in subs:
            kind = type(sub)
            if kind is str:
                if "\x00" in sub or len(sub) > longest or (not sub.isascii() and _surrogate(sub)):
                    return _why_at(value)
            elif kind is dict or kind is list or kind is tuple or kind is set or kind is frozenset:
                push((sub, inner))
            elif kind is float:
                if not -limit < sub < limit:
                    return _why_at(value)
            elif kind is not int and kind is not bool and sub is not None and not _scalar_ok(sub):
                return _why_at(value)
    return None


def _surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _scalar_ok(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return not ("\x00" in value or len(value) > MAX_STRING or (not value.isascii() and _surrogate(value)))
    if kind is float:
        return -_FLOAT_LIMIT < value < _FLOAT_LIMIT
    return isinstance(value, _WRITABLE)


def where(value: Any) -> tuple[str, str] | None:
    """``(path, why)`` of the first thing ``refusal`` refuses in ``value``, or None."""
    return _find(value, "", 1)


def _why_at(value: Any) -> str:
    found = where(value)
    if found is None:  # cannot happen: refusal and _find apply the same rules
        return "holds a value crossline cannot keep"
    path, why = found
    return f"{why} (at {path})" if path else why


def _find(item: Any, path: str, depth: int) -> tuple[str, str] | None:
    kind = type(item)
    if kind is str:
        why = _text_problem(item)
        return (path, why) if why else None
    if kind is float:
        if item != item or item in (float("inf"), float("-inf")):
            return path, f"holds {item!r}, which is not a JSON number"
        if not -_FLOAT_LIMIT < item < _FLOAT_LIMIT:
            return path, f"holds the number {item!r}, beyond +-2**53, which stores do not read back alike"
        return None
    if kind in _CONTAINERS:
        if depth > MAX_DEPTH:
            return path, f"nests deeper than {MAX_DEPTH} levels"
        if kind is dict:
            for key, sub in item.items():
                here = f"{path}.{_clip(str(key), 40)}" if path else _clip(str(key), 40)
                if type(key) is not str:
                    return here, f"has a key that is not a string ({type(key).__name__})"
                why = _text_problem(key)
                if why:
                    return here, f"has a key that {why.removeprefix('holds a string that ')}"
                found = _find(sub, here, depth + 1)
                if found:
                    return found
        else:
            for index, sub in enumerate(sorted(item, key=str) if kind in (set, frozenset) else item):
                found = _find(sub, f"{path}[{index}]", depth + 1)
                if found:
                    return found
        return None
    if isinstance(item, _WRITABLE):
        return None
    return path, f"holds a {kind.__name__}, which is not a JSON value"


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_STRING:
        return f"holds a string of {len(text):,} characters, over the {MAX_STRING:,} crossline keeps"
    if "\x00" in text:
        return "holds a string with a NUL character, which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"holds a string with a lone surrogate ({text[err.start]!r}), which is not Unicode text"
    return None


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def _show(text: str) -> str:
    """A value quoted for a message: escaped (NUL, surrogates), and short."""
    return repr(_clip(text, 80))


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_STRING", "loads", "refusal", "where"]
