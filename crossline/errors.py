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


class InvalidEvent(CrosslineError):
    """An OpenLineage event or facet is malformed."""


class NodeNotFound(CrosslineError):
    """A graph node id is unknown to the store."""
