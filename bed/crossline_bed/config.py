"""Which ports the local bed uses, and where it keeps its state.

Contract: every port and state path of the bed comes from here, so the launchers, the
docker-compose file and the tests agree. Precedence, highest first:

1. an environment variable (``CROSSLINE_PG_PORT``, ``CROSSLINE_MARQUEZ_PORT``,
   ``CROSSLINE_MARQUEZ_ADMIN_PORT``, ``CROSSLINE_MARQUEZ_WEB_PORT``,
   ``CROSSLINE_MOTO_PORT``; ``CROSSLINE_HOME`` for state, ``CROSSLINE_CACHE`` for
   downloads such as Marquez's jars);
2. the defaults below.

A value that is not a valid port is a ``BedConfigError`` naming the variable. A test
session sets every one of them to values of its own (``tests/conftest.py``), so two
sessions on one machine never share a port, a cluster or a state file.
"""

from __future__ import annotations

import os
from pathlib import Path

from crossline_bed.errors import BedConfigError

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
        raise BedConfigError(f"{name}={raw!r} is not a port number") from err
    if not 0 < value < 65536:
        raise BedConfigError(f"{name}={value} is outside 1..65535")
    return value


def home() -> Path:
    """The bed's state (clusters, pid and state files): ``$CROSSLINE_HOME``, else ~/.cache/crossline."""
    raw = os.environ.get("CROSSLINE_HOME")
    base = Path(raw) if raw else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crossline"
    base.mkdir(parents=True, exist_ok=True)
    return base


def cache() -> Path:
    """Downloads worth keeping between sessions (Maven's jars): ``$CROSSLINE_CACHE``, else home()."""
    raw = os.environ.get("CROSSLINE_CACHE")
    base = Path(raw) if raw else home()
    base.mkdir(parents=True, exist_ok=True)
    return base
