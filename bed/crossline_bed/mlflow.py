"""A real MLflow tracking server on loopback, started and stopped like the bed's other parts.

Contract: ``MlflowServer(root).start(timeout)`` runs ``mlflow server`` (the ``mlflow``
package's own server, not a stand-in) in its own process group on a free loopback port,
with its backend store in SQLite under ``root`` (``sqlite:///{root}/mlflow.db``) or in
the PostgreSQL database named by ``backend_store_uri``, and its artifacts proxied by the
server into ``root/artifacts`` (``--artifacts-destination``; clients log artifacts over
HTTP, as with a team's shared server). It returns once ``/health`` answers ``OK``; a
server that exits or stays silent is a ``BedError`` carrying its log's tail. ``url`` is
the tracking URI to give ``mlflow.set_tracking_uri`` or ``MLFLOW_TRACKING_URI``.
``stop()`` ends the whole process group (the server runs uvicorn or gunicorn workers
under it) and leaves no process behind; calling it twice is harmless.

One uvicorn worker and no job runner (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``):
the bed is one user on two cores. The
server's clock is the machine's: MLflow stamps runs with the client's timestamps
(``start_time``, metric ``timestamp``), so a story sets those explicitly when it needs
March 2027.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from crossline_bed.errors import BedError
from crossline_bed.process import LOOPBACK, free_port, require_free_port, stop_process_group, wait_http


class MlflowServer:
    """``mlflow server`` as a child process of the bed."""

    def __init__(
        self,
        root: Path,
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        backend_store_uri: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.port = port
        self.host = host
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.root / 'mlflow.db'}"
        self.log: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise BedError("the MLflow server is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "server",
            "--host", self.host, "--port", str(self.port),
            "--backend-store-uri", self.backend_store_uri,
            "--artifacts-destination", str(self.root / "artifacts"),
            "--workers", "1",
        ]

    def start(self, timeout: float = 120.0) -> "MlflowServer":
        if self.port is None:
            self.port = free_port(self.host)
        else:
            require_free_port(self.port, "the MLflow server", "CROSSLINE_MLFLOW_PORT", self.host)
        (self.root / "artifacts").mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="crossline-mlflow-", suffix=".log")
        os.close(fd)
        self.log = Path(name)
        # The server must not inherit a client's tracking settings, nor Airflow's.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AIRFLOW"))}
        # MLflow 3 also starts a job runner with some 45 huey workers (GenAI jobs the bed
        # never submits); on two cores that would slow everything beside it.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=self.root, start_new_session=True,
            )
        try:
            wait_http(f"{self.url}/health", what="the MLflow server", timeout=timeout, pid=self._proc.pid, log=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None:
            stop_process_group(self._proc.pid)
            self._proc = None

    def __enter__(self) -> "MlflowServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """``python -m crossline_bed.mlflow ROOT``: serve until interrupted (for trying it by hand)."""
    server = MlflowServer(Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="crossline-mlflow-")))
    server.start()
    print(f"MLflow tracking server at {server.url} (log {server.log}); Ctrl-C stops it", flush=True)
    try:
        assert server._proc is not None
        server._proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
