"""Helpers for the durable transport's tests: events with a tell-tale order, a dead URL,
a scripted HTTP backend, and reading events back from the bed's Marquez.

Every event of a test carries the same eventTime, an instant of that test's own far in
the past, so the test finds its events with Marquez's ``after``/``before`` window; the
Marquez API lists equal eventTimes in the order they arrived (the stand-in breaks ties
by arrival sequence), so the listing is the delivery order.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
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


@pytest.fixture
def make_transport(tmp_path: Path) -> Iterator[Any]:
    made: list[DurableHttpTransport] = []

    def make(url: str, spool_dir: Path | None = None, **params: Any) -> DurableHttpTransport:
        config = DurableHttpConfig.from_dict({"url": url, "spool_dir": str(spool_dir or tmp_path / "spool"), **params})
        transport = DurableHttpTransport(config)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.http.close()


class ScriptedBackend:
    """A tiny HTTP backend: answers each POST with the next scripted status, then 201.

    It records every body it received, in order, whatever it answered.
    """

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.received: list[tuple[int, dict[str, Any]]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = backend.script.pop(0) if backend.script else 201
                backend.received.append((status, json.loads(body)))
                payload = json.dumps({"code": status, "message": "scripted"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
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

    def start(script: list[int]) -> ScriptedBackend:
        backend = ScriptedBackend(script)
        backend.thread.start()
        backends.append(backend)
        return backend

    yield start
    for backend in backends:
        backend.server.shutdown()
        backend.server.server_close()
