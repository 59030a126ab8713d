"""Every crossline facet serializes to JSON that its shipped schema accepts, under its key."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import BaseFacet, DatasetFacet, RunFacet
from openlineage.client.serde import Serde
from referencing import Registry, Resource

from crossline.emitters.facets import FACETS, facet_schema
from crossline.errors import InvalidEvent

GOLDEN = Path(__file__).parent / "golden"

# Stand-in for the OpenLineage core spec our schemas $ref (BaseFacet, RunFacet, DatasetFacet):
# the client does not ship OpenLineage.json and tests run offline. It restates the
# constraints the core spec puts on every facet: _producer and _schemaURL are required
# URI strings, more properties are allowed, dataset facets may carry _deleted.
OPENLINEAGE_CORE_STANDIN = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    "$defs": {
        "BaseFacet": {
            "type": "object",
            "properties": {
                "_producer": {"type": "string", "format": "uri"},
                "_schemaURL": {"type": "string", "format": "uri"},
            },
            "additionalProperties": True,
            "required": ["_producer", "_schemaURL"],
        },
        "RunFacet": {"allOf": [{"$ref": "#/$defs/BaseFacet"}]},
        "DatasetFacet": {
            "allOf": [
                {"$ref": "#/$defs/BaseFacet"},
                {"type": "object", "properties": {"_deleted": {"type": "boolean"}}},
            ]
        },
    },
}
REGISTRY: Registry = Registry().with_resource(
    OPENLINEAGE_CORE_STANDIN["$id"], Resource.from_contents(OPENLINEAGE_CORE_STANDIN)
)


def validator_for(cls: type) -> Draft202012Validator:
    return Draft202012Validator(facet_schema(cls), registry=REGISTRY)


KEYS = sorted(FACETS)


@pytest.mark.parametrize("key", KEYS)
def test_schema_is_valid_json_schema_with_the_facets_url(key: str) -> None:
    cls = FACETS[key]
    schema = facet_schema(cls)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == cls._get_schema().split("#", 1)[0]
    # The URL's fragment points into the document, at the facet's own definition.
    assert cls._get_schema().split("#", 1)[1] == f"/$defs/{cls.__name__}"
    assert cls.__name__ in schema["$defs"]
    # The document declares the facet under its key, the way OpenLineage's do.
    assert schema["properties"] == {key: {"$ref": f"#/$defs/{cls.__name__}"}}


@pytest.mark.parametrize("key", KEYS)
def test_key_and_class_follow_the_naming_convention(key: str) -> None:
    cls = FACETS[key]
    name = key.removeprefix("crossline_")
    entity = "Run" if issubclass(cls, RunFacet) else "Dataset"
    assert issubclass(cls, RunFacet | DatasetFacet)
    assert key.startswith("crossline_") and name[0].islower()
    assert cls.__name__ == f"Crossline{name[0].upper()}{name[1:]}{entity}Facet"
    assert cls.KEY == key


@pytest.mark.parametrize("key", KEYS)
def test_serialized_facet_validates_against_its_schema(
    key: str, example: Callable[[str], BaseFacet]
) -> None:
    facet = example(key)
    validator_for(type(facet)).validate({key: Serde.to_dict(facet)})


@pytest.mark.parametrize("key", KEYS)
def test_schema_rejects_a_facet_missing_a_required_field(
    key: str, example: Callable[[str], BaseFacet]
) -> None:
    """The schema is not vacuous: dropping any required field makes the document invalid."""
    facet = Serde.to_dict(example(key))
    own = facet_schema(FACETS[key])["$defs"][FACETS[key].__name__]["allOf"][1]
    for field in [*own["required"], "_producer", "_schemaURL"]:
        broken = {k: v for k, v in facet.items() if k != field}
        assert not validator_for(FACETS[key]).is_valid({key: broken}), field


def test_facets_in_a_run_event_validate_under_their_keys(
    example: Callable[[str], BaseFacet],
) -> None:
    """Serialized the way the client sends them: inside a RunEvent, keyed in facet maps."""
    run_facets: dict[str, RunFacet] = {}
    dataset_facets: dict[str, DatasetFacet] = {}
    for key in KEYS:
        facet = example(key)
        (run_facets if isinstance(facet, RunFacet) else dataset_facets)[key] = facet  # type: ignore[index]
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2027-03-06T03:14:00Z",
        run=Run(runId=str(uuid.UUID(int=1)), facets=run_facets),
        job=Job(namespace="credit", name="credit_retraining.train"),
        inputs=[InputDataset(namespace="s3://credit", name="train/2027-W10", facets=dataset_facets)],
    )
    body: dict[str, Any] = json.loads(Serde.to_json(event))
    found = {**body["run"]["facets"], **body["inputs"][0]["facets"]}
    assert sorted(found) == KEYS
    for key, facet in found.items():
        validator_for(FACETS[key]).validate({key: facet})


def test_schema_content_is_pinned_to_its_versioned_url() -> None:
    """A schema URL is immutable: a shipped document never changes and is never removed.

    ``golden/schema_hashes.json`` maps each $id to the sha256 of its document. If this
    fails, add a version folder (``_get_schema()`` and ``$id``) and record its hash;
    never change the hash of an existing $id, never delete a published folder.
    """
    pinned = json.loads((GOLDEN / "schema_hashes.json").read_text())
    shipped = {}
    for version in files("crossline.emitters.facets").joinpath("schemas").iterdir():
        for document in version.iterdir():
            schema = json.loads(document.read_text(encoding="utf-8"))
            canonical = json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()
            shipped[schema["$id"]] = hashlib.sha256(canonical).hexdigest()
    for cls in FACETS.values():
        assert facet_schema(cls)["$id"] in shipped
    for schema_id, digest in shipped.items():
        if schema_id in pinned:
            assert pinned[schema_id] == digest, f"{schema_id} changed without a version bump"
    assert set(shipped) <= set(pinned), f"record the hash of new schemas: {set(shipped) - set(pinned)}"
    assert set(pinned) <= set(shipped), f"published schemas no longer shipped: {set(pinned) - set(shipped)}"


def test_facet_schema_refuses_a_class_that_is_not_a_crossline_facet() -> None:
    with pytest.raises(InvalidEvent, match="not a crossline facet"):
        facet_schema(RunFacet)
