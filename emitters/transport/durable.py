"""Durable HTTP delivery: the OpenLineage ``HttpTransport`` with an on-disk spool.

Contract:

- ``DurableHttpTransport.emit(event)`` never raises. It is the fail-open boundary: every
  error is caught here, logged and counted in ``transport.stats``. Inside, the library
  raises typed errors (``BackendUnavailable``, ``EventRejected``, ``SpoolFull``,
  ``ConfigError``).
- **Outcomes.** 2xx: delivered. No answer (connection refused, timeout), 5xx, 408, 429,
  and the statuses that say the *setup* is wrong rather than the event (401, 403, 404:
  credentials or endpoint), i.e. ``retry_status``: the event is spooled and delivered
  later. Any other 4xx: the backend refuses this event, so it is moved to ``rejected/``
  with the backend's answer, logged as an error and counted, and never retried.
- **Order.** If the spool holds events, ``emit`` first replays them oldest first; the new
  event is sent directly only when the spool is empty, otherwise it is spooled behind
  them. Replay stops at the first event the backend does not take, so order is kept.
- **Idempotent replay, at least once.** A spooled file is deleted only after a 2xx.
  Only the holder of the spool's ``flock`` sends spooled files, so concurrent emitters
  and ``crossline lineage replay`` in several processes never send one file twice. A
  crash between the 2xx and the delete resends that one event: at least once.
- **Bound.** When spooling would take the folder over ``max_bytes`` the *new* event is
  dropped, counted, and a warning is logged once per crossing of the bound. We drop the
  new event rather than the oldest because the spooled events are an ordered history the
  backend has not seen yet (a run's START before its COMPLETE); dropping from the head
  would leave Marquez with runs that complete without having started, while dropping at
  the tail loses only the most recent facts, and says so in the log.

Configure it the OpenLineage way, by dotted path or, once ``crossline.emitters.transport``
is imported, by kind::

    transport:
      type: crossline.emitters.transport.durable.DurableHttpTransport   # or: crossline_durable_http
      url: http://marquez:5000
      spool_dir: /var/lib/crossline/spool
      max_bytes: 104857600
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import attr
import requests
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.transport import Config, Transport

from crossline import config as crossline_config
from crossline.emitters.transport.spool import Spool, SpoolStatus
from crossline.errors import BackendUnavailable, ConfigError, EventRejected, SpoolFull

if TYPE_CHECKING:
    from openlineage.client.client import Event

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
SPOOL_DIR_ENV = "CROSSLINE_SPOOL_DIR"
MAX_BYTES_ENV = "CROSSLINE_SPOOL_MAX_BYTES"
# 408/429 and 5xx: the backend is busy or down. 401/403/404: our credentials or endpoint
# are wrong, which every event suffers alike; keep the events until the setup is fixed
# instead of condemning each one to rejected/.
DEFAULT_RETRY_STATUS = (401, 403, 404, 408, 429)
# The spool is the retry: urllib3's own retries (5, with backoff, in the plain
# HttpTransport) would hold a task for seconds per event while the backend is down.
DEFAULT_HTTP_RETRY: dict[str, Any] = {
    "total": 1,
    "connect": 1,
    "read": 0,
    "status": 0,
    "backoff_factor": 0.0,
    "status_forcelist": [],
    "allowed_methods": ["POST"],
}

# Our keys, each with the spellings OpenLineage config sources produce: camelCase and
# snake_case from openlineage.yml, lower-cased from OPENLINEAGE__TRANSPORT__* variables.
_KEYS = {
    "spool_dir": ("spool_dir", "spoolDir", "spooldir"),
    "max_bytes": ("max_bytes", "maxBytes", "maxbytes"),
    "retry_status": ("retry_status", "retryStatus", "retrystatus"),
    "failure_backoff": ("failure_backoff", "failureBackoff", "failurebackoff"),
    "fsync": ("fsync",),
}




class Outcome(str, enum.Enum):
    SENT = "sent"  # delivered now, directly
    SPOOLED = "spooled"  # on disk, to be delivered by a later emit or replay
    REJECTED = "rejected"  # the backend refused it; kept in rejected/
    DROPPED = "dropped"  # the spool was full
    FAILED = "failed"  # an unexpected error at the boundary; logged


@attr.define
class DeliveryStats:
    """Counters of one transport, since it was made."""

    sent: int = 0
    spooled: int = 0
    replayed: int = 0
    rejected: int = 0
    dropped: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return attr.asdict(self)


@attr.define
class ReplayReport:
    sent: int = 0
    rejected: int = 0
    remaining: int = 0
    busy: bool = False  # another process held the drain lock
    error: str | None = None  # why replay stopped early, if it did

    def as_dict(self) -> dict[str, Any]:
        return attr.asdict(self)


def _pick(params: dict[str, Any], key: str) -> Any:
    for spelling in _KEYS[key]:
        if spelling in params:
            return params[spelling]
    return None


@attr.define
class DurableHttpConfig(Config):
    """Configuration of ``DurableHttpTransport``.

    Each setting is taken from the first of these that gives it:

    1. the transport's own config dict, i.e. what the OpenLineage client resolved from
       (in its order) the config passed to ``OpenLineageClient(config=...)``, the
       ``openlineage.yml`` file (``$OPENLINEAGE_CONFIG``, the working directory,
       ``~/.openlineage``) and ``OPENLINEAGE__TRANSPORT__*`` variables. Keys may be
       snake_case or camelCase: ``spool_dir``, ``max_bytes``, ``retry_status``,
       ``failure_backoff``, ``fsync``; every ``HttpTransport`` key (``url``, ``endpoint``,
       ``timeout``, ``auth``, ``compression``, ``custom_headers``, ``retry``, ...) passes
       through to the wrapped transport unchanged;
    2. crossline's variables: ``CROSSLINE_SPOOL_DIR`` and ``CROSSLINE_SPOOL_MAX_BYTES``;
    3. ``$CROSSLINE_HOME/spool`` (see ``crossline.config.home()``) for the folder;
    4. the defaults: ``max_bytes`` 100 MiB, ``retry_status`` 401/403/404/408/429 (and
       every 5xx), ``failure_backoff`` 0 s, ``fsync`` on, and urllib3 retry of one quick
       reconnect (``DEFAULT_HTTP_RETRY``) instead of the plain transport's five with
       backoff, because the spool is the retry.

    A malformed value is a ``ConfigError`` naming the key.
    """

    http: HttpConfig
    spool_dir: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    retry_status: frozenset[int] = frozenset(DEFAULT_RETRY_STATUS)
    failure_backoff: float = 0.0
    fsync: bool = True

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> DurableHttpConfig:
        params = dict(params)
        ours = {key: _pick(params, key) for key in _KEYS}
        for spellings in _KEYS.values():
            for spelling in spellings:
                params.pop(spelling, None)
        params.pop("type", None)
        if "retry" not in params:
            params["retry"] = dict(DEFAULT_HTTP_RETRY)
        try:
            http = HttpConfig.from_dict(params)
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"durable lineage transport: {err}") from err

        spool_dir = ours["spool_dir"] or os.environ.get(SPOOL_DIR_ENV) or None
        max_bytes = ours["max_bytes"] if ours["max_bytes"] is not None else os.environ.get(MAX_BYTES_ENV) or None
        retry_status = ours["retry_status"]
        return cls(
            http=http,
            spool_dir=Path(spool_dir).expanduser() if spool_dir else crossline_config.home() / "spool",
            max_bytes=_as_int("max_bytes", max_bytes, DEFAULT_MAX_BYTES),
            retry_status=frozenset(_as_int("retry_status", s, 0) for s in retry_status)
            if retry_status is not None
            else frozenset(DEFAULT_RETRY_STATUS),
            failure_backoff=_as_float("failure_backoff", ours["failure_backoff"], 0.0),
            fsync=_as_bool("fsync", ours["fsync"], True),
        )


def _as_int(key: str, raw: Any, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"durable lineage transport: {key}={raw!r} is not an integer") from err
    if key == "max_bytes" and value <= 0:
        raise ConfigError(f"durable lineage transport: max_bytes={value} must be positive")
    return value


def _as_float(key: str, raw: Any, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"durable lineage transport: {key}={raw!r} is not a number") from err


def _as_bool(key: str, raw: Any, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"durable lineage transport: {key}={raw!r} is not a boolean")


class DurableHttpTransport(Transport):
    kind = "crossline_durable_http"
    config_class = DurableHttpConfig

    def __init__(self, config: DurableHttpConfig) -> None:
        self.config = config
        self.http = HttpTransport(config.http)
        self.url = urljoin(self.http.url, self.http.endpoint)
        self.spool = Spool(config.spool_dir, config.max_bytes, fsync=config.fsync)
        self.stats = DeliveryStats()
        self._full = False  # past the bound since the last successful spool write
        self._down = False  # the last attempt failed; log the next failure at debug only
        self._down_until = 0.0  # monotonic time before which we do not try the backend
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __str__(self) -> str:
        return f"<DurableHttpTransport(url={self.url}, spool={self.spool.directory})>"

    # -- the boundary ------------------------------------------------------------------
    def emit(self, event: Event) -> Outcome:  # type: ignore[override]
        """Deliver or spool ``event``; never raises into the caller's task."""
        try:
            body = Serde.to_json(event)
        except Exception:  # the boundary: a bad event must not fail the task
            self.stats.errors += 1
            log.exception("crossline lineage: could not serialize an OpenLineage event; it is lost")
            return Outcome.FAILED
        try:
            self._after_fork()
            with self._lock:
                return self._emit(body)
        except Exception:  # the boundary
            self.stats.errors += 1
            log.exception("crossline lineage: unexpected error delivering an event to %s", self.url)
            return Outcome.FAILED

    def _after_fork(self) -> None:
        """In a forked child (Airflow's task runner), stop using the parent's lock and sockets.

        The child inherits the HTTP session's pooled connections; writing to them would
        interleave with the parent's requests, and closing them could end the parent's
        TLS session. So the child forgets the session (unclosed) and makes its own.
        """
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.http.session = None  # the property makes a fresh session on next use

    def close(self, timeout: float = -1) -> bool:
        """Try once more to empty the spool, then close the HTTP session."""
        try:
            if self.spool.has_pending():
                self._drain(wait=0.0)
            return not self.spool.has_pending()
        except Exception:  # the boundary
            self.stats.errors += 1
            log.exception("crossline lineage: error draining the spool on close")
            return False
        finally:
            self.http.close()

    # -- library (typed errors inside) -------------------------------------------------
    def replay(self, wait: float = 30.0) -> ReplayReport:
        """Send spooled events oldest first until none is left or the backend stops taking them.

        Waits up to ``wait`` seconds for another drainer; raises nothing for a backend
        that is down (the report says why it stopped), ``ConfigError`` for a spool it
        cannot use.
        """
        self._after_fork()
        with self._lock:
            self._down_until = 0.0
            return self._drain(wait=wait)

    def status(self) -> SpoolStatus:
        return self.spool.status()

    def _emit(self, body: str) -> Outcome:
        if self.spool.has_pending():
            report = self._drain(wait=0.0, count=False)
            if report.remaining or report.busy:
                # Older events wait on disk; the new one goes behind them.
                outcome = self._spool(body)
                if report.busy and outcome is Outcome.SPOOLED:
                    # The drainer may have looked for the last time before our file
                    # appeared; it rechecks after unlocking, and so do we.
                    self._drain(wait=0.0, count=False)
                return outcome
        if time.monotonic() < self._down_until:
            return self._spool(body)
        try:
            self._post(body)
        except BackendUnavailable as err:
            self._note_down(err)
            return self._spool(body)
        except EventRejected as err:
            self._note_up()
            self._reject(body, err, name=None)
            return Outcome.REJECTED
        self._note_up()
        self.stats.sent += 1
        return Outcome.SENT

    def _spool(self, body: str) -> Outcome:
        try:
            self.spool.put(body)
        except SpoolFull as err:
            self.stats.dropped += 1
            if not self._full:
                self._full = True
                log.warning(
                    "crossline lineage: %s. Dropping NEW events (keeping the older ones in order) "
                    "until the spool drains; dropped so far: %d. Raise max_bytes or bring the "
                    "backend at %s back.",
                    err, self.stats.dropped, self.url,
                )
            return Outcome.DROPPED
        if self._full:
            self._full = False
            log.warning("crossline lineage: spool %s is below its bound again; %d events were dropped",
                        self.spool.directory, self.stats.dropped)
        self.stats.spooled += 1
        return Outcome.SPOOLED

    def _reject(self, body: str, err: EventRejected, name: str | None) -> None:
        path = self.spool.reject(body, err.status, err.answer, name=name)
        self.stats.rejected += 1
        log.error("crossline lineage: %s; kept in %s and not retried", err, path)

    def _note_down(self, err: BackendUnavailable) -> None:
        if self.config.failure_backoff > 0:
            self._down_until = time.monotonic() + self.config.failure_backoff
        if self._down:
            log.debug("crossline lineage: still down: %s", err)
            return
        self._down = True
        log.warning("crossline lineage: %s; spooling events to %s until it answers", err, self.spool.directory)

    def _note_up(self) -> None:
        if self._down:
            self._down = False
            log.warning("crossline lineage: %s takes events again", self.url)

    def _drain(self, wait: float, count: bool = True) -> ReplayReport:
        """Replay under the spool lock; after unlocking, recheck so no event is stranded.

        A writer that found the lock taken spools its event and then tries the lock
        itself; the drainer unlocks and then looks again. Between the two, whoever comes
        last sees the file. ``count=False`` reports ``remaining`` as 0 or 1 (some left),
        which is all ``emit`` needs and saves a listing.
        """
        total = ReplayReport()
        while True:
            with self.spool.lock(wait) as held:
                if not held:
                    total.busy = True
                    break
                report = self._drain_locked()
            total.sent += report.sent
            total.rejected += report.rejected
            total.error = report.error
            if report.error is not None or not self.spool.has_pending():
                break
            wait = 0.0
        total.remaining = self.spool.count_pending() if count else int(self.spool.has_pending())
        return total

    def _drain_locked(self) -> ReplayReport:
        report = ReplayReport()
        if time.monotonic() < self._down_until:
            report.error = "backend marked down (failure_backoff)"
            return report
        while True:
            names = self.spool.pending_names()
            if not names:
                return report
            for name in names:
                path = self.spool.directory / name
                try:
                    body = path.read_text(encoding="utf-8")
                except FileNotFoundError:  # removed by hand meanwhile
                    continue
                try:
                    self._post(body)
                except BackendUnavailable as err:
                    self._note_down(err)
                    report.error = str(err)
                    return report
                except EventRejected as err:
                    self._note_up()
                    self._reject(body, err, name=name)
                    report.rejected += 1
                    continue
                self._note_up()
                self.spool.remove(path)
                self.stats.replayed += 1
                report.sent += 1

    def _post(self, body: str) -> None:
        """POST one serialized event as ``HttpTransport.emit`` does, and classify the answer."""
        data, headers = self.http._prepare_request(body)  # auth, custom headers, gzip
        kwargs: dict[str, Any] = {
            "url": self.url,
            "data": data,
            "headers": headers,
            "timeout": self.http.timeout,
            "verify": self.http.verify,
        }
        if self.http.cert is not None:
            kwargs["cert"] = self.http.cert
            kwargs["allow_redirects"] = False
        try:
            response = self.http.session.post(**kwargs)
            response.close()
        except requests.RequestException as err:
            raise BackendUnavailable(f"no answer from {self.url}: {type(err).__name__}: {err}") from err
        status = response.status_code
        if 200 <= status < 300:
            return
        if status >= 500 or status in self.config.retry_status or status < 400:
            raise BackendUnavailable(f"{self.url} answered HTTP {status}: {response.text[:200]}")
        raise EventRejected(status, response.text)


def _is_durable_type(kind: Any) -> bool:
    return kind in (DurableHttpTransport.kind, f"{DurableHttpTransport.__module__}.{DurableHttpTransport.__name__}",
                    "crossline.emitters.transport.DurableHttpTransport")


def configured_params(*, spool_dir: Path | None = None, url: str | None = None) -> dict[str, Any]:
    """The durable transport's config dict as the OpenLineage client would resolve it.

    Explicit arguments win. Otherwise the transport section of the OpenLineage config
    (``openlineage.yml`` or ``OPENLINEAGE__TRANSPORT__*``) is used when its type is this
    transport, and ``OPENLINEAGE_URL`` gives the URL when nothing else does.
    """
    from openlineage.client import OpenLineageClient

    try:
        section = dict(OpenLineageClient(transport=_NULL).config.transport or {})
    except ValueError as err:
        raise ConfigError(f"cannot read the OpenLineage config: {err}") from err
    params: dict[str, Any] = section if _is_durable_type(section.get("type")) else {}
    if url:
        params["url"] = url
    elif "url" not in params and os.environ.get("OPENLINEAGE_URL"):
        params["url"] = os.environ["OPENLINEAGE_URL"]
    if spool_dir is not None:
        for spelling in _KEYS["spool_dir"]:
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
