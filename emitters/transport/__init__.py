"""Durable delivery of OpenLineage events: the task spools, a background sender delivers.

Importing this package registers the transport's kind, ``crossline_durable_http``, with
the OpenLineage client's default transport factory; the dotted path
``crossline.emitters.transport.durable.DurableHttpTransport`` works without that import.
Modules: ``durable`` (the transport), ``config`` (its settings), ``spool`` (the on-disk
queue and quarantine), ``delivery`` (one POST and its verdict), ``sender`` (the drain and
the background thread), ``status`` (the records they report).
"""

from __future__ import annotations

from openlineage.client.transport import register_transport

from crossline.emitters.transport.config import DurableHttpConfig
from crossline.emitters.transport.delivery import Answer, Verdict
from crossline.emitters.transport.durable import DurableHttpTransport, ReplayReport
from crossline.emitters.transport.spool import ForeignEntry, Spool
from crossline.emitters.transport.status import (
    DeliveryStats,
    DrainReport,
    EventState,
    Outcome,
    Quarantined,
    SpoolStatus,
)
from crossline.errors import BackendUnavailable, EventRejected, SpoolFull

register_transport(DurableHttpTransport)

__all__ = [
    "Answer",
    "BackendUnavailable",
    "DeliveryStats",
    "DrainReport",
    "DurableHttpConfig",
    "DurableHttpTransport",
    "EventRejected",
    "EventState",
    "ForeignEntry",
    "Outcome",
    "Quarantined",
    "ReplayReport",
    "Spool",
    "SpoolFull",
    "SpoolStatus",
    "Verdict",
]
