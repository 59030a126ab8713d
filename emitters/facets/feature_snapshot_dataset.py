"""``crossline_featureSnapshot`` dataset facet: one version of a feature group's offline store.

SageMaker records no link from a feature group to a training job, and its S3 artifacts
are keyed by URI, not content; this facet names which snapshot a job wrote or read.
"""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import DatasetFacet

from crossline.emitters.facets import _base as v
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent


@attr.define
class CrosslineFeatureSnapshotDatasetFacet(v.CrosslineFacet, DatasetFacet):
    featureGroupName: str = attr.field(validator=v.text)  # noqa: N815
    version: str = attr.field(validator=v.text)
    """The snapshot's version or id, e.g. the ISO week ``2027-W10``."""
    offlineStoreUri: str = attr.field(validator=v.s3_uri)  # noqa: N815
    """Where the snapshot lives, e.g. ``s3://credit-features/accounts/2027-W10/``."""
    featureGroupArn: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.arn("sagemaker", "feature-group"))
    )

    KEY: ClassVar[str] = "crossline_featureSnapshot"

    def __attrs_post_init__(self) -> None:
        if (
            self.featureGroupArn is not None
            and parse_arn(self.featureGroupArn).resource_id.lower() != self.featureGroupName.lower()
        ):
            raise InvalidEvent(
                f"CrosslineFeatureSnapshotDatasetFacet.featureGroupName: {self.featureGroupName!r} "
                f"is not the feature group of {self.featureGroupArn!r}"
            )
        super().__attrs_post_init__()

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineFeatureSnapshotDatasetFacet", "1-0-0")
