"""``crossline_sagemakerJob`` run facet: which SageMaker job a run was, and on what."""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import RunFacet

from crossline.emitters.facets import _base as v
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent

# Job kind -> the resource type in its ARN.
JOB_KINDS: dict[str, str] = {
    "training": "training-job",
    "processing": "processing-job",
    "transform": "transform-job",
    "tuning": "hyper-parameter-tuning-job",
    "compilation": "compilation-job",
    "labeling": "labeling-job",
}


@attr.define
class CrosslineSagemakerJobRunFacet(v.CrosslineFacet, RunFacet):
    """The SageMaker job behind a run: its ARN (the join key to SageMaker lineage) and resources."""

    arn: str = attr.field(validator=v.arn("sagemaker", *JOB_KINDS.values()))
    """The job's ARN, e.g. ``arn:aws:sagemaker:{region}:{account}:training-job/{name}``."""
    name: str = attr.field(validator=v.text)
    """The job name as given to SageMaker (the ARN spells it lower-case)."""
    kind: str = attr.field(validator=v.one_of(JOB_KINDS))
    """training | processing | transform | tuning | compilation | labeling."""
    image: str | None = attr.field(default=None, validator=v.optional(v.text))
    """The container image URI (training image or processing image)."""
    instanceType: str | None = attr.field(default=None, validator=v.optional(v.text))  # noqa: N815
    instanceCount: int | None = attr.field(  # noqa: N815
        default=None, validator=v.optional(v.positive_int)
    )

    KEY: ClassVar[str] = "crossline_sagemakerJob"

    def __attrs_post_init__(self) -> None:
        parsed = parse_arn(self.arn)
        if parsed.resource_type != JOB_KINDS[self.kind]:
            raise InvalidEvent(
                f"CrosslineSagemakerJobRunFacet.kind: {self.kind!r} does not match ARN {self.arn!r}"
            )
        if parsed.resource_id.lower() != self.name.lower():
            raise InvalidEvent(
                f"CrosslineSagemakerJobRunFacet.name: {self.name!r} "
                f"is not the job of ARN {self.arn!r}"
            )
        super().__attrs_post_init__()

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineSagemakerJobRunFacet", "1-0-0")
