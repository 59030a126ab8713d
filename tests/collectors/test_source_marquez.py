"""The Marquez source against the bed's Marquez: events in, the same records out, exact resumption.

Events are sent with openlineage-python's HttpTransport in the test's own namespace. The
events API is global, so each test also reads only a time window of its own (an hour in
the 24th century, where no other test writes) and filters to its namespace.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline_bed.marquez import MarquezState
from crossline.collectors.model import EdgeKind, NodeKind, dataset_id, dataset_version_id, job_id, run_id
from crossline.collectors.openlineage import records_from_event
from crossline.collectors.sources import Batch, source_from_config
from crossline.collectors.sources.marquez import MarquezSource, parse_watermark
from crossline.emitters.facets import CrosslineHyperparametersRunFacet, content_version
from crossline.errors import ConfigError, SourceError
from crossline.times import iso

PRODUCER = "https://github.com/crossline/crossline/tree/0.1.0/tests"


@pytest.fixture
def window() -> datetime:
    """A time of this test's own: a random minute in the 24th century."""
    return datetime(2300, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(50_000_000))


def emit(url: str, namespace: str, when: datetime, job: str, state: RunState = RunState.COMPLETE,
         run: str | None = None) -> RunEvent:
    hyper = CrosslineHyperparametersRunFacet(hyperparameters={"eta": "0.2"})
    event = RunEvent(
        eventType=state, eventTime=iso(when),
        run=Run(runId=run or str(uuid.uuid4()), facets={hyper.KEY: hyper}),
        job=Job(namespace=namespace, name=job),
        inputs=[InputDataset("s3://credit", f"{namespace}/train", facets={"version": content_version("v1", None)})],
        outputs=[OutputDataset("s3://credit", f"{namespace}/model.tar.gz")],
        producer=PRODUCER,
    )
    OpenLineageClient(transport=HttpTransport(HttpConfig(url=url))).emit(event)
    return event


def source(url: str, **options: object) -> MarquezSource:
    made = source_from_config({"type": "marquez", "url": url, **options})
    assert isinstance(made, MarquezSource)
    return made


def in_window(url: str, namespace: str, window: datetime, **options: object) -> MarquezSource:
    """A source reading only this test's namespace and hour."""
    return source(url, namespaces=[namespace], start=iso(window), end=iso(window + timedelta(hours=1)), **options)


def read(src: MarquezSource, since: str | None) -> tuple[list[Batch], str | None]:
    batches = list(src.read(since))
    return batches, (batches[-1].watermark if batches else since)


def runs(batches: list[Batch]) -> list[str]:
    return sorted({n.id for b in batches for n in b.nodes if n.kind == NodeKind.RUN})


def test_reads_events_back_as_records_and_resumes_at_the_watermark(
    marquez: MarquezState, namespace: str, window: datetime
) -> None:
    first = emit(marquez.url, namespace, window, "train", RunState.START)
    emit(marquez.url, namespace, window + timedelta(seconds=1), "train", run=first.run.runId)
    # Three events at one instant, read in pages of two: the boundary falls inside it.
    tied = [emit(marquez.url, namespace, window + timedelta(seconds=2), f"score_{i}") for i in range(3)]
    src = in_window(marquez.url, namespace, window, page_size=2, batch_size=3)
    assert src.total(None) == 5

    batches, mark = read(src, None)
    assert [b.scanned for b in batches] == [3, 2]
    assert all(not b.warnings for b in batches), [b.warnings for b in batches]
    assert runs(batches) == sorted(run_id(e.run.runId) for e in [first, *tied])
    assert mark == f"{iso(window + timedelta(seconds=2))}|3"

    # The same records as the converter gives for the event sent (Marquez's catalog adds props).
    nodes = {n.id: n for b in batches for n in b.nodes}
    edges = {(e.kind, e.src, e.dst) for b in batches for e in b.edges}
    expected_nodes, expected_edges = records_from_event(_json(first), source="marquez")
    assert {n.id for n in expected_nodes} <= set(nodes)
    assert {(e.kind, e.src, e.dst) for e in expected_edges} <= edges
    train_v = dataset_version_id(dataset_id("s3://credit", f"{namespace}/train"), "v1")
    assert (EdgeKind.CONSUMED, train_v, run_id(first.run.runId)) in edges
    run = [n for b in batches for n in b.nodes if n.id == run_id(first.run.runId)]
    merged = {k: v for n in run for k, v in n.props.items()}
    assert (merged["state"], merged["startedAt"]) == ("COMPLETE", iso(window))
    assert merged["facets.crossline_hyperparameters"]["hyperparameters"] == {"eta": "0.2"}
    assert all(n.source == "marquez" for n in nodes.values())
    # marquez-python's view of the catalog fills the dataset and job nodes.
    catalog = [n for b in batches for n in b.nodes if n.id == job_id(namespace, "train") and "marquez.type" in n.props]
    assert catalog and catalog[0].props["marquez.type"] == "BATCH"
    assert src.counts() == {"namespaces": 1, "datasets": 0, "jobs": 4}

    # Reading from the watermark: nothing new, nothing read.
    assert read(src, mark) == ([], mark)
    assert src.total(mark) == 0

    # A late event at the boundary instant is read, and only it.
    late = emit(marquez.url, namespace, window + timedelta(seconds=2), "score_late")
    batches, mark2 = read(src, mark)
    assert runs(batches) == [run_id(late.run.runId)]
    assert parse_watermark(mark2)[1] == 4

    # Reading again from scratch gives the same records.
    again = list(in_window(marquez.url, namespace, window).read(None))
    assert runs(again) == sorted(run_id(e.run.runId) for e in [first, *tied, late])


def test_lookback_rereads_before_the_watermark(marquez: MarquezState, namespace: str, window: datetime) -> None:
    emit(marquez.url, namespace, window + timedelta(seconds=10), "train")
    src = in_window(marquez.url, namespace, window)
    _, mark = read(src, None)
    # A replayed spool delivers an event older than the watermark.
    old = emit(marquez.url, namespace, window + timedelta(seconds=5), "replayed")
    assert read(src, mark) == ([], mark)
    batches, _ = read(in_window(marquez.url, namespace, window, lookback=60), mark)
    assert run_id(old.run.runId) in runs(batches)


def _json(event: RunEvent) -> dict:
    return json.loads(Serde.to_json(event))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_marquez_is_a_source_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(SourceError, match=url.replace(".", r"\.")):
        list(source(url, retries=1, backoff=0.01).read(None))


@pytest.fixture
def failing_marquez() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for a Marquez answering 503 to everything (no real part fails on demand)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"overloaded")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_5xx_is_retried_then_a_source_error(failing_marquez: tuple[str, list[str]]) -> None:
    url, hits = failing_marquez
    with pytest.raises(SourceError, match=r"HTTP 503 3 times"):
        list(source(url, retries=2, backoff=0.01).read(None))
    assert len(hits) == 3 and all(h.startswith("/api/v1/events/lineage?") for h in hits)


@pytest.mark.parametrize("options", [
    {}, {"url": "localhost:5000"}, {"url": "http://x", "page_size": 0}, {"url": "http://x", "start": "yesterday"},
    {"url": "http://x", "namespaces": []}, {"url": "http://x", "nope": 1},
])
def test_bad_config_is_a_config_error(options: dict) -> None:
    with pytest.raises(ConfigError):
        source_from_config({"type": "marquez", **options})


def test_a_bad_watermark_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="watermark"):
        list(source("http://127.0.0.1:9").read("2027-03-06T00:00:00Z"))
