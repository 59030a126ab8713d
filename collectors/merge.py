"""How records of one node or edge merge: by event time, never by arrival (DESIGN.md decision 3).

Contract: ``node_row(node)``/``edge_row(edge)`` turn a record into the row the store keeps
(props as they will read back from JSON; per prop, and for ``@name``/``@kind``, the time
its value became true: the record's ``times``, else its ``at``, else its
``valid_from``; no time when it has none). ``merge(a, b)`` merges two rows of one node
or edge and is commutative, associative and idempotent, so any order and any
duplication of the same records give the same row:

- per prop (and name and kind), the value with the later fact time wins; a value
  without a time loses to one with; equal times go to the greater canonical JSON;
- sources are the union; ``valid_from`` the earliest, ``valid_to`` the latest known
  instant (``None`` is "not known");
- ``times`` keeps, per prop, the time of the value kept (``times.fixed`` text, whose
  order is time order).

``NODE_CONTENT``/``EDGE_CONTENT`` are the columns that make a row "changed"; ``edge_pk``
is an edge row's primary key; ``plain`` and ``json_default`` are how values become JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from crossline.collectors.model import Edge, Node
from crossline.times import coerce, fixed, stamp, utc

def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return str(value)  # ISO 8601: 2027-03-08
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def plain(props: dict[str, Any]) -> dict[str, Any]:
    """Props as they will read back, so that comparing old and new says 'unchanged' truly."""
    if not props:
        return {}
    return json.loads(json.dumps(props, default=json_default))


def valid_key(valid_from: datetime | None) -> str:
    return stamp(valid_from) if valid_from is not None else ""


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default)


def _fact_time(value: Any) -> str | None:
    moment = coerce(value)
    return fixed(moment) if moment is not None else None


def _times(record: Node | Edge, names: Iterable[str]) -> dict[str, str]:
    """Per prop (and ``@name``/``@kind``), the time the record says its value became true."""
    default = _fact_time(record.at or record.valid_from)
    given = {k: _fact_time(v) for k, v in (record.times or {}).items()}
    found = {name: given.get(name) or default for name in names}
    return {k: v for k, v in found.items() if v is not None}


def _wins(new: Any, new_time: str | None, old: Any, old_time: str | None) -> bool:
    """Whether ``new`` beats ``old``: a later fact time, then a greater canonical value."""
    return (new_time is not None, new_time or "", _canonical(new)) > (old_time is not None, old_time or "", _canonical(old))


# Content columns: the graph itself. first_seen/last_seen are bookkeeping and never make
# a record "changed"; derived is the derivation's (``derive``), never a write's.
NODE_CONTENT = ("kind", "name", "sources", "props", "times", "valid_from", "valid_to")
EDGE_CONTENT = ("sources", "props", "times", "valid_to")


def node_row(node: Node) -> dict[str, Any]:
    props = plain(node.props)
    return {
        "id": str(node.id),
        "kind": str(node.kind),
        "name": node.name,
        "sources": [node.source],
        "props": props,
        "times": _times(node, [*props, "@kind", "@name"]),
        "valid_from": utc(node.valid_from) if node.valid_from else None,
        "valid_to": utc(node.valid_to) if node.valid_to else None,
    }


def edge_row(edge: Edge) -> dict[str, Any]:
    props = plain(edge.props)
    return {
        "src": str(edge.src),
        "kind": str(edge.kind),
        "dst": str(edge.dst),
        "valid_key": valid_key(edge.valid_from),
        "sources": [edge.source],
        "props": props,
        "times": _times(edge, props),
        "valid_from": utc(edge.valid_from) if edge.valid_from else None,
        "valid_to": utc(edge.valid_to) if edge.valid_to else None,
    }


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two records of one node or edge as one: the merge rules of the module docstring.

    Symmetric in ``old`` and ``new`` (and associative), so arrival order cannot matter.
    """
    merged = dict(old)
    old_times, new_times = old.get("times") or {}, new.get("times") or {}
    times: dict[str, str] = {}
    if "name" in new:  # a node (an edge's kind is part of its key)
        for column in ("kind", "name"):
            key = f"@{column}"
            if _wins(new[column], new_times.get(key), old[column], old_times.get(key)):
                merged[column], when = new[column], new_times.get(key)
            else:
                when = old_times.get(key)
            if when is not None:
                times[key] = when
    props = dict(old["props"])
    for key, value in new["props"].items():
        if key not in props or _wins(value, new_times.get(key), props[key], old_times.get(key)):
            props[key] = value
            when = new_times.get(key)
        else:
            when = old_times.get(key)
        if when is not None:
            times[key] = when
    for key in old["props"]:
        if key not in new["props"] and key in old_times:
            times[key] = old_times[key]
    merged["props"] = props
    merged["times"] = dict(sorted(times.items()))
    merged["sources"] = sorted(set(old["sources"]) | set(new["sources"]))
    merged["valid_from"] = _earliest(old["valid_from"], new["valid_from"])
    merged["valid_to"] = _latest(old["valid_to"], new["valid_to"])
    return merged


def edge_pk(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return (row["src"], row["kind"], row["dst"], row["valid_key"])


__all__ = ["EDGE_CONTENT", "NODE_CONTENT", "edge_pk", "edge_row", "json_default", "merge", "node_row", "plain", "valid_key"]
