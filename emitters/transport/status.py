"""What the spool and its delivery report: plain records, JSON-ready with ``as_dict``.

Contract: these are values only (no I/O). ``EventState`` is what the spool persists
beside a pending event; ``Quarantined`` is one entry of ``rejected/`` with its reason;
``SpoolStatus`` is what ``crossline lineage status`` prints; ``DeliveryStats`` and
``DrainReport`` count what a transport and one drain did.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attr

from crossline.times import UTC, stamp


def spooled_at(name: str) -> str | None:
    """The ISO time encoded in a spool file name, or None for a foreign name."""
    head = name.split("-", 1)[0]
    if len(head) != 20 or not head.isdigit():
        return None
    return stamp(datetime.fromtimestamp(int(head) / 1e9, tz=UTC))


class Outcome(str, enum.Enum):
    """What ``emit`` did with an event."""

    SPOOLED = "spooled"  # durably on disk; the background sender delivers it
    REJECTED = "rejected"  # cannot be sent as it is (e.g. NaN); kept in rejected/
    DROPPED = "dropped"  # the spool was full
    FAILED = "failed"  # an unexpected error at the boundary; logged


@attr.define
class EventState:
    """Delivery attempts of one pending event, persisted beside it."""

    attempts: int = 0  # failures charged to this event (the backend saw it)
    next_at: float = 0.0  # epoch seconds before which it is not tried again
    last_error: str = ""
    status: int | None = None  # the last HTTP status, if there was an answer


@attr.define(frozen=True)
class FolderStatus:
    count: int
    bytes: int
    oldest: str | None  # ISO time the oldest entry was spooled, from its name

    def as_dict(self) -> dict[str, Any]:
        return attr.asdict(self)


@attr.define(frozen=True)
class Quarantined:
    name: str
    reason: str
    status: int | None
    answer: str
    attempts: int
    rejected_at: str | None
    spooled_at: str | None
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return attr.asdict(self)


@attr.define(frozen=True)
class SpoolStatus:
    directory: str
    max_bytes: int
    pending: FolderStatus
    rejected: FolderStatus
    head: dict[str, Any] | None = None  # the oldest pending event's attempts, if it failed before
    quarantined: list[Quarantined] = attr.field(factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "max_bytes": self.max_bytes,
            "pending": self.pending.as_dict(),
            "head": self.head,
            "rejected": self.rejected.as_dict(),
            "quarantined": [q.as_dict() for q in self.quarantined],
        }


@attr.define
class DeliveryStats:
    """Counters of one transport, since it was made."""

    spooled: int = 0  # emits written to the spool
    sent: int = 0  # events this transport delivered (sender or replay)
    retried: int = 0  # failures that leave the event queued for another attempt
    rejected: int = 0  # events this transport quarantined
    dropped: int = 0  # emits lost to a full spool
    errors: int = 0  # unexpected errors caught at the boundary
    couriers: int = 0  # sender processes this transport started (see courier)

    def as_dict(self) -> dict[str, int]:
        return attr.asdict(self)


@attr.define
class DrainReport:
    """What one drain (a sender cycle or a replay) did, and why it stopped."""

    sent: int = 0
    rejected: int = 0
    remaining: int = 0
    busy: bool = False  # another process held the drain lock
    held: str | None = None  # why delivery stopped with events left: unreachable, setup, retry, busy
    error: str | None = None  # the last failure, redacted
    next_due: float | None = None  # epoch seconds of the next attempt, when it waits for one

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in attr.asdict(self).items() if k != "next_due"}
