"""What durable delivery costs the caller per event: ``.venv/bin/python benchmarks/emit_overhead.py``.

Starts the bed's Marquez (``MarquezBed().up()``; the crossline stand-in where real
Marquez cannot be had, which the output says) and times ``transport.emit(event)`` in a
tight loop, N events per case, each event a new run with two datasets:

  reference   a local new-file-fsync-rename of the same bytes on the same file system
              (the physical floor of "durably appended"), measured before and after;
  plain, up   the OpenLineage client's ``HttpTransport`` (for context: a POST per event);
  up          ``DurableHttpTransport``, backend up: the sender delivers as we emit;
  down        backend down (a loopback port where nothing listens);
  hanging     a backend that accepts connections and never answers;
  outage      right after an outage of R runs (START + COMPLETE each, spooled while the
              backend was down): the backend is back and the sender drains the backlog
              while we emit.

Each timed emit alternates with one reference write, so both see the same moment of a
shared disk; the table gives each case's p50/p99/max in milliseconds beside the
reference measured alongside it, and p99 as a multiple of that reference's p99 (the
target: within 2x, at any backlog). A quiet reference (no sender running) is printed too. Then it delivers everything (the up senders finish,
the down and hanging spools are replayed to Marquez) and reads back what Marquez stored
for this run's events: lost (emitted, never stored; must be 0) and duplicates (stored
more than once; delivery is at least once). Not a timed test: figures depend on the
machine; run it to compare changes on one machine. Stops the bed only if it started it.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline.emitters.transport import DurableHttpConfig, DurableHttpTransport
from crossline_bed.marquez import MarquezBed
from crossline_bed.process import LOOPBACK, free_port

PRODUCER = "https://github.com/crossline/crossline/tree/main/benchmarks"


class Runs:
    """Events of this benchmark: one eventTime of its own, so Marquez's listing finds them."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.instant = datetime(1971, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=random.randrange(946_000_000))
        self.emitted: list[tuple[str, str]] = []

    def event(self, i: int, state: RunState = RunState.START, run_id: str | None = None) -> RunEvent:
        run_id = run_id or str(uuid.uuid4())
        version = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=f"v{i}")
        event = RunEvent(
            eventType=state,
            eventTime=self.instant.isoformat(),
            run=Run(runId=run_id),
            job=Job(namespace=self.namespace, name=f"bench.job_{i % 20}"),
            inputs=[InputDataset(namespace="s3://credit", name=f"train/2027-W{i % 52:02d}", facets={"version": version})],
            outputs=[OutputDataset(namespace="s3://credit", name=f"models/m{i}/model.tar.gz")],
            producer=PRODUCER,
        )
        self.emitted.append((run_id, state.value))
        return event

    def stored(self, url: str) -> Counter[tuple[str, str]]:
        found: Counter[tuple[str, str]] = Counter()
        offset = 0
        while True:
            page = requests.get(f"{url}/api/v1/events/lineage", timeout=60, params={
                "after": self.instant.isoformat(), "before": (self.instant + timedelta(seconds=1)).isoformat(),
                "sortDirection": "asc", "limit": 5000, "offset": offset}).json()["events"]
            found.update((e["run"]["runId"], e["eventType"]) for e in page if e["job"]["namespace"] == self.namespace)
            if len(page) < 5000:
                return found
            offset += len(page)


def timed(emit: Callable[[RunEvent], object], events: list[RunEvent]) -> list[float]:
    samples = []
    for event in events:
        start = time.perf_counter()
        emit(event)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


class Reference:
    """The floor: write a new file under tmp/, fsync it, rename it into place (what a spool append is)."""

    def __init__(self, folder: Path, data: bytes) -> None:
        (folder / "tmp").mkdir(parents=True, exist_ok=True)
        self.folder, self.data, self.count = folder, data, 0

    def once(self) -> float:
        self.count += 1
        start = time.perf_counter()
        tmp, final = self.folder / "tmp" / f"{self.count}.json", self.folder / f"{self.count}.json"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, self.data)
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, final)
        return (time.perf_counter() - start) * 1000

    def samples(self, n: int) -> list[float]:
        return [self.once() for _ in range(n)]


def interleaved(emit: Callable[[RunEvent], object], events: list[RunEvent], ref: Reference) -> tuple[list[float], list[float]]:
    """Emit times and reference times, one of each in turn."""
    emits, refs = [], []
    for event in events:
        refs.append(ref.once())
        start = time.perf_counter()
        emit(event)
        emits.append((time.perf_counter() - start) * 1000)
    return emits, refs


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Hang:
    """Accepts connections and reads requests, never answers (until stopped)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        stop = self.stop

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stop.wait()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def durable(url: str, spool: Path, **extra: object) -> DurableHttpTransport:
    return DurableHttpTransport(DurableHttpConfig.from_dict({"url": url, "spool_dir": str(spool), **extra}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=2000, help="events timed per case (default 2000)")
    parser.add_argument("--outage-runs", type=int, default=1000, help="runs spooled during the outage (default 1000)")
    args = parser.parse_args()
    # The down and hanging cases are outages on purpose; their warnings are noise here.
    logging.getLogger("crossline.emitters.transport").setLevel(logging.CRITICAL)
    n = args.events

    bed = MarquezBed()
    was_running = bed.running() is not None
    state = bed.up()
    hang = Hang()
    try:
        runs = Runs(f"bench-{uuid.uuid4().hex[:8]}")
        impl = state.impl + (" (crossline stand-in, not real Marquez)" if state.impl == "standin" else "")
        print(f"backend: Marquez {impl} at {state.url}; {n} events per case; outage of {args.outage_runs} runs")
        body = Serde.to_json(runs.event(0)).encode()
        runs.emitted.clear()
        cases: dict[str, tuple[list[float], list[float]]] = {}
        base = Path(tempfile.mkdtemp(prefix="crossline-bench-", dir=Path.home()))
        ref = Reference(base / "reference", body)
        quiet = ref.samples(n)

        plain = HttpTransport(HttpConfig.from_dict({"url": state.url}))
        timed(plain.emit, [runs.event(i) for i in range(20)])  # warm-up: connection, the backend's caches
        cases["plain HttpTransport, up"] = interleaved(plain.emit, [runs.event(i) for i in range(n)], ref)
        plain.close()

        up = durable(state.url, base / "up")
        down = durable(f"http://{LOOPBACK}:{free_port()}", base / "down")
        hanging = durable(hang.url, base / "hanging")
        for name, transport in (("durable, up", up), ("durable, down", down), ("durable, hanging", hanging)):
            timed(transport.emit, [runs.event(i) for i in range(20)])  # warm-up: the sender thread starts
            cases[name] = interleaved(transport.emit, [runs.event(i) for i in range(n)], ref)

        # The outage: R runs spooled while the backend was down; then it is back.
        outage = durable(f"http://{LOOPBACK}:{free_port()}", base / "outage")
        for i in range(args.outage_runs):
            run_id = str(uuid.uuid4())
            outage.emit(runs.event(i, RunState.START, run_id))
            outage.emit(runs.event(i, RunState.COMPLETE, run_id))
        outage.close(0)
        back = durable(state.url, base / "outage")
        backlog = back.status().pending.count
        cases[f"durable, after outage of {args.outage_runs} runs"] = interleaved(
            back.emit, [runs.event(i) for i in range(n)], ref)
        left_when_done = back.status().pending.count

        # Deliver everything, then count what Marquez stored.
        started = time.monotonic()
        for transport in (up, back):
            while transport.status().pending.count and time.monotonic() - started < 600:
                transport.wait_for_completion()
        for transport in (down, hanging):
            transport.close(0)
        for folder in ("down", "hanging"):
            durable(state.url, base / folder).replay(wait=60)
        delivered_in = time.monotonic() - started
        for transport in (up, back):
            transport.close()
        stored = runs.stored(state.url)
    finally:
        hang.close()
        if not was_running:
            bed.down()

    print(f"{'case (caller time per emit)':38} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}   "
          f"{'ref p50':>7} {'ref p99':>7}   {'p99/ref p99':>11}")
    print(f"{'reference alone (no sender running)':38} {statistics.median(quiet):7.3f} {pct(quiet, 0.99):7.3f} "
          f"{max(quiet):7.3f}")
    for name, (samples, refs) in cases.items():
        print(f"{name:38} {statistics.median(samples):7.3f} {pct(samples, 0.99):7.3f} {max(samples):7.3f}   "
              f"{statistics.median(refs):7.3f} {pct(refs, 0.99):7.3f}   {pct(samples, 0.99) / pct(refs, 0.99):11.2f}")
    emitted = Counter(runs.emitted)
    lost = sum(1 for key in emitted if key not in stored)
    duplicates = sum(count - 1 for count in stored.values() if count > 1)
    print(f"outage backlog: {backlog} events when the backend came back; {left_when_done} still queued when the "
          f"{n} timed emits were done (the sender drained the rest in the background)")
    print(f"events emitted: {len(emitted)}; stored by Marquez: {len(stored)} distinct; lost: {lost}; "
          f"duplicates: {duplicates}; everything delivered {delivered_in:.1f} s after the last timed emit")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
