"""Where crossline keeps its state, and which ports the local bed uses.

Contract: every path and port of the bed comes from here, so the launcher, the
docker-compose file and the tests agree. Precedence, highest first:

1. an environment variable (``CROSSLINE_HOME``, ``CROSSLINE_PG_PORT``,
   ``CROSSLINE_MARQUEZ_PORT``, ``CROSSLINE_MARQUEZ_ADMIN_PORT``);
2. the defaults below.

A value that is not a valid port is a ``ConfigError`` naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from crossline.errors import ConfigError

MARQUEZ_VERSION = "0.50.0"

DEFAULT_PORTS = {
    "CROSSLINE_PG_PORT": 15432,
    "CROSSLINE_MARQUEZ_PORT": 15000,
    "CROSSLINE_MARQUEZ_ADMIN_PORT": 15001,
    "CROSSLINE_MARQUEZ_WEB_PORT": 13000,
    "CROSSLINE_MOTO_PORT": 15050,
}


def port(name: str) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return DEFAULT_PORTS[name]
    try:
        value = int(raw)
    except ValueError as err:
        raise ConfigError(f"{name}={raw!r} is not a port number") from err
    if not 0 < value < 65536:
        raise ConfigError(f"{name}={value} is outside 1..65535")
    return value


def home() -> Path:
    """Cache and state outside the repository (jars, clusters, spools)."""
    raw = os.environ.get("CROSSLINE_HOME")
    base = Path(raw) if raw else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crossline"
    base.mkdir(parents=True, exist_ok=True)
    return base
