"""Configuration of the durable transport: ``DurableHttpConfig.from_dict`` and its precedence.

Contract: ``DurableHttpConfig.from_dict(params)`` takes the transport's section of the
OpenLineage configuration and returns a complete config or raises ``ConfigError`` naming
the key. Each setting is taken from the first of these that gives it:

1. the transport's own config dict, i.e. what the OpenLineage client resolved from (in
   its order) the config passed to ``OpenLineageClient(config=...)``, the
   ``openlineage.yml`` file (``$OPENLINEAGE_CONFIG``, the working directory,
   ``~/.openlineage``) and ``OPENLINEAGE__TRANSPORT__*`` variables. Our keys may be
   snake_case, camelCase or lower-cased (as the variables give them); every other key
   (``url``, ``endpoint``, ``timeout``, ``auth``, ``compression``, ``custom_headers``,
   ``retry``, ``ssl_context``...) goes to the OpenLineage ``HttpConfig`` unchanged;
2. crossline's variables ``CROSSLINE_SPOOL_DIR``, ``CROSSLINE_SPOOL_MAX_BYTES`` (and
   ``CROSSLINE_REDACT_KEYS``, read by ``crossline.redact``);
3. ``$CROSSLINE_HOME/spool`` (``crossline.config.home()``) for the folder;
4. the defaults in ``DEFAULTS``, and urllib3 retry of one quick reconnect
   (``DEFAULT_HTTP_RETRY``) instead of the plain transport's five with backoff, because
   the spool and its sender are the retry.

Credentials in the URL (``https://user:pass@host``) are taken out of it: the URL the
transport shows and logs, and the one ``HttpConfig`` holds, has none; they are sent as
HTTP basic auth, as ``requests`` would have done with them in the URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attr
from openlineage.client.transport.http import HttpConfig
from openlineage.client.transport.transport import Config
from requests.utils import get_auth_from_url

from crossline import config as crossline_config
from crossline.errors import ConfigError
from crossline.redact import redact_text, strip_userinfo

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
SPOOL_DIR_ENV = "CROSSLINE_SPOOL_DIR"
MAX_BYTES_ENV = "CROSSLINE_SPOOL_MAX_BYTES"
DEFAULT_HTTP_RETRY: dict[str, Any] = {
    "total": 1,
    "connect": 1,
    "read": 0,
    "status": 0,
    "backoff_factor": 0.0,
    "status_forcelist": [],
    "allowed_methods": ["POST"],
    # The sender reads Retry-After itself; urllib3 would otherwise retry 429/503 in place.
    "respect_retry_after_header": False,
}
DEFAULTS: dict[str, Any] = {
    "max_bytes": DEFAULT_MAX_BYTES,
    "fsync": True,
    "max_attempts": 6,  # failures the backend saw, per event, before quarantine (with proof)
    "backoff_base": 1.0,  # seconds after the first failure; doubles, with jitter
    "backoff_max": 60.0,  # cap of every backoff
    "retry_after_max": 300.0,  # the most of a Retry-After we honour
    "setup_attempts": 10,  # consecutive 401/403/404/TLS failures before a process stops trying
    "shutdown_timeout": 2.0,  # seconds close() and exit wait for the sender
    "poll_interval": 5.0,  # seconds between looks at the spool when nothing wakes the sender
    "sender": "auto",  # auto | process: a sender process per spool (see courier); thread: one per transport
    "courier_lifetime": 300.0,  # seconds a sender process keeps trying before it leaves the rest spooled
}
SENDERS = ("auto", "thread", "process")

# Our keys, each with the spellings OpenLineage config sources produce.
_KEYS: dict[str, tuple[str, ...]] = {
    key: tuple(dict.fromkeys((key, "".join(w if i == 0 else w.title() for i, w in enumerate(key.split("_"))),
                              key.replace("_", ""))))
    for key in ("spool_dir", *DEFAULTS, "redact_keys")
}


def _pick(params: dict[str, Any], key: str) -> Any:
    for spelling in _KEYS[key]:
        if spelling in params:
            return params[spelling]
    return None


@attr.define
class DurableHttpConfig(Config):
    """Configuration of ``DurableHttpTransport``; see the module docstring for precedence."""

    http: HttpConfig
    spool_dir: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    fsync: bool = True
    max_attempts: int = DEFAULTS["max_attempts"]
    backoff_base: float = DEFAULTS["backoff_base"]
    backoff_max: float = DEFAULTS["backoff_max"]
    retry_after_max: float = DEFAULTS["retry_after_max"]
    setup_attempts: int = DEFAULTS["setup_attempts"]
    shutdown_timeout: float = DEFAULTS["shutdown_timeout"]
    poll_interval: float = DEFAULTS["poll_interval"]
    redact_keys: tuple[str, ...] = ()
    basic_auth: tuple[str, str] | None = attr.field(default=None, repr=False)
    sender: str = DEFAULTS["sender"]
    courier_lifetime: float = DEFAULTS["courier_lifetime"]
    # What from_dict was given: a sender process is configured from it (over a pipe: it may
    # hold credentials). Never shown.
    params: dict[str, Any] = attr.field(factory=dict, repr=False, eq=False)

    @property
    def display_url(self) -> str:
        """The backend URL as crossline shows it: no credentials."""
        return redact_text(self.http.url)

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> DurableHttpConfig:
        given = dict(params)
        params = dict(params)
        ours = {key: _pick(params, key) for key in _KEYS}
        for spellings in _KEYS.values():
            for spelling in spellings:
                params.pop(spelling, None)
        params.pop("type", None)
        if "retry" not in params:
            params["retry"] = dict(DEFAULT_HTTP_RETRY)
        basic_auth = None
        if isinstance(params.get("url"), str) and "@" in params["url"]:
            user, password = get_auth_from_url(params["url"])
            basic_auth = (user, password) if user or password else None
            params["url"] = strip_userinfo(params["url"])
        try:
            http = HttpConfig.from_dict(params)
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"durable lineage transport: {redact_text(str(err))}") from err

        spool_dir = ours["spool_dir"] or os.environ.get(SPOOL_DIR_ENV) or None
        max_bytes = ours["max_bytes"] if ours["max_bytes"] is not None else os.environ.get(MAX_BYTES_ENV) or None
        values: dict[str, Any] = {
            "max_bytes": _as_int("max_bytes", max_bytes, DEFAULT_MAX_BYTES, minimum=1),
            "fsync": _as_bool("fsync", ours["fsync"], True),
        }
        for key in ("max_attempts", "setup_attempts"):
            values[key] = _as_int(key, ours[key], DEFAULTS[key], minimum=1)
        for key in ("backoff_base", "backoff_max", "retry_after_max", "shutdown_timeout", "poll_interval",
                    "courier_lifetime"):
            values[key] = _as_float(key, ours[key], DEFAULTS[key])
        sender = str(ours["sender"] or DEFAULTS["sender"]).strip().lower()
        if sender not in SENDERS:
            raise ConfigError(f"durable lineage transport: sender={ours['sender']!r}; choose one of {', '.join(SENDERS)}")
        values["sender"] = sender
        redact_keys = ours["redact_keys"]
        if isinstance(redact_keys, str):
            redact_keys = redact_keys.split(",")
        return cls(
            http=http,
            spool_dir=Path(spool_dir).expanduser() if spool_dir else crossline_config.home() / "spool",
            redact_keys=tuple(str(k).strip() for k in redact_keys or () if str(k).strip()),
            basic_auth=basic_auth,
            params=given,
            **values,
        )


def _as_int(key: str, raw: Any, default: int, *, minimum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"durable lineage transport: {key}={raw!r} is not an integer") from err
    if value < minimum:
        raise ConfigError(f"durable lineage transport: {key}={value} must be positive")
    return value


def _as_float(key: str, raw: Any, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"durable lineage transport: {key}={raw!r} is not a number") from err
    if not value >= 0:  # also refuses NaN
        raise ConfigError(f"durable lineage transport: {key}={raw!r} must be a number of seconds >= 0")
    return value


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
