"""Durable HTTP delivery: the task's thread only spools; a background sender delivers.

Contract:

- ``DurableHttpTransport.emit(event)`` never raises, never touches the network and never
  reads the spool. It redacts the event (``crossline.redact``, with the config's
  ``redact_keys``), serializes it as the OpenLineage ``Serde`` does, appends it durably
  to the spool (write under ``tmp/``, fsync, rename), wakes the sender and returns
  ``Outcome.SPOOLED``. An event JSON cannot carry (NaN, Infinity) is kept in
  ``rejected/`` at once (``Outcome.REJECTED``); a full spool drops the *new* event
  (``Outcome.DROPPED``, one warning per crossing of the bound: the spooled events are an
  ordered history, a run's START before its COMPLETE, and dropping the tail loses only the
  newest facts); any other error is logged and counted (``Outcome.FAILED``). It is the
  fail-open boundary; inside, the library raises typed errors.
- **Delivery** runs in a sender process per spool (``courier``; ``sender: auto``, the
  default, and ``process``), or with ``sender: thread`` in a background thread per
  transport (``sender.Sender``, made again in a forked child), and in ``replay()``. A
  process is the default because emitters are often brief: Airflow's listener emits from
  forked children that end with ``os._exit``, which no thread of theirs outlives. A
  long-lived application may choose ``thread``. Both use
  ``sender.drain``: oldest first, every failure classified (``delivery``), retries with
  backoff and ``Retry-After``, a persisted attempt budget per event, quarantine to
  ``rejected/`` with the reason, so one poisoned event never holds the rest and an
  outage never quarantines anything. What is sent is redacted again, so a file an older
  version or another writer left in the spool cannot carry a secret out. Only the holder of the spool's ``flock`` sends, so
  processes sharing a spool never send one file twice; a crash between the 2xx and the
  delete resends that one event: at least once.
- **Shutdown.** ``close(timeout)`` (and, at interpreter exit, an ``atexit`` hook for
  every transport of the process) lets the sender deliver for at most ``timeout``
  seconds, bounded by ``shutdown_timeout`` (default 2 s; a negative timeout means that
  bound); what is left stays spooled for the next process or ``crossline lineage
  replay``. It returns whether the spool is empty. A process that ends with
  ``os._exit`` skips this, which is why a forked child hands delivery to a courier.
- Nothing it logs or reports holds a credential: the URL shown (``url``) has none, and
  every message goes through ``crossline.redact``.

Configure it the OpenLineage way, by dotted path or, once ``crossline.emitters.transport``
is imported, by kind (``config`` gives every key and the precedence)::

    transport:
      type: crossline.emitters.transport.durable.DurableHttpTransport   # or: crossline_durable_http
      url: http://marquez:5000
      spool_dir: /var/lib/crossline/spool
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpTransport
from openlineage.client.transport.transport import Transport

from crossline.emitters.transport.config import (  # noqa: F401  re-exported
    DEFAULT_HTTP_RETRY,
    DEFAULT_MAX_BYTES,
    DEFAULTS,
    DurableHttpConfig,
)
from crossline.emitters.transport import courier
from crossline.emitters.transport.delivery import Answer, Poster
from crossline.emitters.transport.sender import Policy, Sender, drain
from crossline.emitters.transport.spool import Spool
from crossline.emitters.transport.status import DeliveryStats, DrainReport, Outcome, SpoolStatus
from crossline.errors import ConfigError, SpoolFull
from crossline.redact import RedactingFilter, redact, redact_text, secret_keys

if TYPE_CHECKING:
    from openlineage.client.client import Event

log = logging.getLogger(__name__)
log.addFilter(RedactingFilter())
# The OpenLineage client logs whole events and transport configs at DEBUG; redact those too.
for _name in ("openlineage.client.client", "openlineage.client.transport.http"):
    logging.getLogger(_name).addFilter(RedactingFilter())

ReplayReport = DrainReport  # what replay() returns (the name the CLI and older callers use)
_live: weakref.WeakSet[DurableHttpTransport] = weakref.WeakSet()


def _non_serializable(obj: object) -> str:
    return f"<<non-serializable: {type(obj).__qualname__}>>"


class DurableHttpTransport(Transport):
    kind = "crossline_durable_http"
    config_class = DurableHttpConfig

    def __init__(self, config: DurableHttpConfig) -> None:
        self.config = config
        self.http = HttpTransport(config.http)  # its URL has no credentials (see config)
        post_url = urljoin(self.http.url, self.http.endpoint)
        self.url = redact_text(post_url)
        self.poster = Poster(self.http, post_url, self.url, config.basic_auth)
        self.spool = Spool(config.spool_dir, config.max_bytes, fsync=config.fsync)
        self.policy = Policy.of(config)
        self.stats = DeliveryStats()
        self._keys = secret_keys(config.redact_keys)
        self._full = False  # past the bound since the last successful spool write
        self._sender: Sender | None = None
        self._sender_lock = threading.Lock()
        self._pid = os.getpid()
        self._forked = False  # this object came to this process through a fork
        _live.add(self)

    def __str__(self) -> str:
        return f"<DurableHttpTransport(url={self.url}, spool={self.spool.directory})>"

    # -- the boundary ------------------------------------------------------------------
    def emit(self, event: Event) -> Outcome:  # type: ignore[override]
        """Spool ``event`` for the background sender; never raises into the caller's task."""
        try:
            doc = redact(Serde.to_dict(event), self._keys)
            try:
                body = json.dumps(doc, sort_keys=True, allow_nan=False, default=_non_serializable)
            except ValueError:  # NaN or Infinity: no backend can read it as JSON
                body = json.dumps(doc, sort_keys=True, default=_non_serializable)
                path = self.spool.reject_new(body, "not valid JSON: a number is NaN or Infinity")
                self.stats.rejected += 1
                log.error("crossline lineage: an event holds NaN or Infinity, which JSON cannot carry; "
                          "kept in %s and not sent", path)
                return Outcome.REJECTED
        except Exception:  # the boundary: a bad event must not fail the task
            self.stats.errors += 1
            log.exception("crossline lineage: could not serialize an OpenLineage event; it is lost")
            return Outcome.FAILED
        try:
            if self._pid != os.getpid():
                self._after_fork()
            self.spool.put(body)
        except SpoolFull as err:
            return self._dropped(err)
        except Exception:  # the boundary
            self.stats.errors += 1
            log.exception("crossline lineage: could not spool an event for %s in %s; it is lost",
                          self.url, self.spool.directory)
            return Outcome.FAILED
        if self._full:
            self._full = False
            log.warning("crossline lineage: spool %s is below its bound again; %d events were dropped",
                        self.spool.directory, self.stats.dropped)
        self.stats.spooled += 1
        self._kick()
        return Outcome.SPOOLED

    def _dropped(self, err: SpoolFull) -> Outcome:
        self.stats.dropped += 1
        if not self._full:
            self._full = True
            log.warning(
                "crossline lineage: %s. Dropping NEW events (keeping the older ones in order) until the "
                "spool drains; dropped so far: %d. Raise max_bytes or bring the backend at %s back.",
                err, self.stats.dropped, self.url,
            )
        self._kick()
        return Outcome.DROPPED

    def _kick(self) -> None:
        if self._process_sender():
            if courier.ensure(self):
                self.stats.couriers += 1
            return
        try:
            sender = self._sender
            if sender is None or not sender.is_alive():
                sender = self._start_sender()
            sender.wake()
        except Exception:  # the event is spooled; the next emit or replay delivers it  # noqa: BLE001
            self.stats.errors += 1
            log.exception("crossline lineage: could not start the background sender")

    def _process_sender(self) -> bool:
        """Whether a sender process delivers this process's events (see ``courier``)."""
        if not self.config.params.get("url"):
            return False  # built without from_dict: nothing to configure a process with
        return self.config.sender in ("process", "auto")

    def _post(self, body: str) -> Answer:
        """POST a spooled body, redacted again: files an older version or another writer left are not ours."""
        try:
            doc = json.loads(body)
            clean = redact(doc, self._keys)
            if clean != doc:
                body = json.dumps(clean, sort_keys=True, default=_non_serializable)
        except (ValueError, RecursionError):  # the backend judges what is not JSON
            pass
        return self.poster.post(body)

    def _start_sender(self) -> Sender:
        with self._sender_lock:
            if self._sender is None or not self._sender.is_alive():
                self._sender = Sender(self.spool, self._post, self.policy, self.stats, self.config, self.url)
                self._sender.start()
            return self._sender

    def _after_fork(self) -> None:
        """In a forked child: no parent's thread, lock or pooled connection is ours.

        The child inherits the HTTP session's pooled connections; writing to them would
        interleave with the parent's requests, and closing them could end the parent's
        TLS session. So the child forgets the session (unclosed) and makes its own, and
        starts its own sender on its first emit. Its counters start at zero: they count
        what this process did.
        """
        self._pid = os.getpid()
        self._forked = True
        self._sender = None
        self._sender_lock = threading.Lock()
        self.stats = DeliveryStats()
        self.spool.after_fork()
        self.http._session = None  # the property makes a fresh session on next use

    # -- shutdown ------------------------------------------------------------------------
    def close(self, timeout: float = -1) -> bool:
        """Let the sender deliver for a bounded time, stop it; True if nothing is left spooled."""
        try:
            deadline = time.monotonic() + self._bound(timeout)
            empty = self._flush(deadline)
            self._stop(deadline)
            return empty
        except Exception:  # the boundary  # noqa: BLE001
            self.stats.errors += 1
            log.exception("crossline lineage: error while closing the transport for %s", self.url)
            return False

    def wait_for_completion(self, timeout: float = -1) -> bool:
        """Let the sender deliver for a bounded time without stopping it; True if the spool is empty."""
        try:
            return self._flush(time.monotonic() + self._bound(timeout))
        except Exception:  # the boundary  # noqa: BLE001
            log.exception("crossline lineage: error while waiting for delivery to %s", self.url)
            return False

    def _bound(self, timeout: float) -> float:
        bound = self.config.shutdown_timeout
        return bound if timeout is None or timeout < 0 else min(timeout, bound)

    def _flush(self, deadline: float) -> bool:
        sender = self._request_flush(deadline)
        return sender.wait_flushed(deadline) if sender is not None else not self.spool.has_pending()

    def _request_flush(self, deadline: float) -> Sender | None:
        if self._pid != os.getpid():
            self._after_fork()
        sender = self._sender
        if sender is None or not sender.is_alive():
            if not self.spool.has_pending() or deadline <= time.monotonic():
                return None
            sender = self._start_sender()
        sender.request_flush(deadline)
        return sender

    def _stop(self, deadline: float) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.stop()
            sender.join(max(0.0, deadline - time.monotonic()))
            if sender.is_alive():  # in a request: leave its session to it; it is a daemon
                return
        self.http.close()

    # -- library (typed errors inside) -------------------------------------------------
    def replay(self, wait: float = 30.0) -> DrainReport:
        """Deliver spooled events now, oldest first, ignoring scheduled retry times.

        Waits up to ``wait`` seconds for another drainer. The report says what was sent
        and quarantined, what is left and why delivery stopped (``held``); raises
        ``ConfigError`` only for a spool it cannot use.
        """
        if self._pid != os.getpid():
            self._after_fork()
        try:
            with self.spool.lock(wait) as held:
                if not held:
                    report = DrainReport(busy=True)
                else:
                    report = drain(self.spool, self._post, self.policy, self.stats, force=True)
            report.remaining = len(self.spool.pending_names())
        except OSError as err:
            raise ConfigError(f"cannot use the lineage spool {self.spool.directory}: {err}") from err
        return report

    def status(self) -> SpoolStatus:
        return self.spool.status()


@atexit.register
def _drain_at_exit() -> None:
    """At interpreter exit: every sender of this process delivers what it can, all at once, bounded.

    No thread is started here (newer Pythons refuse that at shutdown): the senders that
    run are asked together, then waited for together.
    """
    pid = os.getpid()
    senders = [(t, t._sender) for t in list(_live) if t._pid == pid and t._sender is not None]
    senders = [(t, s) for t, s in senders if s.is_alive()]
    if not senders:
        return
    try:
        deadline = time.monotonic() + max(t.config.shutdown_timeout for t, _ in senders)
        for _, sender in senders:
            sender.request_flush(deadline)
        for transport, sender in senders:
            sender.wait_flushed(deadline)
            transport._stop(deadline)
    except Exception:  # exit must go on  # noqa: BLE001
        log.exception("crossline lineage: error delivering spooled events at exit")


def _reset_in_child() -> None:
    for transport in list(_live):
        transport._after_fork()


os.register_at_fork(after_in_child=_reset_in_child)


def _is_durable_type(kind: Any) -> bool:
    return kind in (DurableHttpTransport.kind, f"{DurableHttpTransport.__module__}.{DurableHttpTransport.__name__}",
                    "crossline.emitters.transport.DurableHttpTransport")


def configured_params(*, spool_dir: Path | None = None, url: str | None = None) -> dict[str, Any]:
    """The durable transport's config dict as the OpenLineage client would resolve it.

    Explicit arguments win. Otherwise the transport section of the OpenLineage config
    (``openlineage.yml`` or ``OPENLINEAGE__TRANSPORT__*``) is used when its type is this
    transport, else Airflow's (``AIRFLOW__OPENLINEAGE__TRANSPORT``, the JSON the Airflow
    provider reads, so that on a worker the commands find the spool its tasks use), and
    ``OPENLINEAGE_URL`` gives the URL when nothing else does.
    """
    from openlineage.client import OpenLineageClient

    try:
        section = dict(OpenLineageClient(transport=_NULL).config.transport or {})
    except ValueError as err:
        raise ConfigError(f"cannot read the OpenLineage config: {err}") from err
    if not _is_durable_type(section.get("type")) and os.environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT"):
        try:
            section = dict(json.loads(os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"]))
        except (ValueError, TypeError) as err:
            raise ConfigError(f"AIRFLOW__OPENLINEAGE__TRANSPORT is not a JSON object: {err}") from err
    params: dict[str, Any] = section if _is_durable_type(section.get("type")) else {}
    if url:
        params["url"] = url
    elif "url" not in params and os.environ.get("OPENLINEAGE_URL"):
        params["url"] = os.environ["OPENLINEAGE_URL"]
    if spool_dir is not None:
        for spelling in ("spool_dir", "spoolDir", "spooldir"):
            params.pop(spelling, None)
        params["spool_dir"] = str(spool_dir)
    return params


def spool_from_config(spool_dir: Path | None = None) -> Spool:
    """The spool the configured durable transport uses; no URL needed."""
    params = configured_params(spool_dir=spool_dir)
    params.setdefault("url", "http://unused.invalid")
    cfg = DurableHttpConfig.from_dict(params)
    return Spool(cfg.spool_dir, cfg.max_bytes, fsync=cfg.fsync)


def transport_from_config(*, spool_dir: Path | None = None, url: str | None = None) -> DurableHttpTransport:
    params = configured_params(spool_dir=spool_dir, url=url)
    if not params.get("url"):
        raise ConfigError(
            "no lineage backend URL: pass --url, or configure the transport "
            f"(type {DurableHttpTransport.kind}) in openlineage.yml or OPENLINEAGE__TRANSPORT__*, "
            "or set OPENLINEAGE_URL"
        )
    return DurableHttpTransport(DurableHttpConfig.from_dict(params))


class _NullTransport(Transport):
    """Lets us read the client's resolved config without building its transport."""

    kind = "crossline_null"


_NULL = _NullTransport()
