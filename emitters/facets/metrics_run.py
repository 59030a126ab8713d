"""``crossline_metrics`` run facet: training and evaluation metrics of a run."""

from __future__ import annotations

from typing import ClassVar

import attr
from openlineage.client.facet_v2 import RunFacet
from openlineage.client.utils import RedactMixin

from crossline.emitters.facets import _base as v

METRIC_KINDS = frozenset({"training", "evaluation"})


@attr.define
class CrosslineMetric(RedactMixin):
    """One measured value."""

    name: str = attr.field(validator=v.text)
    """The metric name as the source spells it, e.g. ``auc``, ``validation:auc``."""
    value: float = attr.field(validator=v.number)
    kind: str = attr.field(validator=v.one_of(METRIC_KINDS))
    """``training`` (reported by the training job) or ``evaluation`` (held-out evaluation)."""
    source: str | None = attr.field(default=None, validator=v.optional(v.text))
    """Where the value was read: an evaluation report URI, or ``FinalMetricDataList`` of a job."""
    step: int | None = attr.field(default=None, validator=v.optional(v.non_negative_int))
    """Epoch or iteration for per-step series; absent for a final value."""
    timestamp: str | None = attr.field(default=None, converter=v.UTC_TIME)
    """When the value was recorded (ISO 8601, UTC)."""

    _where: ClassVar[str] = "CrosslineMetricsRunFacet.metrics[]"
    _skip_redact: ClassVar[list[str]] = ["name", "value", "kind"]


@attr.define
class CrosslineMetricsRunFacet(v.CrosslineFacet, RunFacet):
    """Metrics of a run, each marked training or evaluation and traceable to its source."""

    metrics: list[CrosslineMetric] = attr.field(factory=list, validator=v.list_of(CrosslineMetric))

    KEY: ClassVar[str] = "crossline_metrics"

    @staticmethod
    def _get_schema() -> str:
        return v.schema_url("CrosslineMetricsRunFacet", "1-0-0")
