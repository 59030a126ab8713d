"""``crossline_hyperparameters`` run facet: the hyperparameters a training run was given."""

from __future__ import annotations

from typing import Any, ClassVar

import attr
from openlineage.client.facet_v2 import RunFacet

from crossline.emitters.facets import _base as v
from crossline.redact import redact


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, dict) else value


@attr.define
class CrosslineHyperparametersRunFacet(v.CrosslineFacet, RunFacet):
    """Hyperparameters as SageMaker holds them: a ``str -> str`` map, values not reinterpreted.

    Keeping SageMaker's strings (``"0.2"``, not ``0.2``) means the facet says exactly what
    the job was given, and compares equal to DescribeTrainingJob's ``HyperParameters``.
    A hyperparameter whose name looks secret (``api_token``, ``db_password``; see
    ``crossline.redact``) is kept by name with its value redacted.
    """

    hyperparameters: dict[str, str] = attr.field(factory=dict, converter=_redacted, validator=v.string_map)

    KEY: ClassVar[str] = "crossline_hyperparameters"

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineHyperparametersRunFacet", "1-0-0")
