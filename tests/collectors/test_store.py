"""GraphStore on SQLite and on the bed's PostgreSQL: schema, idempotent atomic writes (read back through Graph)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from crossline.collectors import store as store_module
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.graph import Graph
from crossline.collectors.schema import METADATA, NODES
from crossline.collectors.store import GraphStore, WriteResult
from crossline.errors import ConfigError

T0 = datetime(2027, 3, 8, tzinfo=UTC)
T1 = datetime(2027, 3, 15, tzinfo=UTC)
T2 = datetime(2027, 3, 22, tzinfo=UTC)
F0, F1 = "2027-03-08T00:00:00.000000Z", "2027-03-15T00:00:00.000000Z"


def node(nid: str, kind: NodeKind = NodeKind.DATASET, source: str = "marquez", **kw: Any) -> Node:
    return Node(NodeId(nid), kind, kw.pop("name", nid), source, **kw)


def edge(src: str, dst: str, kind: EdgeKind = EdgeKind.CONSUMED, source: str = "marquez", **kw: Any) -> Edge:
    return Edge(NodeId(src), NodeId(dst), kind, source, **kw)


BATCH_NODES = [
    node("dataset:s3://credit:train/2027-W10", props={"version": "v1", "ended": datetime(2027, 3, 6, 3, 14)}),
    node("run:1", NodeKind.RUN, props={"hyperparameters": {"max_depth": 6, "eta": 0.2}}),
    node("variant:v73", NodeKind.ENDPOINT_VARIANT, "sagemaker", valid_from=T0, valid_to=T1),
]
BATCH_EDGES = [
    edge("dataset:s3://credit:train/2027-W10", "run:1"),
    edge("run:1", "variant:v73", EdgeKind.SERVES, "sagemaker", valid_from=T0, valid_to=T1, props={"rule": "r"}),
]


def dump(store: GraphStore) -> dict[str, Any]:
    return Graph(store).dump()


# -- schema ---------------------------------------------------------------------------------
def test_open_migrates_to_head_and_twice_is_a_no_op(store_url: str) -> None:
    with GraphStore.open(store_url) as first:
        assert first.schema_revision() == "0004"
        schema = _schema(first.engine)
    with GraphStore.open(store_url) as second:
        assert second.schema_revision() == "0004"
        assert _schema(second.engine) == schema
    assert {"nodes", "edges", "watermarks", "collection_log", "crossline_graph_version"} <= set(schema)
    assert schema["edges"]["indexes"] == [("ix_edges_dst_kind", ("dst", "kind", "src"))]
    assert schema["nodes"]["indexes"] == [("ix_nodes_kind_name", ("kind", "name"))]


def test_the_migration_builds_the_tables_the_store_queries(graph_store: GraphStore) -> None:
    with graph_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(context, METADATA)
    assert [d for d in diffs if "crossline_graph_version" not in str(d)] == []


def _schema(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    inspector = sa.inspect(engine)
    return {
        table: {
            "columns": [(c["name"], c["nullable"]) for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
        }
        for table in inspector.get_table_names()
    }


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@127.0.0.1:1/db", "postgresql+psycopg"),
        ("postgres://u@127.0.0.1:1/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@127.0.0.1:1/db", "postgresql+psycopg"),
        ("sqlite:///graph.db", "sqlite"),
        ("sqlite://", "sqlite"),
    ],
)
def test_urls_map_to_the_supported_drivers(url: str, driver: str) -> None:
    assert store_module._url(url).drivername == driver


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql+asyncpg://u@h/db", "sqlite+aiosqlite:///x.db", "not a url"]
)
def test_unsupported_urls_are_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        GraphStore.open(url)


def test_an_in_memory_store_keeps_its_data_between_calls() -> None:
    with GraphStore.open("sqlite://") as store:
        store.write(BATCH_NODES, BATCH_EDGES)
        assert len(dump(store)["nodes"]) == 3


# -- writing ---------------------------------------------------------------------------------
def test_writing_the_same_batch_twice_changes_nothing(graph_store: GraphStore) -> None:
    first = graph_store.write(BATCH_NODES, BATCH_EDGES, watermark=("marquez", "w1"))
    dumped = dump(graph_store)
    second = graph_store.write(BATCH_NODES, BATCH_EDGES, watermark=("marquez", "w1"))
    assert first == WriteResult(nodes_new=3, edges_new=2)
    assert second == WriteResult(nodes_unchanged=3, edges_unchanged=2)
    assert dump(graph_store) == dumped


def test_one_batch_or_many_give_the_same_graph(graph_store: GraphStore) -> None:
    graph_store.write(BATCH_NODES[:1], [])
    graph_store.write(BATCH_NODES[1:], BATCH_EDGES[:1])
    graph_store.write([], BATCH_EDGES[1:])
    with GraphStore.open("sqlite://") as other:
        other.write(BATCH_NODES, BATCH_EDGES)
        assert dump(graph_store) == dump(other)


def test_the_dump_is_canonical_json(graph_store: GraphStore) -> None:
    graph_store.write(BATCH_NODES, BATCH_EDGES)
    dumped = dump(graph_store)
    assert dumped["nodes"][0] == {
        "id": "dataset:s3://credit:train/2027-W10",
        "kind": "dataset",
        "name": "dataset:s3://credit:train/2027-W10",
        "sources": ["marquez"],
        "props": {"version": "v1", "ended": "2027-03-06T03:14:00+00:00"},
        "valid_from": None,
        "valid_to": None,
        "times": {},
        "derived": {},
    }
    assert dumped["edges"][1] == {
        "src": "run:1",
        "dst": "variant:v73",
        "kind": "serves",
        "sources": ["sagemaker"],
        "props": {"rule": "r"},
        "valid_from": "2027-03-08T00:00:00+00:00",
        "valid_to": "2027-03-15T00:00:00+00:00",
        "times": {"rule": "2027-03-08T00:00:00.000000Z"},
        "derived": {},
    }
    assert [n["id"] for n in dumped["nodes"]] == sorted(n["id"] for n in dumped["nodes"])


def test_the_watermark_moves_with_its_batch(graph_store: GraphStore) -> None:
    assert graph_store.watermark("marquez") is None
    graph_store.write(BATCH_NODES[:1], [], watermark=("marquez", "2027-03-08T00:00:00Z"))
    graph_store.write(BATCH_NODES[1:], [], watermark=("marquez", "2027-03-09T00:00:00Z"))
    graph_store.write([], [], watermark=("sagemaker", "token-1"))
    assert graph_store.watermark("marquez") == "2027-03-09T00:00:00Z"
    assert Graph(graph_store).watermarks() == {"marquez": "2027-03-09T00:00:00Z", "sagemaker": "token-1"}


def test_a_write_that_fails_midway_leaves_neither_batch_nor_watermark(
    graph_store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph_store.write(BATCH_NODES[:1], [], watermark=("marquez", "w1"))
    before = dump(graph_store)

    def fail(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    # Nodes and edges are written by the time the watermark is set: all of it must go.
    monkeypatch.setattr(GraphStore, "_set_watermark", fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        graph_store.write(BATCH_NODES, BATCH_EDGES, watermark=("marquez", "w2"))
    assert dump(graph_store) == before
    assert graph_store.watermark("marquez") == "w1"


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
    from crossline.collectors.store import GraphStore

    def stall(self, conn, rows, result):
        print("nodes written, transaction open", flush=True)
        time.sleep(600)

    GraphStore._write_edges = stall
    store = GraphStore.open(sys.argv[1])
    nodes = [Node(NodeId(f"dataset:big:{i}"), NodeKind.DATASET, str(i), "marquez") for i in range(5000)]
    edges = [Edge(nodes[0].id, nodes[1].id, EdgeKind.CONSUMED, "marquez")]
    store.write(nodes, edges, watermark=("marquez", "w2"))
    """
)


def test_a_writer_killed_mid_batch_loses_the_batch_and_keeps_the_last_watermark(graph_store: GraphStore) -> None:
    graph_store.write(BATCH_NODES, BATCH_EDGES, watermark=("marquez", "w1"))
    before = dump(graph_store)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, graph_store.engine.url.render_as_string(hide_password=False)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "nodes written, transaction open"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert dump(graph_store) == before
    assert graph_store.watermark("marquez") == "w1"
    graph_store.write(BATCH_NODES, BATCH_EDGES, watermark=("marquez", "w2"))  # the store is usable again
    assert graph_store.watermark("marquez") == "w2"


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # props: per key, the value whose fact is newer wins, whichever record came last
        (node("d", props={"a": 1, "b": 1}, at=T0), node("d", props={"b": 2, "c": 3}, at=T1),
         {"props": {"a": 1, "b": 2, "c": 3}, "times": {"@kind": F1, "@name": F1, "a": F0, "b": F1, "c": F1}}),
        (node("d", props={"a": 1, "b": 1}, at=T1), node("d", props={"b": 2, "c": 3}, at=T0),
         {"props": {"a": 1, "b": 1, "c": 3}, "times": {"@kind": F1, "@name": F1, "a": F1, "b": F1, "c": F0}}),
        # valid_from stands for a missing at; a value without any time loses to one with
        (node("d", props={"b": 1}, valid_from=T0), node("d", props={"b": 2}), {"props": {"b": 1}}),
        (node("d", props={"b": 2}), node("d", props={"b": 1}, at=T0), {"props": {"b": 1}}),
        # equal times: the greater canonical value, so the order still cannot matter
        (node("d", props={"b": "x"}, at=T0), node("d", props={"b": "y"}, at=T0), {"props": {"b": "y"}}),
        (node("d", props={"b": "y"}, at=T0), node("d", props={"b": "x"}, at=T0), {"props": {"b": "y"}}),
        # per-prop times given with the record (a dump written back) count per prop
        (node("d", props={"a": 1, "b": 1}, times={"a": T2, "b": T0}), node("d", props={"a": 2, "b": 2}, at=T1),
         {"props": {"a": 1, "b": 2}}),
        # sources: the union
        (node("d", source="marquez"), node("d", source="sagemaker"), {"sources": ["marquez", "sagemaker"]}),
        # validity: earliest start, latest end; None is "not known" and reopens nothing
        (node("d", valid_from=T1), node("d", valid_from=T0), {"valid_from": T0.isoformat()}),
        (node("d", valid_from=T0), node("d", valid_from=T1), {"valid_from": T0.isoformat()}),
        (node("d", valid_to=T1), node("d", valid_to=T2), {"valid_to": T2.isoformat()}),
        (node("d", valid_to=T2), node("d", valid_to=T1), {"valid_to": T2.isoformat()}),
        (node("d"), node("d", valid_to=T1), {"valid_to": T1.isoformat()}),
        (node("d", valid_to=T1), node("d"), {"valid_to": T1.isoformat()}),
        # name and kind: the newer fact's, not the later write's
        (node("d", name="old", at=T0), node("d", name="new", at=T1), {"name": "new"}),
        (node("d", name="new", at=T1), node("d", name="old", at=T0), {"name": "new"}),
    ],
)
def test_a_record_written_again_merges_into_the_stored_one(
    graph_store: GraphStore, first: Node, second: Node, expected: dict[str, Any]
) -> None:
    graph_store.write([first], [])
    result = graph_store.write([second], [])
    stored = dump(graph_store)["nodes"][0]
    assert {k: stored[k] for k in expected} == expected
    assert result.nodes_changed + result.nodes_unchanged == 1
    # the same merge within one batch, in either order, and with duplicates, gives the same record
    for batch in ([first, second], [second, first], [second, first, second, first]):
        with GraphStore.open("sqlite://") as other:
            other.write(batch, [])
            assert dump(other)["nodes"][0] == stored
    # and so does writing them the other way round
    with GraphStore.open("sqlite://") as other:
        other.write([second], [])
        other.write([first], [])
        assert dump(other)["nodes"][0] == stored


def test_edges_merge_like_nodes_and_their_key_includes_valid_from(graph_store: GraphStore) -> None:
    graph_store.write([], [edge("a", "b", props={"rule": "r1"})])
    result = graph_store.write(
        [],
        [
            edge("a", "b", source="sagemaker", props={"evidence": "e"}),
            edge("a", "b", EdgeKind.SERVES, valid_from=T0),
            edge("a", "b", EdgeKind.SERVES, valid_from=T1),
            # the same instant as T0, written in another zone: the same edge
            edge("a", "b", EdgeKind.SERVES, valid_from=T0.astimezone(timezone(timedelta(hours=2))), valid_to=T1),
        ],
    )
    assert result == WriteResult(edges_new=2, edges_changed=1)
    edges = dump(graph_store)["edges"]
    assert [(e["kind"], e["valid_from"], e["valid_to"]) for e in edges] == [
        ("consumed", None, None),
        ("serves", T0.isoformat(), T1.isoformat()),
        ("serves", T1.isoformat(), None),
    ]
    assert edges[0]["props"] == {"rule": "r1", "evidence": "e"}
    assert edges[0]["sources"] == ["marquez", "sagemaker"]


def test_naive_datetimes_are_utc_and_reads_are_aware(graph_store: GraphStore) -> None:
    graph_store.write([node("d", valid_from=datetime(2027, 3, 8, 9, 42))], [])
    assert Graph(graph_store).node(NodeId("d")).valid_from == datetime(2027, 3, 8, 9, 42, tzinfo=UTC)
    aware = datetime(2027, 3, 8, 11, 42, tzinfo=timezone(timedelta(hours=2)))
    assert graph_store.write([node("d", valid_from=aware)], []).nodes_unchanged == 1


def test_first_and_last_seen_are_bookkeeping_not_content(graph_store: GraphStore) -> None:
    graph_store.write(BATCH_NODES, [])
    with graph_store.engine.connect() as conn:
        before = conn.execute(sa.select(NODES.c.first_seen, NODES.c.last_seen)).first()
    graph_store.write(BATCH_NODES, [])
    with graph_store.engine.connect() as conn:
        after = conn.execute(sa.select(NODES.c.first_seen, NODES.c.last_seen)).first()
    assert before is not None and after is not None
    assert after.first_seen == before.first_seen and after.last_seen >= before.last_seen
    assert after.first_seen.tzinfo is UTC
