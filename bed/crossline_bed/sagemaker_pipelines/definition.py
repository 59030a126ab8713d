"""A SageMaker pipeline definition (JSON schema version 2020-12-01), read as SageMaker reads it.

Contract: ``Definition.parse(text)`` reads a definition document (``Version``,
``Parameters``, ``PipelineExperimentConfig``, ``Steps``) or raises ``DefinitionError``
naming what is wrong. ``parameter_values(overrides)`` gives every parameter's value for
one execution: the ``DefaultValue`` unless StartPipelineExecution's
``PipelineParameters`` names it, typed by the parameter's ``Type`` (String, Integer,
Float, Boolean); an override of an unknown parameter, or a parameter without a default
and without a value, is a ``DefinitionError``. ``ordered_steps()`` gives the steps in an
order that respects ``DependsOn`` and every ``{"Get": "Steps.X..."}`` reference (a cycle
or an unknown step is a ``DefinitionError``). ``resolve(value, scope)`` evaluates the
definition's expressions inside any JSON value:

- ``{"Get": "Parameters.Name"}``; ``{"Get": "Execution.PipelineExecutionId"}`` (also
  ``PipelineExecutionArn``, ``PipelineName``, ``PipelineArn``, ``StartDateTime``,
  ``CurrentDateTime``);
- ``{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}``: a path into the Describe*
  response of the job (or model package) a finished step made; a list member is picked by
  index (``Outputs[0]``) or by name (``Outputs['train']`` matches an element whose
  ``OutputName``, ``ChannelName``, ``InputName`` or ``VariantName`` is ``train``);
- ``{"Std:Join": {"On": "/", "Values": [...]}}``.

``scope`` is a callable ``(kind, name) -> value`` for ``Parameters``/``Execution`` and
``(kind, step_name) -> dict`` for ``Steps`` (the engine supplies it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Scope = Callable[[str, str], Any]
_TOKEN = re.compile(r"([A-Za-z0-9_]+)((?:\[[^\]]+\])*)")
_INDEX = re.compile(r"\[([^\]]+)\]")
_NAME_KEYS = ("OutputName", "ChannelName", "InputName", "VariantName", "Name")
_CASTS: dict[str, Callable[[Any], Any]] = {
    "String": str,
    "Integer": int,
    "Float": float,
    "Boolean": lambda v: v if isinstance(v, bool) else str(v).lower() == "true",
}


class DefinitionError(ValueError):
    """The definition, or a value in it, is not what SageMaker accepts."""


@dataclass(frozen=True)
class Step:
    name: str
    type: str
    arguments: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    display_name: str | None = None
    description: str | None = None


@dataclass
class Definition:
    parameters: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    experiment_config: dict[str, Any] | None = None

    @classmethod
    def parse(cls, text: str) -> "Definition":
        try:
            document = json.loads(text)
        except (TypeError, json.JSONDecodeError) as err:
            raise DefinitionError(f"the pipeline definition is not JSON: {err}") from err
        if not isinstance(document, dict) or not isinstance(document.get("Steps", []), list):
            raise DefinitionError("the pipeline definition must be an object with a Steps list")
        steps = []
        for raw in document.get("Steps", []):
            if not isinstance(raw, dict) or not raw.get("Name") or not raw.get("Type"):
                raise DefinitionError(f"every step needs a Name and a Type: {str(raw)[:200]}")
            steps.append(Step(
                raw["Name"], raw["Type"], raw.get("Arguments") or {}, tuple(raw.get("DependsOn") or ()),
                raw.get("DisplayName"), raw.get("Description"),
            ))
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise DefinitionError(f"step names must be unique: {names}")
        return cls(list(document.get("Parameters") or []), steps, document.get("PipelineExperimentConfig"))

    def parameter_values(self, overrides: list[dict[str, str]] | None) -> dict[str, Any]:
        declared = {p["Name"]: p for p in self.parameters}
        given = {o["Name"]: o["Value"] for o in overrides or []}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise DefinitionError(f"parameters not in the pipeline definition: {unknown}")
        values = {}
        for name, parameter in declared.items():
            if name in given:
                value = given[name]
            elif "DefaultValue" in parameter:
                value = parameter["DefaultValue"]
            else:
                raise DefinitionError(f"parameter {name} has no default and no value was given")
            cast = _CASTS.get(parameter.get("Type", "String"), str)
            try:
                values[name] = cast(value)
            except (TypeError, ValueError) as err:
                raise DefinitionError(f"parameter {name}: {value!r} is not a {parameter.get('Type')}") from err
        return values

    def ordered_steps(self) -> list[Step]:
        by_name = {s.name: s for s in self.steps}
        needs = {s.name: set(s.depends_on) | _step_references(s.arguments) for s in self.steps}
        for name, wanted in needs.items():
            missing = wanted - set(by_name)
            if missing:
                raise DefinitionError(f"step {name} depends on unknown steps {sorted(missing)}")
        ordered: list[Step] = []
        done: set[str] = set()
        while len(ordered) < len(self.steps):
            ready = [s for s in self.steps if s.name not in done and needs[s.name] <= done]
            if not ready:
                raise DefinitionError(f"the steps depend on each other in a cycle: {sorted(set(by_name) - done)}")
            for step in ready:
                ordered.append(step)
                done.add(step.name)
        return ordered


def _step_references(value: Any) -> set[str]:
    if isinstance(value, dict):
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            return {get.split(".")[1]}
        return set().union(*(_step_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_step_references(v) for v in value)) if value else set()
    return set()


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every expression in it evaluated (see the module docstring)."""
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"} and isinstance(value["Get"], str):
        return _get(value["Get"], scope)
    if set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        return str(join.get("On", "")).join(_text(resolve(v, scope)) for v in join.get("Values", []))
    return {k: resolve(v, scope) for k, v in value.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _get(path: str, scope: Scope) -> Any:
    kind, _, rest = path.partition(".")
    if kind in ("Parameters", "Execution"):
        return scope(kind, rest)
    if kind != "Steps":
        raise DefinitionError(f"cannot evaluate {{'Get': {path!r}}}")
    step, _, walk = rest.partition(".")
    return property_path(scope("Steps", step), walk, path)


def property_path(document: Any, walk: str, path: str) -> Any:
    current = document
    for token in _split(walk):
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise DefinitionError(f"{path}: cannot read {token!r}")
        key, indexes = match.groups()
        if not isinstance(current, dict) or key not in current:
            raise DefinitionError(f"{path}: the step's description has no {key}")
        current = current[key]
        for index in _INDEX.findall(indexes):
            current = _pick(current, index.strip(), path)
    return current


def _split(walk: str) -> list[str]:
    tokens, depth, start = [], 0, 0
    for i, char in enumerate(walk):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "." and depth == 0:
            tokens.append(walk[start:i])
            start = i + 1
    tokens.append(walk[start:])
    return [t for t in tokens if t]


def _pick(items: Any, index: str, path: str) -> Any:
    if not isinstance(items, list):
        raise DefinitionError(f"{path}: [{index}] on something that is not a list")
    if index.isdigit():
        if int(index) >= len(items):
            raise DefinitionError(f"{path}: index {index} out of range")
        return items[int(index)]
    name = index.strip("'\"")
    for item in items:
        if isinstance(item, dict) and any(item.get(k) == name for k in _NAME_KEYS):
            return item
    raise DefinitionError(f"{path}: no element named {name!r}")
