"""Lineage sources: each reads one system and yields graph records in batches.

Contract: a ``Source`` subclass has a ``kind`` (its registry key), a ``config_class``
(attrs, with ``from_dict``), and ``read(since)`` that yields ``Batch``es in the order the
source advances: each batch carries the watermark reached after it, and its warnings as
``CollectWarning`` records (source, where, why, kind). The collector
writes a batch and its watermark in one transaction, so a crash (even kill -9) resumes
after the last whole batch and reading again from any watermark gives the same graph.

Finding a source's class by its ``type``, the way OpenLineage's client finds transports:

1. crossline's built-in kinds (``BUILTIN``), imported on first use, so nothing needs to
   import the CLI or every source module first;
2. a third party's kinds, registered through the ``crossline.sources`` entry-point group
   (``my-kind = "my_package.module:MySource"``);
3. a dotted path to the class (``my_package.module.MySource``);
4. classes registered at run time with ``register`` (tests, notebooks).

``add_event(batch, event, ...)`` converts one OpenLineage event into a batch, its
warnings attributed to ``where`` (the event sources share it).

``text_map_watermark(since, source, shape)`` reads a watermark kept as a JSON object of
strings (one mark per input: a folder's last key, a file's fingerprint), ``{}`` for none.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from crossline.collectors.door import RunJobs
from crossline.collectors.log import CollectWarning
from crossline.collectors.model import Edge, Node
from crossline.collectors.openlineage import ConversionReport, records_from_event
from crossline.errors import ConfigError, SourceError


@dataclass
class Batch:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    watermark: str | None = None
    scanned: int = 0
    warnings: list[CollectWarning | str] = field(default_factory=list)
    """Structured warnings (source, where, why, kind); plain text is taken as a warning of unknown place."""


class Source(ABC):
    kind: ClassVar[str]
    checks_records: ClassVar[bool] = False
    """True for a source whose every record has been through the door already (``records_from_event``,
    ``door.record_refusal``): the collector's guard then spares it a second scan of each record's props."""
    runs: RunJobs | None = None
    """Which job each run id belongs to, set by the collector for the sources that read events
    (``records_from_event(..., runs=source.runs)``): conflicts across sources and collections."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.kind

    @property
    def watermark_key(self) -> str:
        """Where the store keeps this source's watermark: its name, unless what it reads
        differs from one configuration to the next (files) and no name was chosen."""
        return self.name

    @abstractmethod
    def read(self, since: str | None) -> Iterator[Batch]:
        """Yield batches of what changed after ``since`` (None: from the beginning)."""

    def total(self, since: str | None) -> int | None:
        """How many items ``read`` will scan, when cheap to know (for progress bars)."""
        return None


ENTRY_POINT_GROUP = "crossline.sources"
BUILTIN: dict[str, str] = {
    "openlineage-file": "crossline.collectors.sources.openlineage_file:OpenLineageFileSource",
    "marquez": "crossline.collectors.sources.marquez:MarquezSource",
    "sagemaker": "crossline.collectors.sources.sagemaker:SageMakerSource",
    "data-capture": "crossline.collectors.sources.data_capture:DataCaptureSource",
    "glue-catalog": "crossline.collectors.sources.glue_catalog:GlueCatalogSource",
    "feature-store": "crossline.collectors.sources.feature_store:FeatureStoreSource",
    "mlflow": "crossline.collectors.sources.mlflow_tracking:MlflowSource",
    "manual": "crossline.collectors.sources.manual:ManualSource",
}
REGISTRY: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    REGISTRY[cls.kind] = cls
    return cls


def _load(target: str, what: str) -> type[Source]:
    """``package.module:Class`` (entry-point form) or ``package.module.Class`` to the class."""
    module, sep, attr = target.partition(":")
    if not sep:
        module, _, attr = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot import source {what!r} from {target!r}: {err}") from err
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise ConfigError(f"source {what!r} ({target}) is not a crossline Source class")
    return cls


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_kinds() -> list[str]:
    """Every kind a config may name: built-in, installed by entry point, registered."""
    return sorted(set(BUILTIN) | set(_entry_points()) | set(REGISTRY))


def source_class(kind: str) -> type[Source]:
    """The class for ``kind``, found in the order of the module docstring."""
    if kind in BUILTIN:
        return _load(BUILTIN[kind], kind)
    plugin = _entry_points().get(kind)
    if plugin is not None:
        return _load(plugin.value, kind)
    if "." in kind:
        return _load(kind, kind)
    if kind in REGISTRY:
        return REGISTRY[kind]
    raise ConfigError(f"unknown source type {kind!r}; known: {', '.join(known_kinds())}")


def source_from_config(config: Mapping[str, Any]) -> Source:
    """``{"type": "<kind or dotted.path.Class>", ...}`` to a configured source."""
    kind = config.get("type")
    if not kind or not isinstance(kind, str):
        raise ConfigError(f"source config without a 'type': {dict(config)!r}")
    cls = source_class(kind)
    return cls.from_config({k: v for k, v in config.items() if k != "type"})  # type: ignore[attr-defined]


def text_map_watermark(since: str | None, source: str, shape: str) -> dict[str, str]:
    """A watermark that is a JSON object of strings (``shape`` names it in the error, e.g.
    "a folder -> last key object"); ``{}`` for None; ``SourceError`` for anything else."""
    if since is None:
        return {}
    try:
        marks = json.loads(since)
    except json.JSONDecodeError as err:
        raise SourceError(f"{source} watermark is not JSON: {since!r}") from err
    if not isinstance(marks, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in marks.items()):
        raise SourceError(f"{source} watermark is not {shape}: {since!r}")
    return marks


def add_event(batch: Batch, event: Any, *, source: str, where: str, report: ConversionReport,
              runs: RunJobs) -> tuple[list[Node], list[Edge]]:
    """``records_from_event`` into ``batch``: its records, and its warnings as ``CollectWarning``s
    at ``where``. Returns the event's records."""
    before = len(report.warnings)
    nodes, edges = records_from_event(event, source=source, report=report, runs=runs)
    batch.nodes.extend(nodes)
    batch.edges.extend(edges)
    batch.warnings.extend(CollectWarning(source, where, w, getattr(w, "kind", "unusable")) for w in report.warnings[before:])
    return nodes, edges
