"""``_producer`` and every ``_schemaURL``/``$id`` name a place in this repository that ships.

A schema URL is ``{RAW}/{repository path}``; the same path, below the package its top
folder installs as, is a file in the installed package, and the file's ``$id`` (and, for
a facet, the ``$defs`` entry the fragment points at) agrees with the URL.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from openlineage.client.serde import Serde

from crossline.emitters import producer
from crossline.emitters.facets import FACETS
from crossline.errors import InvalidEvent

REPO = Path(__file__).resolve().parents[3]
VERSION_FOLDER = re.compile(r"\d+-\d+-\d+")


def _shipped_documents() -> list[tuple[str, str]]:
    """(repository path, text) of every JSON Schema of crossline's own the wheel ships.

    ``collectors/schemas/openlineage/`` holds the official OpenLineage schemas, shipped as
    published (their ``$id``s are openlineage.io's): not crossline's to name.
    """
    found = []
    for top, package in producer.PACKAGES.items():
        root = files(package)
        stack = [(root, top)]
        while stack:
            folder, path = stack.pop()
            for item in folder.iterdir():
                where = f"{path}/{item.name}"
                if item.is_dir():
                    stack.append((item, where))
                elif item.name.endswith(".json") and "/schemas/" in where and "/schemas/openlineage/" not in where:
                    found.append((where, item.read_text(encoding="utf-8")))
    return sorted(found)


DOCUMENTS = _shipped_documents()


def test_the_shipped_schemas_are_found() -> None:
    paths = [p for p, _ in DOCUMENTS]
    assert "collectors/schemas/1-0-0/Trace.json" in paths  # published: kept
    assert "collectors/schemas/1-1-0/Trace.json" in paths
    assert len([p for p in paths if p.startswith("emitters/facets/schemas/")]) == len(FACETS)


@pytest.mark.parametrize(("path", "text"), DOCUMENTS, ids=[p for p, _ in DOCUMENTS])
def test_every_schema_id_is_the_url_of_its_own_file(path: str, text: str) -> None:
    schema = json.loads(text)
    folder, version, name = path.rsplit("/", 2)
    assert folder.endswith("/schemas") and VERSION_FOLDER.fullmatch(version), path
    assert schema["$id"] == f"{producer.RAW}/{path}"
    assert schema["$id"] == producer.schema_id(folder, version, name.removesuffix(".json"))
    assert producer.shipped(schema["$id"]).read_text(encoding="utf-8") == text
    # the same file sits at that path in the repository's tree, which the URL names
    assert (REPO / path).read_text(encoding="utf-8") == text


@pytest.mark.parametrize("key", sorted(FACETS))
def test_every_facets_schema_url_maps_to_a_shipped_definition(key: str, example) -> None:  # type: ignore[no-untyped-def]
    serialized = json.loads(Serde.to_json(example(key)))
    url = serialized["_schemaURL"]
    name = FACETS[key].__name__
    assert url == FACETS[key]._get_schema()
    document, fragment = url.split("#", 1)
    schema = json.loads(producer.shipped(url).read_text(encoding="utf-8"))
    assert schema["$id"] == document
    assert fragment == f"/$defs/{name}" and name in schema["$defs"]
    assert document.endswith(f"/emitters/facets/schemas/{document.rsplit('/', 2)[1]}/{name}.json")


def test_trace_schema_is_shipped_under_its_id() -> None:
    from crossline.collectors.trace import SCHEMA, trace_schema

    assert trace_schema()["$id"] == SCHEMA
    assert SCHEMA == f"{producer.RAW}/collectors/schemas/1-1-0/Trace.json"
    # 1-1-0 added findings, which a 1-0-0 validator refuses: a new version; the published one stays
    published = json.loads(producer.shipped(SCHEMA.replace("1-1-0", "1-0-0")).read_text(encoding="utf-8"))
    assert "findings" not in published["properties"] and "findings" in trace_schema()["required"]


def test_the_producer_names_the_emitters_in_the_repository_tree(example) -> None:  # type: ignore[no-untyped-def]
    ref = producer.VERSION if producer.VERSION != "0.0.0" else "main"
    assert producer.PRODUCER == f"https://github.com/crossline/crossline/tree/{ref}/emitters"
    assert (REPO / "emitters").is_dir()
    for key in FACETS:
        assert json.loads(Serde.to_json(example(key)))["_producer"] == producer.PRODUCER


@pytest.mark.parametrize(
    "url",
    [
        "https://crossline.dev/spec/facets/1-0-0/CrosslineMetricsRunFacet.json",
        f"{producer.RAW}/bed/schemas/1-0-0/X.json",
        f"{producer.RAW}/emitters/facets/schemas/9-9-9/CrosslineMetricsRunFacet.json#/$defs/X",
    ],
)
def test_a_url_that_names_no_shipped_file_is_refused(url: str) -> None:
    with pytest.raises(InvalidEvent):
        producer.shipped(url)
