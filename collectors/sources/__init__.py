"""Lineage sources: each reads one system and yields graph records in batches.

Contract: a ``Source`` subclass has a ``kind`` (its registry key), a ``Config`` attrs
class with ``from_dict``, and ``read(since)`` that yields ``Batch``es in the order the
source advances: each batch carries the watermark reached after it. The collector
writes a batch and its watermark in one transaction, so a crash (even kill -9) resumes
after the last whole batch and reading again from any watermark gives the same graph.
Sources are registered in ``REGISTRY``; a third party registers by dotted path.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from crossline.collectors.model import Edge, Node
from crossline.errors import ConfigError


@dataclass
class Batch:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    watermark: str | None = None
    scanned: int = 0
    warnings: list[str] = field(default_factory=list)


class Source(ABC):
    kind: ClassVar[str]

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.kind

    @abstractmethod
    def read(self, since: str | None) -> Iterator[Batch]:
        """Yield batches of what changed after ``since`` (None: from the beginning)."""

    def total(self, since: str | None) -> int | None:
        """How many items ``read`` will scan, when cheap to know (for progress bars)."""
        return None


REGISTRY: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    REGISTRY[cls.kind] = cls
    return cls


def source_from_config(config: Mapping[str, Any]) -> Source:
    """``{"type": "<kind or dotted.path.Class>", ...}`` to a configured source."""
    kind = config.get("type")
    if not kind:
        raise ConfigError(f"source config without 'type': {dict(config)!r}")
    cls = REGISTRY.get(kind)
    if cls is None and "." in kind:
        module, _, attr = kind.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"cannot import source {kind!r}: {err}") from err
    if cls is None:
        raise ConfigError(f"unknown source type {kind!r}; known: {', '.join(sorted(REGISTRY))}")
    return cls.from_config({k: v for k, v in config.items() if k != "type"})  # type: ignore[attr-defined]
