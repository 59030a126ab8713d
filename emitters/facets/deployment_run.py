"""``crossline_deployment`` run facet: which model an endpoint variant started serving, and when.

Data-capture records carry no model ARN; joining an inference's (endpoint, variant,
inferenceTime) against these facets is how crossline finds the model that served it.
"""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import RunFacet

from crossline.emitters.facets import _base as v
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent


@attr.define
class CrosslineDeploymentRunFacet(v.CrosslineFacet, RunFacet):
    endpointName: str = attr.field(validator=v.text)  # noqa: N815
    endpointArn: str = attr.field(validator=v.arn("sagemaker", "endpoint"))  # noqa: N815
    variantName: str = attr.field(validator=v.text)  # noqa: N815
    modelName: str = attr.field(validator=v.text)  # noqa: N815
    deployedTime: str = attr.field(converter=v.UTC_TIME, validator=v.text)  # noqa: N815
    """When the variant started serving this model (ISO 8601, UTC)."""
    modelPackageArn: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.arn("sagemaker", "model-package"))
    )
    """The registered package the model was created from, if any."""
    endpointConfigName: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.text)
    )

    KEY: ClassVar[str] = "crossline_deployment"

    def __attrs_post_init__(self) -> None:
        if parse_arn(self.endpointArn).resource_id.lower() != self.endpointName.lower():
            raise InvalidEvent(
                f"CrosslineDeploymentRunFacet.endpointName: {self.endpointName!r} "
                f"is not the endpoint of {self.endpointArn!r}"
            )
        super().__attrs_post_init__()

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineDeploymentRunFacet", "1-0-0")
