"""What durable delivery costs a task per event: ``.venv/bin/python benchmarks/emit_overhead.py``.

Starts the bed's Marquez (``MarquezBed().up()``; the crossline stand-in where real
Marquez cannot be had, which the output says), then times ``transport.emit(event)`` for
N events, each with a new run:

  (a) the OpenLineage client's plain ``HttpTransport``, backend up;
  (b) crossline's ``DurableHttpTransport``, backend up (empty spool: a folder scan, then
      the same POST);
  (c) ``DurableHttpTransport`` with the backend down (a loopback port where nothing
      listens: connection refused, then an fsynced write to the spool).

Cases run in interleaved rounds after a short warm-up. (c) is not compared with a plain transport that is down, because that one raises after
urllib3's five retries with backoff (about 9 s an event), which a task would not survive
N times. Prints mean, p50 and p99 in milliseconds and the durable/plain ratios. Not a
timed test: numbers depend on the machine; run it to compare changes on one machine.
Stops the bed afterwards only if it started it.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline_bed.marquez import MarquezBed
from crossline_bed.process import LOOPBACK, free_port
from crossline.emitters.transport import DurableHttpConfig, DurableHttpTransport

PRODUCER = "https://github.com/crossline/crossline/tree/main/benchmarks"
WARMUP = 20
ROUNDS = 10


def make_events(n: int, namespace: str) -> list[RunEvent]:
    now = datetime.now(timezone.utc).isoformat()
    return [
        RunEvent(
            eventType=RunState.START,
            eventTime=now,
            run=Run(runId=str(uuid.uuid4())),
            job=Job(namespace=namespace, name=f"bench.job_{i % 20}"),
            producer=PRODUCER,
        )
        for i in range(n)
    ]


def timed(emit: Callable[[RunEvent], object], events: list[RunEvent]) -> list[float]:
    samples = []
    for event in events:
        start = time.perf_counter()
        emit(event)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.fmean(samples), statistics.median(samples), p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=2000, help="events per case (default 2000)")
    args = parser.parse_args()
    # Case (c) is an outage on purpose; its one "spooling until it answers" warning is noise here.
    logging.getLogger("crossline.emitters.transport.durable").setLevel(logging.ERROR)
    n = args.events

    bed = MarquezBed()
    was_running = bed.running() is not None
    state = bed.up()
    try:
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        impl = state.impl + (" (crossline stand-in, not real Marquez)" if state.impl == "standin" else "")
        print(f"backend: Marquez {impl} at {state.url}; {n} events per case in {ROUNDS} interleaved "
              f"rounds, after {WARMUP} warm-up events")

        with tempfile.TemporaryDirectory(prefix="crossline-bench-") as tmp:
            plain = HttpTransport(HttpConfig.from_dict({"url": state.url}))
            durable_up = DurableHttpTransport(
                DurableHttpConfig.from_dict({"url": state.url, "spool_dir": str(Path(tmp) / "up")})
            )
            durable_down = DurableHttpTransport(
                DurableHttpConfig.from_dict(
                    {"url": f"http://{LOOPBACK}:{free_port()}", "spool_dir": str(Path(tmp) / "down")}
                )
            )
            emitters = {
                "(a) plain HttpTransport, up": plain.emit,
                "(b) durable, up": durable_up.emit,
                "(c) durable, down (spooled)": durable_down.emit,
            }
            for emit in emitters.values():  # warm-up: connections, imports, the backend's caches
                timed(emit, make_events(WARMUP, namespace))
            # Interleaved rounds, so the backend's drift (its tables grow) hits every case alike.
            cases: dict[str, list[float]] = {name: [] for name in emitters}
            for r in range(ROUNDS):
                size = n // ROUNDS + (1 if r < n % ROUNDS else 0)
                for name, emit in emitters.items():
                    cases[name] += timed(emit, make_events(size, namespace))
            assert durable_up.stats.sent == n + WARMUP, durable_up.stats
            assert durable_down.stats.spooled == n + WARMUP, durable_down.stats
            for transport in (plain, durable_up, durable_down):
                transport.close(0)
    finally:
        if not was_running:
            bed.down()

    base = summary(cases["(a) plain HttpTransport, up"])
    print(f"{'case':32} {'mean ms':>9} {'p50 ms':>9} {'p99 ms':>9}   {'mean/a':>7} {'p50/a':>7} {'p99/a':>7}")
    for name, samples in cases.items():
        mean, p50, p99 = summary(samples)
        ratios = (mean / base[0], p50 / base[1], p99 / base[2])
        print(f"{name:32} {mean:9.3f} {p50:9.3f} {p99:9.3f}   " + " ".join(f"{r:7.2f}" for r in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
