"""crossline's OpenLineage facets for ML pipelines, and helpers for the standard ones.

Contract: each custom facet is a small attrs class deriving from OpenLineage's
``RunFacet`` or ``DatasetFacet``, in a module named for what it attaches to. It is
attached under the key ``crossline_{name}`` (the class's ``KEY``), is called
``Crossline{Name}{Entity}Facet``, refuses malformed values at construction with
``InvalidEvent`` naming the facet and field, and points ``_schemaURL`` at a JSON Schema
shipped in ``schemas/``. ``FACETS`` maps key -> class; ``facet_schema(cls)`` loads the
schema. Where OpenLineage has a standard facet (``version``, ``sourceCodeLocation``,
``ownership``, ``documentation``, ``symlinks``) we use it: see ``standard``.

Schema URLs follow OpenLineage's form and name the file in this repository's tree (see
``crossline.emitters.producer`` for why ``main`` and raw):
``https://raw.githubusercontent.com/crossline/crossline/main/emitters/facets/schemas/{1-0-0}/{ClassName}.json#/$defs/{ClassName}``.
The folder is the schema version and ships in the wheel as it is in the repository. A URL
is immutable: changing a schema means a new version folder, named in both
``_get_schema()`` and the file's ``$id``; published folders are never edited or
removed (tests pin each document's content to its ``$id``).

Alignment with OpenLineage proposal #4035 ("ML support for OpenLineage", open): the
proposal models ML as new, optional facets on the existing Job, Run and Dataset objects,
with no change to the core spec, covering training runs, hyperparameters, model
artifacts and (evaluation) metrics, including per-epoch series. We follow that shape:
training/processing identity, hyperparameters, metrics, approval and deployment are run
facets; the model package and the feature snapshot are dataset facets (a model artifact
is a dataset); nothing here needs a core change. We use its vocabulary for field and
facet names (``hyperparameters``, ``metrics`` with a ``training``/``evaluation`` kind
and an optional ``step`` for per-epoch values). The proposal had not fixed facet keys or
schemas when this was written, so ours carry the ``crossline_`` prefix; once it lands,
emitting its facets alongside ours is a new module each, not a change to these.
"""

from __future__ import annotations

import json
from typing import Any

from crossline.emitters.facets.approval_run import CrosslineApprovalRunFacet
from crossline.emitters.facets.deployment_run import CrosslineDeploymentRunFacet
from crossline.emitters.facets.feature_snapshot_dataset import CrosslineFeatureSnapshotDatasetFacet
from crossline.emitters.facets.hyperparameters_run import CrosslineHyperparametersRunFacet
from crossline.emitters.facets.metrics_run import CrosslineMetric, CrosslineMetricsRunFacet
from crossline.emitters.facets.model_package_dataset import CrosslineModelPackageDatasetFacet
from crossline.emitters.facets.sagemaker_job_run import CrosslineSagemakerJobRunFacet
from crossline.emitters.facets.standard import (
    code_location,
    content_version,
    documentation,
    ownership,
    symlinks_to,
)
from crossline.emitters.producer import PRODUCER, shipped
from crossline.errors import InvalidEvent

FACETS: dict[str, type] = {
    cls.KEY: cls
    for cls in (
        CrosslineSagemakerJobRunFacet,
        CrosslineHyperparametersRunFacet,
        CrosslineMetricsRunFacet,
        CrosslineModelPackageDatasetFacet,
        CrosslineApprovalRunFacet,
        CrosslineDeploymentRunFacet,
        CrosslineFeatureSnapshotDatasetFacet,
    )
}
"""Facet key -> class, for every custom crossline facet."""


def facet_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema shipped for a crossline facet class; its ``$id`` is the ``_schemaURL``
    without the fragment."""
    if cls not in FACETS.values():
        raise InvalidEvent(f"not a crossline facet: {cls!r}")
    return json.loads(shipped(cls._get_schema()).read_text(encoding="utf-8"))


__all__ = [
    "FACETS",
    "PRODUCER",
    "CrosslineApprovalRunFacet",
    "CrosslineDeploymentRunFacet",
    "CrosslineFeatureSnapshotDatasetFacet",
    "CrosslineHyperparametersRunFacet",
    "CrosslineMetric",
    "CrosslineMetricsRunFacet",
    "CrosslineModelPackageDatasetFacet",
    "CrosslineSagemakerJobRunFacet",
    "code_location",
    "content_version",
    "documentation",
    "facet_schema",
    "ownership",
    "symlinks_to",
]
