"""``crossline_modelPackage`` dataset facet: a model package version in the SageMaker registry.

In crossline's naming a model package is a dataset (namespace
``arn:aws:sagemaker:{region}:{account}``, name ``model-package/{group}/{version}``): the
training job's output that deployment consumes.
"""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import DatasetFacet

from crossline.emitters.facets import _base as v
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent

APPROVAL_STATUSES = frozenset({"Approved", "Rejected", "PendingManualApproval"})


@attr.define
class CrosslineModelPackageDatasetFacet(v.CrosslineFacet, DatasetFacet):
    group: str = attr.field(validator=v.text)
    """Model package group name."""
    version: int = attr.field(validator=v.positive_int)
    """ModelPackageVersion within the group."""
    arn: str = attr.field(validator=v.arn("sagemaker", "model-package"))
    approvalStatus: str = attr.field(validator=v.one_of(APPROVAL_STATUSES))  # noqa: N815
    """ModelApprovalStatus at the time of the event."""
    modelDataUrl: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.s3_uri)
    )
    """The model artifact (``model.tar.gz``) the package points at."""

    KEY: ClassVar[str] = "crossline_modelPackage"

    def __attrs_post_init__(self) -> None:
        if parse_arn(self.arn).resource_id.lower() != f"{self.group.lower()}/{self.version}":
            raise InvalidEvent(
                "CrosslineModelPackageDatasetFacet.arn: "
                f"{self.arn!r} is not version {self.version} of group {self.group!r}"
            )
        super().__attrs_post_init__()

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineModelPackageDatasetFacet", "1-0-0")
