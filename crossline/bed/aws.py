"""AWS on loopback: a moto server with crossline's extensions installed.

Contract: ``MotoServer`` starts moto in server mode in a child process bound to
127.0.0.1 and gives its ``endpoint_url``; boto3 clients pointed there are exercised
unchanged, exactly as against AWS. ``reset()`` clears every backend between tests.
``serve()`` is what the child runs (and what ``crossline bed aws`` runs standalone): it
installs crossline's extensions to moto before serving: the SageMaker lineage emulator
(moto 5.2 answers every lineage action with a 500), UpdateEndpoint (moto has none),
Model Registry fixes (the caller as approver), and the job runner (moto runs no job, so the runner writes the outputs a
job would have written).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from crossline.bed.process import (
    LOOPBACK,
    free_port,
    require_free_port,
    stop_process_group,
    wait_http,
)
from crossline.errors import BedError

# Credentials moto accepts; they are not secrets and reach no real account.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def install_extensions() -> None:
    """Install crossline's moto extensions into this process's moto backends."""
    from crossline.bed import job_runner, sagemaker_endpoints, sagemaker_lineage, sagemaker_registry

    sagemaker_endpoints.install()  # before the lineage emulator, which hooks UpdateEndpoint
    sagemaker_lineage.install()
    sagemaker_registry.install()
    job_runner.install()


def serve(host: str = LOOPBACK, port: int = 5000) -> None:
    """Run moto's server with the extensions, in the foreground."""
    from moto import server

    install_extensions()
    server.main(["-H", host, "-p", str(port)])


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
            [sys.executable, "-m", "crossline.bed.aws", self.host, str(self.port)],
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
