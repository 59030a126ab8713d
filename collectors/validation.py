"""The door's schema check: every OpenLineage event against the official OpenLineage JSON Schema.

Contract: ``check_event(event)`` returns ``(event, problems)``: the event as it may be
converted, and one line per part dropped from it. It raises ``InvalidEvent`` (naming the
first failing field) when the event is invalid at its core: the RunEvent without its
datasets and facets (``run.runId`` a UUID, ``job.namespace``/``job.name``, ``eventTime``
a date-time with a zone, ``producer``, ``schemaURL``, ``eventType`` one of the spec's).
Below the core, a part costs only itself: a dataset invalid as an ``InputDataset`` /
``OutputDataset`` (its facets aside), a facet container that is not an object, and a
facet invalid against its schema are each dropped, with a problem line. ``check_event``
never changes its argument: a cleaned event is a new one sharing the valid parts.

Schemas: the copy of OpenLineage's ``spec/`` shipped in ``schemas/openlineage/`` (event
schema 2-0-2, every standard facet, with the licence), and crossline's own facets'
schemas (``crossline.emitters.facets``). A facet is checked against the schema of the
facet its key names where it stands (``nominalTime`` under ``run.facets`` is a
``NominalTimeRunFacet``, ``crossline_metrics`` a ``CrosslineMetricsRunFacet``), whatever
version its ``_schemaURL`` names, since producers stamp their own versions; any other key
against the spec's base facet for its place (``RunFacet``..., which requires
``_producer`` and ``_schemaURL``). Formats checked: ``date-time`` (an instant with a zone
that a UTC time can hold, so ``9999-12-31T23:59:59-01:00`` fails) and ``uuid``; ``uri``
is not (a producer's URI is an identifier, not something to fetch).

Speed (about 2,000 events/s are collected on one core, so every 100 us counts): the
validators are compiled once per process, from schemas with their ``$ref``s inlined
through the ``referencing`` registry of the shipped documents (``inline_schema``).
Verdicts on parts are memoised by their JSON text (bounded): the same facets come in
event after event. ``eventTime`` and ``runId``, which change with every event, are
checked by their own property schemas so that the rest of the core repeats too. On the
story's real events that is about 190 us an event seen for the first time and 85 us one
whose parts were seen before (``benchmarks/hostile.py`` prints it), against about 750 us
for jsonschema over the schemas as published.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from crossline.collectors.inline_schema import Inliner
from crossline.errors import InvalidEvent

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
SCHEMAS = "schemas/openlineage"
# Where a facet stands -> the base facet of the spec it must be, and the keys of the event
# (or dataset) that hold such facets.
RUN_FACET, JOB_FACET, DATASET_FACET = "RunFacet", "JobFacet", "DatasetFacet"
INPUT_FACET, OUTPUT_FACET = "InputDatasetFacet", "OutputDatasetFacet"
BASES = (RUN_FACET, JOB_FACET, DATASET_FACET, INPUT_FACET, OUTPUT_FACET)
DATASET_PLACES = {"inputs": ("InputDataset", "inputFacets", INPUT_FACET),
                  "outputs": ("OutputDataset", "outputFacets", OUTPUT_FACET)}

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=(ValueError, OverflowError, TypeError))
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "type" says what a non-string is
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or "T" not in value.upper():
        return False
    moment.astimezone(UTC)  # OverflowError out of range
    return True


@_FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    uuid.UUID(value)
    return True


def _documents() -> Iterator[dict[str, Any]]:
    """Every schema document: the spec, its facets, crossline's facets."""
    from crossline.emitters.facets import FACETS, facet_schema

    folder = files("crossline.collectors").joinpath(SCHEMAS)
    yield json.loads(folder.joinpath("OpenLineage.json").read_text(encoding="utf-8"))
    for item in sorted(folder.joinpath("facets").iterdir(), key=lambda i: i.name):
        if item.name.endswith(".json"):
            yield json.loads(item.read_text(encoding="utf-8"))
    for cls in FACETS.values():
        yield facet_schema(cls)


def _facet_refs(document: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(base, key, $ref)`` for each facet a facet document defines (its top-level properties)."""
    defs = document.get("$defs", {})
    for key, prop in document.get("properties", {}).items():
        ref = prop.get("$ref", "") if isinstance(prop, Mapping) else ""
        if not ref.startswith("#/$defs/"):
            continue  # e.g. LineageFacet's anyOf: checked as its base alone
        name = ref.removeprefix("#/$defs/")
        for part in defs.get(name, {}).get("allOf", []):
            base = str(part.get("$ref", "")).rpartition("/")[2]
            if base in BASES:
                yield base, key, f"{document['$id']}#/$defs/{name}"


class _Validators:
    """Compiled once: the event's core, datasets, and each facet by place and key."""

    def __init__(self) -> None:
        documents = list(_documents())
        registry: Registry[Any] = Registry().with_resources(
            (d["$id"], Resource.from_contents(d)) for d in documents)
        inline = Inliner(registry, keep_formats=frozenset(_FORMATS.checkers))

        def make(ref: str) -> Draft202012Validator:
            return Draft202012Validator(inline({"$ref": ref}, SPEC), registry=registry, format_checker=_FORMATS)

        self.facets: dict[tuple[str, str], Draft202012Validator] = {}
        for document in documents[1:]:
            for base, key, ref in _facet_refs(document):
                self.facets[(base, key)] = make(ref)
        self.base = {base: make(f"{SPEC}#/$defs/{base}") for base in BASES}
        # A base facet is an object with a few known keys and anything else: its verdict
        # depends on those keys alone, so they are what the memo keeps.
        self.base_keys = {base: _only_keys(v.schema) for base, v in self.base.items()}
        self.core = make(f"{SPEC}#/$defs/RunEvent")
        self.event_time = make(f"{SPEC}#/$defs/BaseEvent/properties/eventTime")
        self.run_id = make(f"{SPEC}#/$defs/Run/properties/runId")
        self.dataset = {role: make(f"{SPEC}#/$defs/{name}") for role, (name, _, _) in DATASET_PLACES.items()}

    def facet(self, base: str, key: str, facet: Any) -> tuple[Draft202012Validator, Any]:
        """The validator for a facet of ``key`` at ``base``'s place, and what of it to show the memo."""
        known = self.facets.get((base, key))
        if known is not None:
            return known, facet
        keys = self.base_keys[base]
        if keys is not None and isinstance(facet, Mapping):
            return self.base[base], {k: facet[k] for k in keys if k in facet}
        return self.base[base], facet


def _only_keys(schema: dict[str, Any]) -> tuple[str, ...] | None:
    """The properties of an object schema that says nothing about any other key; else None."""
    if schema.get("type") == "object" and set(schema) <= {"type", "properties", "required"}:
        return tuple(schema.get("properties", {}))
    return None


@cache
def validators() -> _Validators:
    """The compiled validators (made on first use, once per process)."""
    return _Validators()


def _why(error: ValidationError) -> str:
    """``at run.runId: 'x' is not a 'uuid'``: where in the part, and the schema's complaint."""
    best = error
    while best.context:  # allOf/anyOf: the deepest, most specific complaint
        best = max(best.context, key=lambda e: len(e.absolute_path))
    path = ".".join(str(p) for p in best.absolute_path)
    message = best.message if len(best.message) <= 200 else best.message[:200] + "..."
    return f"at {path}: {message}" if path else message


class _Memo:
    """Verdicts on parts already checked, by their JSON text: the same facet comes in event after event.

    Bounded: parts whose text is long are not kept, and the memo empties when full.
    """

    LIMIT, LONGEST = 8192, 4096

    def __init__(self) -> None:
        self.verdicts: dict[tuple[str, str], str | None] = {}

    def why(self, validator: Draft202012Validator, name: str, value: Any, *, keep: bool = True) -> str | None:
        """None if ``value`` is valid, else why not (``keep=False``: a value that never repeats)."""
        if not keep:
            error = next(validator.iter_errors(value), None)
            return None if error is None else _why(error)
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            text = ""
        key = (name, text)
        if text and key in self.verdicts:
            return self.verdicts[key]
        error = next(validator.iter_errors(value), None)
        verdict = None if error is None else _why(error)
        if text and len(text) <= self.LONGEST:
            if len(self.verdicts) >= self.LIMIT:
                self.verdicts.clear()
            self.verdicts[key] = verdict
        return verdict


_memo = _Memo()


def _without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def check_event(event: Any) -> tuple[Any, list[str]]:
    """The event as it may be converted, and what was dropped from it; ``InvalidEvent`` if its core is invalid."""
    checks = validators()
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"the event is not a JSON object but {type(event).__name__}")
    why = _core(checks, event)
    if why is not None:
        raise InvalidEvent(f"not an OpenLineage RunEvent: {why}")
    problems: list[str] = []
    cleaned = dict(event)
    for part, base in (("run", RUN_FACET), ("job", JOB_FACET)):
        facets = _facets(event[part], "facets", base, part, problems)
        if facets is not event[part].get("facets"):
            cleaned[part] = _without(event[part], "facets") if facets is None else {**event[part], "facets": facets}
    for role, (_, io_key, io_base) in DATASET_PLACES.items():
        if role not in event:
            continue
        datasets = event[role]
        if not isinstance(datasets, list):
            problems.append(f"{role} is not a list but {type(datasets).__name__}: dropped")
            del cleaned[role]
            continue
        kept = []
        for index, dataset in enumerate(datasets):
            where = f"{role}[{index}]"
            if not isinstance(dataset, Mapping):
                problems.append(f"{where} is not an object but {type(dataset).__name__}: dropped")
                continue
            why = _memo.why(checks.dataset[role], role, _without(dataset, "facets", io_key))
            if why is not None:
                problems.append(f"{where} dropped: {why}")
                continue
            clean = dict(dataset)
            for key, base in (("facets", DATASET_FACET), (io_key, io_base)):
                facets = _facets(dataset, key, base, where, problems)
                if facets is None:
                    clean.pop(key, None)
                else:
                    clean[key] = facets
            kept.append(clean)
        cleaned[role] = kept
    return (cleaned, problems) if problems else (event, problems)


_SOME_TIME, _SOME_UUID = "1970-01-01T00:00:00Z", "00000000-0000-0000-0000-000000000000"


def _core(checks: _Validators, event: Mapping[str, Any]) -> str | None:
    """Why the event's core (the RunEvent without datasets and facets) is invalid, or None.

    ``eventTime`` and ``run.runId`` change with every event and run, and the spec
    constrains each by its own property schema alone: they are checked by those, and
    the rest of the core, which repeats event after event, goes to the memo with stand-ins
    for the two.
    """
    core = _without(event, "inputs", "outputs")
    run = event.get("run")
    if isinstance(run, Mapping):
        core["run"] = _without(run, "facets")
        if "runId" in run:
            why = _memo.why(checks.run_id, "runId", run["runId"], keep=False)
            if why is not None:
                return f"at run.runId: {why}"
            core["run"]["runId"] = _SOME_UUID
    if isinstance(event.get("job"), Mapping):
        core["job"] = _without(event["job"], "facets")
    if "eventTime" in event:
        why = _memo.why(checks.event_time, "eventTime", event["eventTime"], keep=False)
        if why is not None:
            return f"at eventTime: {why}"
        core["eventTime"] = _SOME_TIME
    return _memo.why(checks.core, "core", core)


def _facets(owner: Mapping[str, Any], key: str, base: str, where: str, problems: list[str]) -> Any:
    """``owner[key]`` with its invalid facets dropped (the same object when all are valid); None if unusable."""
    facets = owner.get(key)
    if facets is None:
        return None
    if not isinstance(facets, Mapping):
        problems.append(f"{where}.{key} is not an object but {type(facets).__name__}: dropped")
        return None
    checks = validators()
    bad = {}
    for name, facet in facets.items():
        validator, shown = checks.facet(base, name, facet)
        why = _memo.why(validator, f"{base}:{name}", shown)
        if why is not None:
            bad[name] = why
    if not bad:
        return facets
    for name, why in bad.items():
        problems.append(f"facet {where}.{key}.{name} dropped: {why}")
    return {name: facet for name, facet in facets.items() if name not in bad}


__all__ = ["check_event", "validators"]
