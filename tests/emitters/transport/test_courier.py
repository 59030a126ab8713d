"""A forked child that ends with ``os._exit`` (as Airflow's listener children do) still gets its events delivered.

The transport is made in the parent; the child emits and leaves with ``os._exit(0)``,
skipping every exit hook. A sender thread would die with it; the courier process it
starts delivers the event on its own, keeps no credential where other users can read
it, and leaves when the spool stays empty.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from crossline.emitters.transport.courier import LOCK_NAME, running


def _child_emits_and_vanishes(transport: Any, event: Any) -> float:
    """Fork; the child emits once and ``os._exit``s; returns the child's emit time in seconds."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exit hooks, like Airflow's listener child
        os.close(read)
        started = time.monotonic()
        transport.emit(event)
        os.write(write, f"{time.monotonic() - started:.6f}".encode())
        os._exit(0)
    os.close(write)
    took = float(os.read(read, 64).decode() or "nan")
    os.close(read)
    os.waitpid(pid, 0)
    return took


def _courier_running(spool: Path) -> bool:
    return running(spool)


def _holds(proc: Path, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in (proc / "fd").iterdir())
    except OSError:
        return False


def test_an_event_from_a_child_that_exits_abruptly_is_delivered(scripted, make_transport, events, until,
                                                                tmp_path: Path) -> None:
    backend = scripted([])
    transport = make_transport(backend.url, spool_dir=tmp_path / "spool", sender="auto")
    took = _child_emits_and_vanishes(transport, events.event("from-child"))
    assert took < 1.0, "the child only spools and starts the courier"
    until(lambda: backend.delivered() == ["from-child"], timeout=30, what="the courier's delivery")
    until(lambda: not _courier_running(tmp_path / "spool"), timeout=30, what="the courier to leave")
    assert not list((tmp_path / "spool").glob("*.json"))


def test_a_long_lived_process_may_choose_a_thread(scripted, make_transport, events, until, tmp_path: Path) -> None:
    backend = scripted([])
    transport = make_transport(backend.url, spool_dir=tmp_path / "spool", sender="thread")
    transport.emit(events.event("from-parent"))
    until(lambda: backend.delivered() == ["from-parent"], what="the thread's delivery")
    assert transport.stats.couriers == 0
    assert not _courier_running(tmp_path / "spool")


def test_the_courier_keeps_credentials_off_its_command_line_and_environment(
    make_transport, events, until, dead_url: str, tmp_path: Path
) -> None:
    secret = "c0urier-s3cret"
    url = dead_url.replace("http://", f"http://lineage:{secret}@")
    transport = make_transport(url, spool_dir=tmp_path / "spool", courier_lifetime=20, sender="auto")
    _child_emits_and_vanishes(transport, events.event("waits"))
    until(lambda: _courier_running(tmp_path / "spool"), timeout=30, what="a courier")
    couriers = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"crossline.emitters.transport.courier" in cmdline and _holds(proc, tmp_path / "spool" / LOCK_NAME):
            couriers.append(proc.name)  # this test's courier (others may run for other sessions)
            assert secret.encode() not in cmdline and secret.encode() not in environ
    assert couriers
    log = tmp_path / "spool" / ".courier.log"
    until(lambda: log.exists() and log.stat().st_size > 0, timeout=30, what="the courier's warning")
    assert secret not in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    for pid in couriers:  # end what this test started, by its id
        try:
            os.kill(int(pid), 15)
        except ProcessLookupError:
            pass


def _couriers_of(spool: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"crossline.emitters.transport.courier" in cmdline and _holds(proc, spool / LOCK_NAME):
            found.append(int(proc.name))
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_a_courier_waiting_out_an_outage_sleeps(make_transport, events, until, dead_url: str, tmp_path: Path) -> None:
    """With the backend down the courier waits for the sender's next try; it found a spin
    once (hundreds of spool scans a second, most of a CPU) on a user's worker."""
    spool = tmp_path / "spool"
    # The defaults that matter: backoff past the 2 s a flush may wait (the tests' FAST ones hid it).
    transport = make_transport(dead_url, spool_dir=spool, courier_lifetime=30, sender="auto",
                               backoff_base=1.0, backoff_max=60.0, shutdown_timeout=2.0)
    _child_emits_and_vanishes(transport, events.event("waits"))
    until(lambda: _couriers_of(spool), timeout=30, what="a courier")
    (pid,) = _couriers_of(spool)
    try:
        time.sleep(4.0)  # past its first tries, into backoffs longer than a flush waits
        before = _cpu_seconds(pid)
        time.sleep(4.0)
        used = _cpu_seconds(pid) - before
        assert used < 0.4, f"the courier used {used:.2f} s of CPU in 4 s while the backend was down"
    finally:
        os.kill(pid, 15)  # end what this test started, by its id
