"""Helpers for the durable transport's tests: events with a tell-tale order, a dead URL,
a scripted HTTP backend (real HTTP on loopback: statuses, hangs, Retry-After), and
reading events back from the bed's Marquez.

Every event of a test carries the same eventTime, an instant of that test's own far in
the past, so the test finds its events with Marquez's ``after``/``before`` window; the
Marquez API lists equal eventTimes in the order they arrived (the stand-in breaks ties
by arrival sequence), so the listing is the delivery order.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState

from crossline_bed.process import LOOPBACK, free_port
from crossline.emitters.transport import DurableHttpConfig, DurableHttpTransport

PRODUCER = "https://github.com/crossline/tests"


class Events:
    """Makes the events of one test and reads them back from Marquez."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # A random second in 1971..2001: no other test's events share it.
        self.instant = datetime(1971, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=random.randrange(946_000_000))

    def event(self, label: str, producer: str = PRODUCER) -> RunEvent:
        return RunEvent(
            eventType=RunState.START,
            eventTime=self.instant.isoformat(),
            run=Run(runId=str(uuid.uuid4())),
            job=Job(namespace=self.namespace, name=label),
            producer=producer,
        )

    def refused(self, label: str) -> RunEvent:
        """An event Marquez refuses with 422: an input dataset without a name."""
        event = self.event(label)
        event.inputs = [InputDataset(namespace="s3://bucket", name=None)]  # type: ignore[arg-type]
        return event

    def in_marquez(self, url: str) -> list[str]:
        """Labels (job names) of this test's events in Marquez, in the order it lists them."""
        response = requests.get(
            f"{url}/api/v1/events/lineage",
            params={
                "after": self.instant.isoformat(),
                "before": (self.instant + timedelta(seconds=1)).isoformat(),
                "sortDirection": "asc",
                "limit": 10_000,
            },
            timeout=30,
        )
        response.raise_for_status()
        return [e["job"]["name"] for e in response.json()["events"] if e["job"]["namespace"] == self.namespace]


@pytest.fixture
def events(namespace: str) -> Events:
    return Events(namespace)


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens: connection refused, as when Marquez is down."""
    return f"http://{LOOPBACK}:{free_port()}"


# Quick retries so that tests of the budget take milliseconds, not minutes.
# The sender thread, in this process, so tests can watch its counters; test_courier.py tests
# the sender process, the default.
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "shutdown_timeout": 30, "poll_interval": 0.2, "sender": "thread"}


def until(condition: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> None:
    """Wait for the background sender to make ``condition`` true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(name="until")
def until_fixture() -> Callable[..., None]:
    return until


@pytest.fixture
def make_transport(tmp_path: Path) -> Iterator[Any]:
    made: list[DurableHttpTransport] = []

    def make(url: str, spool_dir: Path | None = None, **params: Any) -> DurableHttpTransport:
        config = DurableHttpConfig.from_dict(
            {"url": url, "spool_dir": str(spool_dir or tmp_path / "spool"), **FAST, **params})
        transport = DurableHttpTransport(config)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close(0)


class ScriptedBackend:
    """A tiny HTTP backend: answers each POST with the next scripted status, then 201.

    ``rules`` maps a job name to a status answered for that event every time (a poisoned
    event); a script entry may be a ``(status, headers)`` pair; ``hang`` makes it accept
    the connection and never answer. It records every body it received, in order,
    whatever it answered, and the request headers.
    """

    def __init__(self, script: list[Any], rules: dict[str, int] | None = None, hang: bool = False) -> None:
        self.script = list(script)
        self.rules = dict(rules or {})
        self.hang = threading.Event()
        if hang:
            self.hang.set()
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.times: list[float] = []
        self.headers: list[dict[str, str]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if backend.hang.is_set():
                    backend.received.append((0, json.loads(body)))
                    while backend.hang.is_set() and not getattr(self.server, "closing", False):
                        time.sleep(0.05)
                    return
                doc = json.loads(body)
                name = doc.get("job", {}).get("name")
                step = backend.rules.get(name) or (backend.script.pop(0) if backend.script else 201)
                status, headers = step if isinstance(step, tuple) else (step, {})
                backend.received.append((status, doc))
                backend.times.append(time.monotonic())
                backend.headers.append(dict(self.headers))
                payload = json.dumps({"code": status, "message": "scripted"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def delivered(self) -> list[str]:
        """Job names of the events this backend answered with a 2xx, in order."""
        return [body["job"]["name"] for status, body in self.received if 200 <= status < 300]


@pytest.fixture
def scripted() -> Iterator[Any]:
    backends: list[ScriptedBackend] = []

    def start(script: list[Any] = (), rules: dict[str, int] | None = None, hang: bool = False) -> ScriptedBackend:
        backend = ScriptedBackend(list(script), rules, hang)
        backend.thread.start()
        backends.append(backend)
        return backend

    yield start
    for backend in backends:
        backend.hang.clear()
        backend.server.closing = True  # type: ignore[attr-defined]
        backend.server.shutdown()
        backend.server.server_close()
