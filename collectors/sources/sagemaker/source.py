"""The SageMaker source itself: its config and the order its processors run in.

Contract: ``SageMakerConfig`` is ``AwsConfig`` plus ``page_size`` (1..100, SageMaker's
list maximum); ``from_dict`` refuses unknown keys and bad values with ``ConfigError``.
``SageMakerSource.read(since)`` runs ``PROCESSORS`` in order over one ``Run``: a
processor whose list call fails stops there and the read keeps going with the next,
holding the watermark. Every batch carries ``since``; the last carries the newest time
seen, only if every list call succeeded (see the package docstring). ``report`` is the
last read's counters and warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from crossline.collectors import aws
from crossline.collectors.sources import Batch, Source
from crossline.collectors.sources.sagemaker import endpoints, jobs, lineage, pipelines, registry
from crossline.collectors.sources.sagemaker.common import Api, ListFailed, Run, SageMakerReport, parse_watermark
from crossline.errors import ConfigError
from crossline.times import stamp

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

Processor = Callable[[Api, Run], Iterator[Batch]]
PROCESSORS: tuple[Processor, ...] = (
    lineage.artifacts, lineage.actions, lineage.contexts, lineage.associations, lineage.trial_components,
    jobs.training_jobs, jobs.processing_jobs, registry.model_packages, endpoints.endpoints,
    pipelines.pipelines, pipelines.experiments,
)


@attrs.frozen
class SageMakerConfig(aws.AwsConfig):
    page_size: int = attrs.field(default=100, kw_only=True)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> SageMakerConfig:
        aws.unknown_keys(cls, config, "sagemaker source")
        try:
            made = cls(**config)
        except TypeError as err:
            raise ConfigError(f"sagemaker source: {err}") from err
        aws.check_aws(made, "sagemaker source")
        if isinstance(made.page_size, bool) or not isinstance(made.page_size, int) or not 1 <= made.page_size <= 100:
            raise ConfigError(f"sagemaker source: page_size must be 1..100, not {made.page_size!r}")
        return made


class SageMakerSource(Source):
    kind = "sagemaker"
    config_class = SageMakerConfig

    def __init__(self, config: SageMakerConfig | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config or SageMakerConfig()
        self.report = SageMakerReport()
        self._clients = aws.Clients(self.config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SageMakerSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(SageMakerConfig.from_dict(values), name=name)

    @property
    def client(self) -> SageMakerClient:
        """The SageMaker client; ``aws.Retry`` retries throttled and transient calls."""
        return self._clients("sagemaker")  # type: ignore[no-any-return]

    def read(self, since: str | None) -> Iterator[Batch]:
        self.report = SageMakerReport()
        run = Run(parse_watermark(since), since, self.report)
        api = Api(lambda: self.client, self.config.page_size)
        for processor in PROCESSORS:
            try:
                yield from processor(api, run)
            except ListFailed:
                run.complete = False
            pending = run.flush()
            if pending is not None:
                yield pending
        if not run.complete:
            run.warn(f"some SageMaker reads failed: the watermark stays at {since!r}", "the read", "unavailable")
        last = run.batch
        last.watermark = since
        newest = run.watermark()
        if run.complete and newest is not None and (run.since is None or newest > run.since):
            last.watermark = stamp(newest)
        yield last


__all__ = ["PROCESSORS", "SageMakerConfig", "SageMakerSource"]
