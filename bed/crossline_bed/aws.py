"""AWS on loopback: a moto server with crossline's extensions installed.

Contract: ``MotoServer`` starts moto in server mode in a child process bound to
127.0.0.1 and gives its ``endpoint_url``; boto3 clients pointed there are exercised
unchanged, exactly as against AWS. ``reset()`` clears every backend between tests.
``serve()`` is what the child runs (and what ``crossline-bed aws`` runs standalone): it
installs crossline's extensions to moto before serving: the SageMaker lineage emulator
(moto 5.2 answers every lineage action with a 500), UpdateEndpoint (moto has none),
Model Registry fixes (the caller as approver), the job runner (moto runs no job,
so the runner writes the outputs a job would have written), SageMaker Pipelines
executions that run their steps (``sagemaker_pipelines``), Experiments trial components
as AWS fills them (``sagemaker_experiments``), and Feature Store groups with their
offline store and Glue table (``feature_store``).

The server process also answers the bed's admin routes beside moto's app
(``crossline_bed.bed_admin``): a bed clock (``set_clock``/``now``), so that what moto
stamps happens in the scenario's March 2027, and injected faults
(``inject_glue_failure``/``clear_faults``; ``throttle`` makes a share of any AWS API's
calls answer as AWS throttles them, ``throttle_counts`` says how many were,
``clear_throttle`` stops it). ``reset()`` also returns the clock to real time and
clears the faults.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import requests

from crossline_bed.process import (
    LOOPBACK,
    free_port,
    require_free_port,
    stop_process_group,
    wait_http,
)
from crossline_bed.errors import BedError

# Credentials moto accepts; they are not secrets and reach no real account.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def install_extensions() -> None:
    """Install crossline's moto extensions into this process's moto backends."""
    from crossline_bed import (
        bed_admin,
        feature_store,
        job_runner,
        sagemaker_endpoints,
        sagemaker_experiments,
        sagemaker_lineage,
        sagemaker_pipelines,
        sagemaker_registry,
    )

    sagemaker_endpoints.install()  # before the lineage emulator, which hooks UpdateEndpoint
    sagemaker_lineage.install()
    sagemaker_registry.install()
    sagemaker_experiments.install()  # after the lineage emulator, which makes the job trial components
    job_runner.install()
    sagemaker_pipelines.install()
    feature_store.install()
    bed_admin.install()


def _exit(signum: int, frame: Any) -> NoReturn:
    sys.exit(0)


def serve(host: str = LOOPBACK, port: int = 5000) -> None:
    """Run moto's server with the extensions and the bed's admin routes, in the foreground.

    Built as ``moto.server.main`` builds it (moto's domain dispatcher, werkzeug's threaded
    server with moto's request handler), with ``BedApplication`` in front to serve
    ``/crossline-bed/``.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    from crossline_bed.bed_admin import BedApplication

    install_extensions()
    # moto reads its own port from here (e.g. for URLs it hands out), as moto.server.main sets it.
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGINT, _exit)
    signal.signal(signal.SIGTERM, _exit)
    app = BedApplication(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, request_handler=MotoRequestHandler)


class MotoServer:
    """A moto server child process on loopback."""

    def __init__(self, port: int | None = None, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise BedError("moto server is not started")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> "MotoServer":
        if self.port is None:
            self.port = free_port(self.host)
        else:
            require_free_port(self.port, "the moto server", "CROSSLINE_MOTO_PORT", self.host)
        fd, log = tempfile.mkstemp(prefix="crossline-moto-", suffix=".log")
        self._log = Path(log)
        env = {**os.environ, **TEST_ENV}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "crossline_bed.aws", self.host, str(self.port)],
            stdout=fd,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        os.close(fd)
        wait_http(
            f"{self.endpoint_url}/moto-api/",
            what="moto server",
            timeout=timeout,
            pid=self._proc.pid,
            log=self._log,
        )
        return self

    def reset(self) -> None:
        response = requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30)
        if response.status_code != 200:
            raise BedError(f"moto reset failed: HTTP {response.status_code} {response.text[:200]}")

    # ---- the bed's admin routes (crossline_bed.bed_admin) ----
    def set_clock(self, at: datetime | None) -> datetime:
        """Move the server's clock to ``at`` (ticking on from there), or back to real time with None."""
        body = {"at": at.isoformat() if at is not None else None}
        return self._parse_now(self._admin("POST", "clock", body))

    def now(self) -> datetime:
        """The time the server's clock shows."""
        return self._parse_now(self._admin("GET", "clock"))

    def inject_glue_failure(self, job_name: str, error: str) -> None:
        """Make the next run of Glue job ``job_name`` fail with ErrorMessage ``error``."""
        self._admin("POST", "faults", {"glue_job": job_name, "error": error})

    def clear_faults(self) -> None:
        self._admin("DELETE", "faults")

    def throttle(self, service: str, rate: float, operations: list[str] | tuple[str, ...] = ("*",),
                 seed: int = 0) -> None:
        """Throttle ``rate`` (0..1) of the calls to ``service``'s ``operations`` (``"*"``: all)."""
        spec = {"service": service, "operations": list(operations), "rate": rate, "seed": seed}
        self._admin("POST", "faults", {"throttle": spec})

    def throttle_counts(self) -> dict[str, dict[str, Any]]:
        """Per throttled service: its throttle and the ``calls`` it saw and ``throttled`` it answered."""
        return {t["service"]: t for t in self._admin("GET", "faults/throttle")["throttle"]}

    def clear_throttle(self) -> None:
        self._admin("DELETE", "faults/throttle")

    def _admin(self, method: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.endpoint_url}/crossline-bed/{route}"
        try:
            response = requests.request(method, url, json=body, timeout=30)
        except requests.RequestException as err:
            raise BedError(f"moto server admin {method} {route} failed: {err}") from err
        if response.status_code != 200:
            raise BedError(f"moto server admin {method} {route}: HTTP {response.status_code} {response.text[:200]}")
        answer: dict[str, Any] = response.json()
        return answer

    @staticmethod
    def _parse_now(answer: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(answer["now"])

    def stop(self) -> None:
        if self._proc is not None:
            stop_process_group(self._proc.pid)
            self._proc = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
