"""The one exception hierarchy of crossline, and the exit code each error means.

Contract: every error crossline raises on purpose derives from ``CrosslineError``.
Library code raises the most specific subclass with ``raise ... from err``; only the
emission boundary (the code that runs inside a user's task) catches and logs instead
of raising, so that lineage never fails a pipeline.

Each class carries the ``exit_code`` the ``crossline`` command exits with when it stops
on that error (documented in ``crossline --help`` and the README):

== =====================================================================================
0  the command did what it was asked and found nothing wrong
1  the answer has findings: a gap in a trace, a model not approved at the time asked,
   no path between two nodes, or (with ``--strict``) warnings about the input
2  usage: the command line or the configuration is wrong, or names nothing in the graph
3  bad input data: an event, a file or a record that cannot be used as it is
4  unavailable: a backend (Marquez, AWS, the graph store's database) cannot be reached
5  an unexpected error inside crossline (a bug): one line, and the traceback with
   ``--log-level debug``
== =====================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_UNAVAILABLE = 4
EXIT_INTERNAL = 5


class CrosslineError(Exception):
    """Base of every error crossline raises on purpose."""

    exit_code = EXIT_INTERNAL


class ConfigError(CrosslineError):
    """Configuration is missing, malformed or contradicts the machine."""

    exit_code = EXIT_USAGE


class SourceError(CrosslineError):
    """A lineage source (Marquez, SageMaker, OpenLineage files, data capture) could not be read."""

    exit_code = EXIT_UNAVAILABLE


class BackendUnavailable(SourceError):
    """The lineage backend did not take an event now (no answer, 5xx, 429, ...); retry later."""


class SourceInputInvalid(SourceError):
    """A source's input is there but cannot be used as it is: not UTF-8, not JSON, another format."""

    exit_code = EXIT_BAD_INPUT


class StoreUnavailable(CrosslineError):
    """The graph store's database cannot be opened or reached."""

    exit_code = EXIT_UNAVAILABLE


class InvalidEvent(CrosslineError):
    """An OpenLineage event, facet or record is malformed."""

    exit_code = EXIT_BAD_INPUT


class HostileInput(InvalidEvent):
    """Input no store keeps alike: NUL, a lone surrogate, NaN or Infinity, a key twice, too deep or too large."""


class EventRejected(InvalidEvent):
    """The lineage backend refused an event (4xx); resending it will not help."""

    def __init__(self, status: int, answer: str) -> None:
        super().__init__(f"backend refused the event with HTTP {status}: {answer[:500]}")
        self.status = status
        self.answer = answer


class SpoolFull(CrosslineError):
    """Spooling an event would take the spool folder over its ``max_bytes`` bound."""

    exit_code = EXIT_UNAVAILABLE


class NodeNotFound(CrosslineError):
    """A node the user or a caller named is not in the graph store."""

    exit_code = EXIT_USAGE


class AmbiguousNode(NodeNotFound):
    """What the user named matches several nodes; ``candidates`` lists them."""

    def __init__(self, message: str, candidates: Sequence[str]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


class NoPath(CrosslineError):
    """No path joins two graph nodes along the edges (and at the time) a query allows."""

    exit_code = EXIT_FINDINGS
