"""Start and stop the Marquez stand-in as a child process.

Contract: ``StandinServer(dsn, port, admin_port).start(timeout)`` checks both ports are
free, spawns ``python -m crossline_bed.marquez_standin`` in its own session with its
output in a log file and the DSN (which may carry a password) in its environment, never
on its command line, and returns once ``/healthcheck`` answers; a child that dies or
stays silent is a ``BedError`` carrying the log's tail. ``stop()`` ends the child's
process group. ``pid``, ``url`` (API base, without ``/api/v1``) and ``admin_url`` say
where it runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from crossline_bed.process import LOOPBACK, require_free_port, stop_process_group, wait_http

DSN_ENV = "CROSSLINE_MARQUEZ_STANDIN_DSN"


class StandinServer:
    """The crossline Marquez API stand-in, run as a child process on loopback."""

    def __init__(self, dsn: str, port: int, admin_port: int, host: str = LOOPBACK, log: Path | None = None) -> None:
        self.dsn = dsn
        self.port = port
        self.admin_port = admin_port
        self.host = host
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.admin_port}"

    def start(self, timeout: float = 60.0) -> "StandinServer":
        require_free_port(self.port, "the Marquez stand-in", "CROSSLINE_MARQUEZ_PORT", self.host)
        require_free_port(self.admin_port, "the Marquez stand-in admin", "CROSSLINE_MARQUEZ_ADMIN_PORT", self.host)
        if self.log is None:
            fd, name = tempfile.mkstemp(prefix="crossline-marquez-standin-", suffix=".log")
            os.close(fd)
            self.log = Path(name)
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "crossline_bed.marquez_standin", "--host", self.host,
                 "--port", str(self.port), "--admin-port", str(self.admin_port)],
                env={**os.environ, DSN_ENV: self.dsn},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            wait_http(f"{self.admin_url}/healthcheck", what="the Marquez stand-in", timeout=timeout,
                      pid=self._proc.pid, log=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None:
            stop_process_group(self._proc.pid)
            self._proc = None

    def __enter__(self) -> "StandinServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
