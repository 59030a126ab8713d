"""Process and port helpers shared by the bed's launchers.

Contract: ``port_is_free`` and ``require_free_port`` check loopback ports before a
service is started, so a taken port is a clear ``BedConfigError`` naming the port and the
setting that moves it, not a Java or werkzeug stack trace. ``wait_http`` polls a URL
until it answers or the deadline passes, and then raises ``BedError`` with the tail of
the service's log. ``stop_process_group`` ends a service we started, by its pid, and
its children with it.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import requests

from crossline_bed.errors import BedConfigError, BedError

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, what: str, setting: str, host: str = LOOPBACK) -> None:
    if not port_is_free(port, host):
        raise BedConfigError(
            f"cannot start {what}: port {host}:{port} is already in use by another "
            f"process; stop that process or choose another port with {setting}"
        )


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def wait_http(
    url: str,
    *,
    what: str,
    timeout: float,
    pid: int | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``url`` until it answers with a status below 500."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            raise BedError(f"{what} exited during start-up; last log lines:\n{log_tail(log)}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code < 500:
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as err:
            last_error = str(err)
        time.sleep(0.25)
    raise BedError(
        f"{what} did not answer at {url} within {timeout:.0f}s ({last_error}); "
        f"last log lines:\n{log_tail(log)}"
    )


def stop_process_group(pid: int, *, timeout: float = 30.0) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if it lingers."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not pid_alive(pid):
                return
            time.sleep(0.1)
    raise BedError(f"process {pid} did not stop after SIGKILL")
