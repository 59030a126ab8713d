"""One trace issues at most ten SQL statements, on SQLite and on PostgreSQL, whatever the graph's size.

The story's collected graph (SQLite, once per session) is copied into each backend's
store, once as it is and once with thousands of records that fan out from the nodes a
trace passes through (inferences on the same variant, runs reading the same model
artifact and training set, other datasets). Statements are counted with SQLAlchemy's
``before_cursor_execute``, which sees every statement the store's engine sends, BEGIN
included. The answers must be the story's, on both backends, noise or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id, inference_id, run_id, variant_id
from crossline.collectors.reconcile import reconcile
from crossline.collectors.store import GraphStore
from crossline.collectors.trace import trace_inference, trace_package
from crossline.errors import NodeNotFound
from crossline.times import coerce

LIMIT = 10
SM = "arn:aws:sagemaker:us-east-1:123456789012"
ENDPOINT = f"{SM}:endpoint/credit-prod"
PACKAGE_73 = f"{SM}:model-package/credit-xgb/73"
NOISE = 3000


def _records(dump: dict[str, list[dict[str, Any]]]) -> tuple[list[Node], list[Edge]]:
    """The dump's records, once per source that recorded them, with their fact times (the store
    merges them back); what was derived from them is derived again by ``_copy``."""
    nodes = [
        Node(NodeId(n["id"]), NodeKind(n["kind"]), n["name"], source, n["props"],
             coerce(n["valid_from"]), coerce(n["valid_to"]), times=n["times"])
        for n in dump["nodes"] for source in n["sources"]
    ]
    edges = [
        Edge(NodeId(e["src"]), NodeId(e["dst"]), EdgeKind(e["kind"]), source, e["props"],
             coerce(e["valid_from"]), coerce(e["valid_to"]), times=e["times"])
        for e in dump["edges"] for source in e["sources"]
    ]
    return nodes, edges


def _copy(graph: Graph, dump: dict[str, list[dict[str, Any]]]) -> None:
    graph.store.write(*_records(dump))
    reconcile(graph.store)
    assert graph.dump() == dump


def _noise(graph: Graph) -> tuple[list[Node], list[Edge]]:
    """Records that hang off every node a trace of loan-8231 passes, none changing its answers."""
    v73 = variant_id(ENDPOINT, "credit-prod-v73")
    served = [e for e in graph.edges(src=v73, kinds=[EdgeKind.SERVED])]
    at = served[0].valid_from
    package = graph.node(PACKAGE_73)
    artifact = dataset_id(package.props["modelDataUrl"])
    artifacts = [artifact, *(e.src for e in graph.edges(dst=artifact, kinds=[EdgeKind.VERSION_OF]))]
    train = [e.dst for e in graph.edges(kinds=[EdgeKind.CONSUMED]) if "train/2027-W10" in e.src]
    nodes, edges = [], []
    for i in range(NOISE):
        inference = inference_id("credit-prod", f"noise-{i:05d}")
        nodes.append(Node(inference, NodeKind.INFERENCE, f"noise-{i:05d}", "noise", {"endpoint": "credit-prod"},
                          valid_from=at + timedelta(seconds=i)))
        edges.append(Edge(v73, inference, EdgeKind.SERVED, "noise", valid_from=at + timedelta(seconds=i)))
        run = run_id(f"00000000-0000-4000-8000-{i:012d}")
        nodes.append(Node(run, NodeKind.RUN, run, "noise", {"endedAt": "2027-03-07T00:00:00Z"}))
        edges.append(Edge(artifacts[i % len(artifacts)], run, EdgeKind.CONSUMED, "noise"))
        edges.append(Edge(train[i % len(train)], run, EdgeKind.CONSUMED, "noise"))
        other = dataset_id(f"s3://noise/{i:05d}.csv")
        nodes.append(Node(other, NodeKind.DATASET, f"{i:05d}.csv", "noise"))
        edges.append(Edge(other, run, EdgeKind.CONSUMED, "noise"))
    return nodes, edges


@pytest.fixture(scope="module")
def story_dump(story_graph) -> dict[str, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    store, _ = story_graph
    return Graph(store).dump()


@pytest.fixture(scope="module")
def expected(story_graph) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    store, _ = story_graph
    return {
        "loan-8231": trace_inference(store, "loan-8231").to_dict(),
        "loan-9120": trace_inference(store, "loan-9120", endpoint="credit-prod").to_dict(),
        "package": trace_package(store, PACKAGE_73).to_dict(),
    }


@contextmanager
def counting(store: GraphStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("noise", [False, True], ids=["story", "story+noise"])
def test_a_trace_issues_at_most_ten_statements(
    store_url: str, story_dump: dict[str, Any], expected: dict[str, Any], noise: bool
) -> None:
    with Graph.open(store_url) as graph:
        _copy(graph, story_dump)
        if noise:
            graph.store.write(*_noise(graph))
            assert graph.counts()["inference"] > NOISE
        calls = {
            "loan-8231": lambda: trace_inference(graph, "loan-8231"),
            "loan-9120": lambda: trace_inference(graph, "loan-9120", endpoint="credit-prod"),
            "package": lambda: trace_package(graph, PACKAGE_73),
        }
        for name, call in calls.items():
            with counting(graph.store) as statements:
                answer = call()
            print(f"{graph.store.dialect} {'noise' if noise else 'story'} {name}: {len(statements)} statements")
            assert len(statements) <= LIMIT, (name, len(statements), statements)
            assert answer.to_dict() == expected[name], name
        assert not expected["loan-8231"]["gaps"]
        with counting(graph.store) as statements, pytest.raises(NodeNotFound, match="credit-prod"):
            trace_inference(graph, "loan-0000")
        assert len(statements) <= LIMIT, statements


def test_the_count_does_not_grow_with_the_graph(store_url: str, story_dump: dict[str, Any]) -> None:
    with Graph.open(store_url) as graph:
        _copy(graph, story_dump)
        with counting(graph.store) as before:
            trace_inference(graph, "loan-8231")
        graph.store.write(*_noise(graph))
        with counting(graph.store) as after:
            trace_inference(graph, "loan-8231")
    assert len(after) == len(before)
