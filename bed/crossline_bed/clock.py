"""The bed's clock: the time the moto server process lives at.

Contract: ``set_clock(at)`` moves this process's clock to ``at`` and lets it tick on from
there at the real pace; ``set_clock(None)`` returns to real time; ``now()`` is the time
the clock shows. The scenario's AWS facts happen in March 2027 (training ends, approvals,
deployments, inferences) and moto stamps everything with "now" (``moto.core.utils.utcnow``,
``datetime.now``, ``time.time``), so the clock is set before each fact happens.

It uses ``time_machine``, which patches the clock functions of the whole process at the
C level: every thread of the threaded server sees the same time, and moto needs no
change. ``time.monotonic`` is left alone, so timeouts and sleeps still measure real
time. Only the moto server process should ever set it (``MotoServer.set_clock`` asks
the server over HTTP); setting it in a test process would move that process's clock.
A naive ``at`` is taken to be UTC.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import time_machine

_lock = threading.Lock()
_travel: time_machine.travel | None = None


def set_clock(at: datetime | None) -> datetime:
    """Move the clock to ``at`` (ticking on from there), or back to real time; return ``now()``."""
    global _travel
    with _lock:
        if _travel is not None:
            _travel.stop()
            _travel = None
        if at is not None:
            if at.tzinfo is None:
                at = at.replace(tzinfo=timezone.utc)
            travel = time_machine.travel(at, tick=True)
            travel.start()
            _travel = travel
    return now()


def now() -> datetime:
    """The bed's current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def travelling() -> bool:
    """Whether the clock is set (rather than real time)."""
    return _travel is not None
