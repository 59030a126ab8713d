"""The one exception hierarchy of crossline.

Contract: every error crossline raises on purpose derives from ``CrosslineError``.
Library code raises the most specific subclass with ``raise ... from err``; only the
emission boundary (the code that runs inside a user's task) catches and logs instead
of raising, so that lineage never fails a pipeline.
"""

from __future__ import annotations


class CrosslineError(Exception):
    """Base of every error crossline raises on purpose."""


class ConfigError(CrosslineError):
    """Configuration is missing, malformed or contradicts the machine (e.g. a port in use)."""


class BedError(CrosslineError):
    """A part of the local bed (PostgreSQL, Marquez, moto, Airflow) failed to start or stop."""


class SourceError(CrosslineError):
    """A lineage source (Marquez, SageMaker, OpenLineage files, data capture) failed."""


class BackendUnavailable(SourceError):
    """The lineage backend did not take an event now (no answer, 5xx, 429, ...); retry later."""


class InvalidEvent(CrosslineError):
    """An OpenLineage event or facet is malformed."""


class EventRejected(InvalidEvent):
    """The lineage backend refused an event (4xx); resending it will not help."""

    def __init__(self, status: int, answer: str) -> None:
        super().__init__(f"backend refused the event with HTTP {status}: {answer[:500]}")
        self.status = status
        self.answer = answer


class SpoolFull(CrosslineError):
    """Spooling an event would take the spool folder over its ``max_bytes`` bound."""


class NodeNotFound(CrosslineError):
    """A graph node id is unknown to the store."""


class NoPath(CrosslineError):
    """No path joins two graph nodes along the edges (and at the time) a query allows."""
