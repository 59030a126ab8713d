"""``crossline-bed marquez up|down|status``: idempotent, cached, leaves nothing behind.

Each test runs the launcher on ports of its own with a throwaway cluster, so it never
touches the session's Marquez.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from crossline_bed.marquez import MarquezBed
from crossline_bed.process import LOOPBACK, free_port, pid_alive, port_is_free
from crossline_bed.errors import BedConfigError, BedError


@pytest.fixture
def own_ports(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    for name in ("CROSSLINE_PG_PORT", "CROSSLINE_MARQUEZ_PORT", "CROSSLINE_MARQUEZ_ADMIN_PORT"):
        monkeypatch.setenv(name, str(free_port()))
    monkeypatch.setenv("CROSSLINE_HOME", str(tmp_path))
    yield
    bed = MarquezBed()
    bed.down()
    bed.postgres.destroy()


def test_second_start_reuses_the_cache_and_down_leaves_no_process(own_ports: None) -> None:
    bed = MarquezBed()
    t0 = time.monotonic()
    first = bed.up()
    first_start = time.monotonic() - t0
    cluster_stamp = (bed.postgres.datadir / "PG_VERSION").stat().st_mtime_ns

    # Idempotent: up while running returns the running instance.
    assert bed.up().pid == first.pid
    assert bed.status()["marquez"]["pid"] == first.pid

    bed.down()
    t0 = time.monotonic()
    second = bed.up()
    second_start = time.monotonic() - t0
    assert second.pid != first.pid
    # The cluster (and, for real Marquez, the jars) came from the cache, not a new init.
    assert (bed.postgres.datadir / "PG_VERSION").stat().st_mtime_ns == cluster_stamp
    if second.impl == "real":
        assert (bed.lib_dir / ".complete").exists()
    print(f"first start {first_start:.1f}s, cached start {second_start:.1f}s ({second.impl})")

    postmaster = bed.postgres.postmaster_pid()
    assert postmaster is not None and pid_alive(postmaster)
    bed.down()
    assert not pid_alive(second.pid)
    assert not pid_alive(postmaster)
    assert port_is_free(bed.port) and port_is_free(bed.admin_port) and port_is_free(bed.postgres.port)
    assert bed.status() == {"marquez": None, "postgres": {"running": False, "port": bed.postgres.port}}


def test_a_taken_port_is_a_clear_error(own_ports: None) -> None:
    bed = MarquezBed()
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, bed.port))
        squatter.listen()
        with pytest.raises(BedConfigError, match=rf"port {LOOPBACK}:{bed.port} is already in use.*CROSSLINE_MARQUEZ_PORT"):
            bed.up()


def test_an_unresolvable_marquez_is_a_clear_error(own_ports: None) -> None:
    bed = MarquezBed("real", version="0.0.0-crossline-missing")
    with pytest.raises(BedError, match=r"Maven could not resolve io\.github\.marquezproject:marquez-api:0\.0\.0-crossline-missing"):
        bed.up()
    assert bed.read_state() is None


def test_unknown_implementation_is_refused() -> None:
    with pytest.raises(BedConfigError, match="unknown Marquez implementation 'docker'"):
        MarquezBed("docker")
