"""``crossline_hyperparameters`` run facet: the hyperparameters a training run was given."""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import RunFacet

from crossline.emitters.facets import _base as v


@attr.define
class CrosslineHyperparametersRunFacet(v.CrosslineFacet, RunFacet):
    """Hyperparameters as SageMaker holds them: a ``str -> str`` map, values not reinterpreted.

    Keeping SageMaker's strings (``"0.2"``, not ``0.2``) means the facet says exactly what
    the job was given, and compares equal to DescribeTrainingJob's ``HyperParameters``.
    """

    hyperparameters: dict[str, str] = attr.field(factory=dict, validator=v.string_map)

    KEY: ClassVar[str] = "crossline_hyperparameters"

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineHyperparametersRunFacet", "1-0-0")
