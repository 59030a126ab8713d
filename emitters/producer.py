"""How crossline names itself in what it emits: ``PRODUCER`` and the URLs of its JSON Schemas.

Contract:
- ``PRODUCER`` is the one ``producer``/``_producer`` of every event and facet crossline
  makes (emitters and write-back alike): the emitters' code in the repository's tree at
  the installed version, ``https://github.com/crossline/crossline/tree/{version}/emitters``
  (release tags are the bare version, as OpenLineage's are); ``main`` from a checkout
  that was never installed, which has no version of its own.
- A schema crossline ships lives in the repository under a folder named by its schema
  version, and the same folder ships in the wheel: ``emitters/facets/schemas/1-0-0/
  CrosslineMetricsRunFacet.json`` is ``crossline.emitters/facets/schemas/1-0-0/...``
  once installed. ``schema_id(folder, version, name)`` is its ``$id``: the file's URL
  on ``raw.githubusercontent.com`` at ``main``. ``schema_url`` adds the OpenLineage
  fragment, ``#/$defs/{Name}``. ``shipped(url)`` finds the installed file of a URL.

Why ``main`` and raw: a schema URL must be immutable and must resolve. A version folder
never changes once published (tests pin each document's hash to its ``$id`` and keep
every pinned ``$id`` shipping), so ``main`` serves the same bytes forever, and a schema
that did not change keeps its URL across releases; a release-tag ref would give every
facet a new URL each release and would not resolve before the tag exists. Raw URLs
serve the JSON itself, as OpenLineage's ``openlineage.io/spec/...`` URLs do, where
``github.com/.../blob/...`` serves a web page.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from importlib.resources.abc import Traversable

from crossline.errors import InvalidEvent

REPOSITORY = "https://github.com/crossline/crossline"
RAW = "https://raw.githubusercontent.com/crossline/crossline/main"

try:
    VERSION = version("crossline")
    _REF = VERSION
except PackageNotFoundError:  # a checkout that was never installed
    VERSION = "0.0.0"
    _REF = "main"

PRODUCER = f"{REPOSITORY}/tree/{_REF}/emitters"
"""The ``producer`` of crossline's events and the ``_producer`` of its facets."""

# Repository folder -> the package it installs as (pyproject's package-dir).
PACKAGES = {"emitters": "crossline.emitters", "collectors": "crossline.collectors"}


def schema_id(folder: str, schema_version: str, name: str) -> str:
    """``{RAW}/{folder}/{1-0-0}/{Name}.json``: the ``$id`` of a shipped schema document."""
    return f"{RAW}/{folder}/{schema_version}/{name}.json"


def schema_url(folder: str, schema_version: str, name: str) -> str:
    """OpenLineage's ``_schemaURL`` form: the document's ``$id`` + ``#/$defs/{Name}``."""
    return f"{schema_id(folder, schema_version, name)}#/$defs/{name}"


def shipped(url: str) -> Traversable:
    """The installed file a schema URL (or ``$id``) names; ``InvalidEvent`` if it is not one of ours."""
    path = url.split("#", 1)[0]
    if not path.startswith(f"{RAW}/"):
        raise InvalidEvent(f"not a crossline schema URL: {url!r}")
    top, _, inside = path.removeprefix(f"{RAW}/").partition("/")
    if top not in PACKAGES or not inside:
        raise InvalidEvent(f"schema URL {url!r} names no folder crossline ships ({', '.join(PACKAGES)})")
    resource = files(PACKAGES[top])
    for part in inside.split("/"):
        resource = resource.joinpath(part)
    if not resource.is_file():
        raise InvalidEvent(f"schema URL {url!r} names {top}/{inside}, which is not shipped")
    return resource


__all__ = ["PRODUCER", "RAW", "REPOSITORY", "VERSION", "schema_id", "schema_url", "shipped"]
