"""Durable delivery of OpenLineage events: an HTTP transport that spools what it cannot send.

Importing this package registers the transport's kind, ``crossline_durable_http``, with
the OpenLineage client's default transport factory; the dotted path
``crossline.emitters.transport.durable.DurableHttpTransport`` works without that import.
"""

from __future__ import annotations

from openlineage.client.transport import register_transport

from crossline.emitters.transport.durable import (
    BackendUnavailable,
    DeliveryStats,
    DurableHttpConfig,
    DurableHttpTransport,
    EventRejected,
    Outcome,
    ReplayReport,
)
from crossline.emitters.transport.spool import Spool, SpoolStatus
from crossline.errors import SpoolFull

register_transport(DurableHttpTransport)

__all__ = [
    "BackendUnavailable",
    "DeliveryStats",
    "DurableHttpConfig",
    "DurableHttpTransport",
    "EventRejected",
    "Outcome",
    "ReplayReport",
    "Spool",
    "SpoolFull",
    "SpoolStatus",
]
