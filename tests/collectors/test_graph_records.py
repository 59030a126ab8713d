"""Graph's record verbs on SQLite and PostgreSQL: nodes, find, prefixes, edges, steps, counts, the door itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from crossline.collectors import schema
from crossline.collectors import store as store_module
from crossline.collectors.graph import Graph, Hop
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, inference_id, variant_id
from crossline.collectors.store import MIGRATIONS, GraphStore
from crossline.errors import NodeNotFound

T0 = datetime(2027, 3, 8, tzinfo=UTC)
T1 = datetime(2027, 3, 15, tzinfo=UTC)
ENDPOINT = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/credit-prod"
V73, V74 = variant_id(ENDPOINT, "credit-prod-v73"), variant_id(ENDPOINT, "credit-prod-v74")
PKG73 = NodeId("arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-xgb/73")


def node(nid: str, kind: NodeKind = NodeKind.DATASET, source: str = "marquez", **kw: Any) -> Node:
    return Node(NodeId(nid), kind, kw.pop("name", nid), source, **kw)


def edge(src: str, dst: str, kind: EdgeKind = EdgeKind.CONSUMED, source: str = "marquez", **kw: Any) -> Edge:
    return Edge(NodeId(src), NodeId(dst), kind, source, **kw)


BATCH_NODES = [
    node("dataset:s3://credit:train/2027-W10", props={"version": "v1"}),
    node("run:1", NodeKind.RUN, props={"hyperparameters": {"max_depth": 6, "eta": 0.2}}),
    node("variant:v73", NodeKind.ENDPOINT_VARIANT, "sagemaker", valid_from=T0, valid_to=T1),
]
BATCH_EDGES = [
    edge("dataset:s3://credit:train/2027-W10", "run:1"),
    edge("run:1", "variant:v73", EdgeKind.SERVES, "sagemaker", valid_from=T0, valid_to=T1, props={"rule": "r"}),
]
INFERENCES = [
    node(inference_id("credit-prod", "loan-8231"), NodeKind.INFERENCE, "data-capture", name="loan-8231",
         props={"endpoint": "credit-prod"}),
    node(inference_id("credit-prod", "loan-9120"), NodeKind.INFERENCE, "data-capture", name="loan-9120",
         props={"endpoint": "credit-prod"}),
    node(inference_id("credit-test", "loan-8231"), NodeKind.INFERENCE, "data-capture", name="loan-8231",
         props={"endpoint": "credit-test"}),
    node(PKG73, NodeKind.MODEL_PACKAGE, "sagemaker", name="credit-xgb/73"),
    node("dataset:s3://policy:excl-v14.csv", name="excl-v14.csv"),
    node("dataset:s3://policy:excl-v14.csv#etag-1", NodeKind.DATASET_VERSION, name="excl-v14.csv@etag-1"),
    node("dataset:s3://policy:excl-v15.csv", name="excl-v15.csv"),
    node("dataset:s3://policy:excl_v16.csv", name="excl_v16.csv"),  # '_' is a LIKE wildcard: must not match 'excl-'
    node("dataset:S3://POLICY:EXCL-V14.CSV", name="upper"),  # SQLite's LIKE ignores case: must not match
]


@pytest.fixture
def graph(graph_store: GraphStore) -> Graph:
    graph_store.write(BATCH_NODES + INFERENCES, BATCH_EDGES)
    return Graph(graph_store)


def test_reads_filter_and_page(graph: Graph, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "CHUNK", 2)  # pages of two: every loop crosses a page
    assert graph.node(NodeId("run:1")) == Node(
        NodeId("run:1"), NodeKind.RUN, "run:1", "marquez", {"hyperparameters": {"max_depth": 6, "eta": 0.2}}
    )
    assert [n.id for n in graph.nodes()] == sorted(n.id for n in BATCH_NODES + INFERENCES)
    assert [n.id for n in graph.nodes(kind=NodeKind.RUN)] == ["run:1"]
    assert [n.id for n in graph.nodes(ids=["variant:v73", "nope", "run:1"])] == ["run:1", "variant:v73"]
    assert [n.id for n in graph.nodes(kind="run", ids=["variant:v73", "run:1"])] == ["run:1"]
    assert list(graph.edges()) == sorted(BATCH_EDGES, key=lambda e: (e.src, e.kind.value, e.dst))
    assert [e.dst for e in graph.edges(src="run:1")] == ["variant:v73"]
    assert [e.src for e in graph.edges(dst="run:1")] == ["dataset:s3://credit:train/2027-W10"]
    assert [e.kind for e in graph.edges(kinds=[EdgeKind.SERVES])] == [EdgeKind.SERVES]
    assert list(graph.edges(src="run:1", kinds=[EdgeKind.CONSUMED])) == []


def test_an_unknown_node_is_named_in_the_error(graph: Graph) -> None:
    with pytest.raises(NodeNotFound, match="dataset:s3://nowhere:x"):
        graph.node(NodeId("dataset:s3://nowhere:x"))
    assert graph.has_node(NodeId("dataset:s3://nowhere:x")) is False
    assert graph.has_node(NodeId("run:1")) is True


def test_counts_per_node_and_edge_kind(graph_store: GraphStore) -> None:
    assert not {k.value for k in NodeKind} & {k.value for k in EdgeKind}, "kind values must not collide"
    graph = Graph(graph_store)
    assert set(graph.counts().values()) == {0}
    graph_store.write(BATCH_NODES, BATCH_EDGES)
    counts = graph.counts()
    assert {k: v for k, v in counts.items() if v} == {
        "dataset": 1, "run": 1, "endpoint_variant": 1, "consumed": 1, "serves": 1,
    }
    assert set(counts) == {k.value for k in NodeKind} | {k.value for k in EdgeKind}


# -- find, prefixes, prop values -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kinds", "expected"),
    [
        ("loan-8231", [NodeKind.INFERENCE], [inference_id("credit-prod", "loan-8231"), inference_id("credit-test", "loan-8231")]),
        ("loan-9120", None, [inference_id("credit-prod", "loan-9120")]),
        ("credit-xgb/73", [NodeKind.MODEL_PACKAGE, NodeKind.DATASET], [PKG73]),
        ("credit-xgb/73", [NodeKind.INFERENCE], []),
        ("loan-82", None, []),  # names match whole, never in part
        ("LOAN-8231", None, []),
    ],
)
def test_find_matches_the_whole_name(graph: Graph, name: str, kinds: list[NodeKind] | None, expected: list[str]) -> None:
    assert [n.id for n in graph.find(name, kinds=kinds)] == expected


def test_find_uses_the_kind_name_index(graph: Graph) -> None:
    """One indexed statement, not a scan of the kind: the plan names the index."""
    query = sa.select(schema.NODES).where(schema.NODES.c.kind.in_(["inference"]), schema.NODES.c.name == "loan-8231")
    with graph.store.engine.connect() as conn:
        if graph.store.dialect == "sqlite":
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    assert "ix_nodes_kind_name" in plan, plan


@pytest.mark.parametrize(
    ("prefix", "limit", "expected"),
    [
        ("dataset:s3://policy:excl-", 20, ["dataset:s3://policy:excl-v14.csv", "dataset:s3://policy:excl-v14.csv#etag-1",
                                            "dataset:s3://policy:excl-v15.csv"]),
        ("dataset:s3://policy:excl-", 2, ["dataset:s3://policy:excl-v14.csv", "dataset:s3://policy:excl-v14.csv#etag-1"]),
        ("dataset:s3://policy:excl-v14.csv#", 20, ["dataset:s3://policy:excl-v14.csv#etag-1"]),
        ("inference:credit-test/", 20, [inference_id("credit-test", "loan-8231")]),
        ("nothing:", 20, []),
        ("run:1", 0, []),
    ],
)
def test_node_ids_with_prefix(graph: Graph, prefix: str, limit: int, expected: list[str]) -> None:
    assert graph.node_ids_with_prefix(prefix, limit) == expected


def test_prop_values_of_a_kind(graph: Graph) -> None:
    assert graph.prop_values(NodeKind.INFERENCE, "endpoint") == {"credit-prod", "credit-test"}
    assert graph.prop_values(NodeKind.RUN, "endpoint") == set()


# -- steps ---------------------------------------------------------------------------------------
def test_a_step_batches_a_frontier_and_brings_the_nodes_it_reaches(graph_store: GraphStore) -> None:
    graph_store.write(
        [node(PKG73, NodeKind.MODEL_PACKAGE, "sagemaker"),
         node(V73, NodeKind.ENDPOINT_VARIANT, "sagemaker", valid_from=T0, valid_to=T1),
         node("run:1", NodeKind.RUN)],
        [edge(PKG73, V73, EdgeKind.SERVES, "sagemaker", valid_from=T0, valid_to=T1),
         edge(PKG73, V74, EdgeKind.SERVES, "sagemaker", valid_from=T1),  # V74 has no node (yet)
         edge("run:1", PKG73, EdgeKind.PRODUCED)],
    )
    graph = Graph(graph_store)
    hops = graph.step([PKG73, V73], "both")
    # by start, then edge key (src, dst, kind, valid_from)
    assert [(h.start, h.end, h.edge.kind, h.node.kind if h.node else None) for h in hops] == [
        (V73, PKG73, EdgeKind.SERVES, NodeKind.MODEL_PACKAGE),
        (PKG73, V73, EdgeKind.SERVES, NodeKind.ENDPOINT_VARIANT),
        (PKG73, V74, EdgeKind.SERVES, None),
        (PKG73, "run:1", EdgeKind.PRODUCED, NodeKind.RUN),
    ]
    assert all(isinstance(h, Hop) for h in hops)
    assert [h.end for h in graph.step([PKG73], "out", {EdgeKind.SERVES}, as_of=datetime(2027, 3, 12))] == [V73]
    assert [h.end for h in graph.step([PKG73], "out", {EdgeKind.SERVES}, as_of=datetime(2027, 3, 16, tzinfo=UTC))] == [V74]
    assert [h.end for h in graph.step([PKG73], "in")] == ["run:1"]
    assert graph.step([], "both") == [] and graph.step([PKG73], "both", edge_kinds=[]) == []
    with pytest.raises(ValueError):
        graph.step([PKG73], "sideways")  # type: ignore[arg-type]


def test_chained_steps_are_the_steps_one_after_another_in_one_statement(graph_store: GraphStore) -> None:
    graph_store.write(
        [node(PKG73, NodeKind.MODEL_PACKAGE, "sagemaker"),
         node(V73, NodeKind.ENDPOINT_VARIANT, "sagemaker", valid_from=T0, valid_to=T1),
         node("run:1", NodeKind.RUN), node("dataset:s3://credit/train", NodeKind.DATASET)],
        [edge(PKG73, V73, EdgeKind.SERVES, "sagemaker", valid_from=T0, valid_to=T1),
         edge(PKG73, V74, EdgeKind.SERVES, "sagemaker", valid_from=T1),
         edge("run:1", PKG73, EdgeKind.PRODUCED),
         edge("dataset:s3://credit/train", "run:1", EdgeKind.CONSUMED),
         edge("dataset:s3://other", "run:1", EdgeKind.CONSUMED)],
    )
    graph = Graph(graph_store)
    moves = [("in", {EdgeKind.SERVES}), ("in", {EdgeKind.PRODUCED}), ("in", None)]
    statements: list[str] = []
    sa.event.listen(graph_store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for as_of in (None, datetime(2027, 3, 12, tzinfo=UTC), datetime(2027, 3, 16, tzinfo=UTC)):
        statements.clear()
        chained = graph.steps([V73, V74], moves, as_of=as_of)
        assert len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]) == 1
        one_by_one, starts = [], [V73, V74]
        for direction, kinds in moves:
            hops = graph.step(starts, direction, kinds, as_of=as_of)
            one_by_one.append(hops)
            starts = sorted({h.end for h in hops})
        assert chained == one_by_one
    assert [h.end for h in graph.steps([V73, V74], moves)[2]] == ["dataset:s3://credit/train", "dataset:s3://other"]
    assert graph.steps([], moves) == [[], [], []] and graph.steps([V73], [("in", [])]) == [[]]
    with pytest.raises(ValueError):
        graph.steps([PKG73], [("sideways", None)])  # type: ignore[list-item]


def test_a_snapshot_shares_one_connection(graph: Graph) -> None:
    opened: list[object] = []
    sa.event.listen(graph.store.engine, "checkout", lambda *a: opened.append(a))
    with graph.snapshot():
        graph.node(NodeId("run:1"))
        graph.find("loan-8231")
        list(graph.nodes(kind=NodeKind.RUN))
        graph.edges_of(NodeId("run:1"))
    assert len(opened) == 1


# -- the door ------------------------------------------------------------------------------------
def test_graph_open_owns_its_store(store_url: str) -> None:
    with GraphStore.open(store_url) as store:
        store.write(BATCH_NODES, BATCH_EDGES, watermark=("marquez", "w1"))
    with Graph.open(store_url) as graph:
        assert graph.watermarks() == {"marquez": "w1"}
        assert len(graph.dump()["nodes"]) == 3
        engine = graph.store.engine
    assert engine.pool.checkedout() == 0


def test_a_store_made_before_find_gets_its_index(store_url: str) -> None:
    """0001 -> head keeps the data and swaps ix_nodes_kind for ix_nodes_kind_name."""
    old = GraphStore(store_module._engine(store_module._url(store_url)))  # not migrated yet
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert old.schema_revision() == "0001"
    with old.engine.begin() as conn:  # rows as 0001 stored them (today's store writes columns 0001 lacks)
        columns = ("id", "kind", "name", "sources", "props", "valid_from", "valid_to", "first_seen", "last_seen")
        table = sa.table("nodes", *(sa.column(c) for c in columns))
        conn.execute(table.insert(), [
            {"id": n.id, "kind": str(n.kind), "name": n.name, "sources": '["' + n.source + '"]', "props": "{}",
             "valid_from": None, "valid_to": None, "first_seen": "2027-03-01 00:00:00", "last_seen": "2027-03-01 00:00:00"}
            for n in INFERENCES
        ])
    old.close()
    with Graph.open(store_url) as graph:
        assert graph.store.schema_revision() == "0004"
        assert [n.id for n in graph.find("loan-9120")] == [inference_id("credit-prod", "loan-9120")]
        indexes = {i["name"] for i in sa.inspect(graph.store.engine).get_indexes("nodes")}
    assert indexes == {"ix_nodes_kind_name"}
