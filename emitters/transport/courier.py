"""The sender as a process of its own, for emitters that live too briefly for a thread.

Why: emitters are often brief. Airflow's OpenLineage listener emits each task event from
a forked child that ends with ``os._exit``, which skips the bounded wait at exit; a
sender *thread* dies with the child mid-delivery, and its events would wait in the spool
until some later process of that machine sends them. A courier outlives the child, and
one courier serves every process writing to the spool while it runs.

Contract:
- ``ensure(transport)`` (called by ``DurableHttpTransport`` after it spooled an event, in
  ``process`` mode, which ``auto`` is) makes sure one courier runs
  for the spool: if the spool's courier lock is free it starts ``python -m
  crossline.emitters.transport.courier`` in a new session and returns at once; the
  transport's configuration goes to it over a pipe (it may hold credentials, which a
  command line or environment would show to every local user). If the lock is held, a
  courier is already delivering and picks the event up within ``COURIER_POLL`` seconds.
  It never raises; it returns whether it started one.
- The courier holds the courier lock for its life, runs the same sender as the thread
  (``sender.Sender``: the drain under the spool's lock, classification, budgets,
  quarantine), and leaves when the spool is empty and stays so for ``COURIER_LINGER``
  seconds, or after ``courier_lifetime`` seconds (default 300); what is left stays spooled
  for the next sender or ``crossline lineage replay``. It logs to ``.courier.log`` in the
  spool (rotated at 1 MiB, 0600, redacted).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crossline.emitters.transport.durable import DurableHttpTransport

log = logging.getLogger(__name__)
LOCK_NAME = ".courier.lock"
LOG_NAME = ".courier.log"
LOG_BYTES = 1 << 20
COURIER_POLL = 0.5  # seconds between the courier's looks at the spool
COURIER_LINGER = 10.0  # seconds an empty spool must stay empty before the courier leaves


def _try_lock(path: os.PathLike[str] | str) -> int | None:
    """An fd holding the exclusive lock on ``path``, or None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def running(spool_dir: os.PathLike[str] | str) -> bool:
    """Whether a courier holds the spool's lock now (for status and tests); never raises."""
    try:
        fd = _try_lock(os.path.join(spool_dir, LOCK_NAME))
    except OSError:
        return False
    if fd is None:
        return True
    os.close(fd)
    return False


def ensure(transport: DurableHttpTransport) -> bool:
    """Start a courier for the transport's spool unless one runs; never raises."""
    try:
        lock = transport.spool.directory / LOCK_NAME
        fd = _try_lock(lock)
        if fd is None:
            return False
        os.close(fd)  # free again for the courier; two racing starters leave one courier
        proc = subprocess.Popen(
            [sys.executable, "-m", "crossline.emitters.transport.courier"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(transport.config.params, default=str).encode())
        proc.stdin.close()
        return True
    except Exception:  # the boundary: the event is spooled; a later sender or replay delivers it  # noqa: BLE001
        log.exception("crossline lineage: could not start a sender process for %s", transport.spool.directory)
        return False


def run(params: dict[str, object]) -> int:
    """The courier's life: hold the courier lock, deliver until empty (and lingering) or out of time."""
    from crossline.emitters.transport.config import DurableHttpConfig
    from crossline.emitters.transport.durable import DurableHttpTransport

    config = DurableHttpConfig.from_dict({**params, "sender": "thread", "poll_interval": COURIER_POLL})
    transport = DurableHttpTransport(config)
    fd = _try_lock(transport.spool.directory / LOCK_NAME)
    if fd is None:
        return 0  # another courier delivers
    _log_to(transport.spool.directory / LOG_NAME)
    try:
        deadline = time.monotonic() + config.courier_lifetime
        empty_since: float | None = None
        transport._kick()
        while time.monotonic() < deadline:
            if transport.wait_for_completion(min(30.0, deadline - time.monotonic())):
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since >= COURIER_LINGER:
                    break
                time.sleep(COURIER_POLL)
                transport._kick()
            else:
                empty_since = None
                # The sender holds the queue (backend down, backoff) and wakes itself when a
                # try is due; asking again at once would spin on the spool. Look again later.
                time.sleep(max(0.0, min(COURIER_POLL, deadline - time.monotonic())))
        transport.close(2.0)
        return 0
    finally:
        os.close(fd)


def _log_to(path: os.PathLike[str]) -> None:
    """The courier has no terminal: its warnings go to a small rotating file in the spool (0600)."""
    from logging.handlers import RotatingFileHandler

    from crossline.redact import RedactingFilter

    handler = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=1)
    os.chmod(path, 0o600)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def main() -> int:
    try:
        params = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        return 2
    if not isinstance(params, dict) or not params.get("url"):
        return 2
    return run(params)


if __name__ == "__main__":
    sys.exit(main())
