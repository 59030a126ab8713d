"""The exact JSON of every crossline facet, ``_producer`` and ``_schemaURL`` included.

Consumers (Marquez, our collectors, anyone reading the events) depend on this shape; a
change to it must show up as a changed golden file in review. To regenerate after an
intended change: ``CROSSLINE_REGEN_GOLDEN=1 pytest tests/emitters/facets/test_golden.py``,
then read the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from openlineage.client.facet_v2 import BaseFacet
from openlineage.client.serde import Serde

from crossline.emitters.facets import FACETS

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("key", sorted(FACETS))
def test_serialized_facet_matches_golden(key: str, example: Callable[[str], BaseFacet]) -> None:
    serialized = json.loads(Serde.to_json(example(key)))
    path = GOLDEN / f"{key}.json"
    if os.environ.get("CROSSLINE_REGEN_GOLDEN") == "1":
        path.write_text(json.dumps(serialized, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no golden file {path.name}; generate it with CROSSLINE_REGEN_GOLDEN=1"
    assert serialized == json.loads(path.read_text())


def test_producer_can_be_overridden_per_facet(example: Callable[[str], BaseFacet]) -> None:
    facet = type(example("crossline_hyperparameters"))(
        hyperparameters={"eta": "0.2"}, producer="https://example.com/my-emitter/1.0"
    )
    assert Serde.to_dict(facet)["_producer"] == "https://example.com/my-emitter/1.0"
