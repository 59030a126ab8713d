"""``crossline_approval`` run facet: who decided a model package's approval, when, and from what.

The EventBridge "SageMaker Model Package State Change" event carries the status but not
the approver; the emitter describes the package (``LastModifiedBy``) for the identity
and keeps the event's id and type here so the record traces back to both.
"""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import RunFacet

from crossline.emitters.facets import _base as v
from crossline.emitters.facets.model_package_dataset import APPROVAL_STATUSES
from crossline.errors import InvalidEvent


@attr.define
class CrosslineApprovalRunFacet(v.CrosslineFacet, RunFacet):
    modelPackageArn: str = attr.field(validator=v.arn("sagemaker", "model-package"))  # noqa: N815
    status: str = attr.field(validator=v.one_of(APPROVAL_STATUSES))
    decisionTime: str = attr.field(converter=v.UTC_TIME, validator=v.text)  # noqa: N815
    """When the status was set (ISO 8601, UTC)."""
    approverUserProfileName: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.text)
    )
    """SageMaker Studio user profile (``LastModifiedBy.UserProfileName``)."""
    approverIamArn: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.arn(("iam", "sts")))
    )
    """IAM identity (``LastModifiedBy.IamIdentity.Arn``), e.g. an assumed-role session."""
    description: str | None = attr.field(default=None, validator=v.optional(v.text))
    """ApprovalDescription."""
    sourceEventId: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.text)
    )
    """The EventBridge event ``id`` that announced the change."""
    sourceEventType: str | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.text)
    )
    """The EventBridge ``detail-type``, e.g. ``SageMaker Model Package State Change``."""

    KEY: ClassVar[str] = "crossline_approval"

    def __attrs_post_init__(self) -> None:
        if self.approverUserProfileName is None and self.approverIamArn is None:
            raise InvalidEvent(
                "CrosslineApprovalRunFacet: an approver is required "
                "(approverUserProfileName and/or approverIamArn)"
            )
        super().__attrs_post_init__()

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineApprovalRunFacet", "1-0-0")
