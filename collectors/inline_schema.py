"""JSON Schemas with their ``$ref``s replaced by what they name: the same checks, fewer steps.

Contract: ``Inliner(registry, keep_formats)(schema, base)`` returns a schema that accepts
and refuses exactly what ``schema`` does (resolved against ``base``): every ``$ref`` is
looked up in the ``referencing`` registry and put in its place; a recursive reference
(``SchemaDatasetFacetFields``) stays an absolute ``$ref`` that a validator resolves in the
same registry. On the way, what only annotates goes (``description``, ``example``,
``title``, ``$comment``, a ``format`` not in ``keep_formats``: unchecked formats are
annotations), ``additionalProperties: true`` goes (it is the default), and an ``allOf``
part or a one-part ``anyOf`` is merged into its parent where no keyword clashes and no
keyword reads a sibling (``additionalProperties`` reads ``properties``).

Why: jsonschema pays a registry lookup and a new sub-resolver for every ``$ref`` it
follows and a new validator for every level it descends, and the spec's facets are an
``allOf`` of a base and a body, each behind a ``$ref``: inlined, an event costs about a
third of the steps.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag, urljoin

from referencing import Registry

# Annotations (and what the inliner handles itself): not kept.
_SKIP = frozenset({"description", "example", "examples", "default", "$comment", "title", "$defs", "$schema", "$id",
                   "$ref"})
_LITERAL = frozenset({"enum", "const", "required", "type"})
_NAMED = frozenset({"properties", "patternProperties", "dependentSchemas"})


class Inliner:
    """``inliner(schema, base)``: ``schema`` (resolved against ``base``) inlined; see the module docstring."""

    def __init__(self, registry: Registry[Any], keep_formats: frozenset[str] = frozenset()) -> None:
        self.resolver = registry.resolver()
        self.keep_formats = keep_formats

    def __call__(self, schema: Any, base: str, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(schema, list):
            return [self(s, base, stack) for s in schema]
        if not isinstance(schema, dict):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _SKIP:
                continue
            if key in _NAMED:
                out[key] = {name: self(sub, base, stack) for name, sub in value.items()}
            elif key in _LITERAL:
                out[key] = value
            elif key == "format":
                if value in self.keep_formats:  # formats not checked are annotations: not kept
                    out[key] = value
            else:
                out[key] = self(value, base, stack)
        if out.get("additionalProperties") is True:
            del out["additionalProperties"]  # the default: saying it costs a descend per property
        parts = out.get("anyOf")
        if isinstance(parts, list) and len(parts) == 1 and isinstance(parts[0], dict) and _mergeable(out, parts[0]):
            del out["anyOf"]
            out = _merge(out, parts[0])
        parts = out.pop("allOf", None)
        if isinstance(parts, list):
            rest = []
            for part in parts:
                if isinstance(part, dict) and _mergeable(out, part):
                    out = _merge(out, part)
                else:
                    rest.append(part)
            if rest:
                out["allOf"] = rest
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return out
        uri = urljoin(base, ref)
        if uri in stack:
            target: Any = {"$ref": uri}
        else:
            resolved = self.resolver.lookup(uri)
            target = self(resolved.contents, urldefrag(uri)[0], (*stack, uri))
        if not out:
            return target
        if isinstance(target, dict) and _mergeable(out, target):
            return _merge(out, target)
        return {"allOf": [target, out]}


# Keywords whose meaning depends on a sibling: a schema holding one is never merged.
_CONTEXTUAL = frozenset({"additionalProperties", "unevaluatedProperties", "unevaluatedItems", "items",
                         "prefixItems", "additionalItems", "if", "then", "else", "$ref", "$dynamicRef"})


def _mergeable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether ``{**a, **b}`` (properties and required joined) means what ``allOf: [a, b]`` means."""
    if _CONTEXTUAL & set(a) and _CONTEXTUAL & set(b):
        return False
    for one, other in ((a, b), (b, a)):  # additionalProperties reads its siblings' properties
        if {"additionalProperties", "unevaluatedProperties"} & set(one) and {"properties", "patternProperties"} & set(other):
            return False
    for key in set(a) & set(b):
        if key == "properties":
            if any(a[key][p] != b[key][p] for p in set(a[key]) & set(b[key])):
                return False
        elif key != "required" and a[key] != b[key]:
            return False
    return True


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**a["properties"], **b["properties"]}
    if "required" in a and "required" in b:
        merged["required"] = list(dict.fromkeys([*a["required"], *b["required"]]))
    return merged



__all__ = ["Inliner"]
