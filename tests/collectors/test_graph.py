"""Graph queries on SQLite and PostgreSQL, over a small hand-built copy of the scenario's graph.

Two weekly trainings: W10 feature snapshots -> assembly run -> training set (which the
SageMaker artifact is SameAs) -> training job -> model -> package 73 -> variant v73
[03-08, 03-15) -> inference on 03-12; W11 the same up to package 74 -> variant v74
[03-15, open) -> inference on 03-16. Both variants belong to endpoint credit-prod.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from crossline.collectors.graph import Graph
from crossline.collectors.model import (
    FLOW_EDGES,
    Edge,
    EdgeKind,
    Node,
    NodeId,
    NodeKind,
    approval_id,
    commit_id,
    dataset_id,
    dataset_version_id,
    inference_id,
    job_id,
    run_id,
    variant_id,
)
from crossline.collectors.store import GraphStore
from crossline.errors import NodeNotFound, NoPath

K = EdgeKind
ARN = "arn:aws:sagemaker:eu-west-1:123456789012"
MAR08, MAR12, MAR15, MAR16 = (datetime(2027, 3, d, tzinfo=UTC) for d in (8, 12, 15, 16))

ACC, BEH = dataset_id("s3://credit-features/accounts/"), dataset_id("s3://credit-features/behaviour/")
EXCL_DS = dataset_id("s3://policy/excl-v14.csv")
ACC10, BEH10 = dataset_version_id(ACC, "2027-W10"), dataset_version_id(BEH, "2027-W10")
ACC11, BEH11 = dataset_version_id(ACC, "2027-W11"), dataset_version_id(BEH, "2027-W11")
EXCL = dataset_version_id(EXCL_DS, "etag-1")
ASSEMBLE_JOB = job_id("credit", "credit_retraining.assemble")
ASSEMBLE10, ASSEMBLE11 = run_id("assemble-10"), run_id("assemble-11")
TRAINSET10 = dataset_version_id(dataset_id("s3://credit/train/2027-W10/"), "v1")
TRAINSET11 = dataset_version_id(dataset_id("s3://credit/train/2027-W11/"), "v1")
SM_TRAINSET10 = NodeId(f"{ARN}:artifact/train-2027-w10")
TRAIN10, TRAIN11 = NodeId(f"{ARN}:training-job/credit-xgb-2027W10-a3c7"), NodeId(f"{ARN}:training-job/credit-xgb-2027W11-b1d2")
MODEL10, MODEL11 = NodeId(f"{ARN}:artifact/model-w10"), NodeId(f"{ARN}:artifact/model-w11")
PKG73, PKG74 = NodeId(f"{ARN}:model-package/credit-xgb/73"), NodeId(f"{ARN}:model-package/credit-xgb/74")
ENDPOINT = NodeId(f"{ARN}:endpoint/credit-prod")
V73, V74 = variant_id(ENDPOINT, "credit-prod-v73"), variant_id(ENDPOINT, "credit-prod-v74")
I12, I16 = inference_id("credit-prod", "loan-8231"), inference_id("credit-prod", "loan-9100")
A73, A74 = approval_id(PKG73, datetime(2027, 3, 8, 9, 42, tzinfo=UTC)), approval_id(PKG74, MAR15)
COMMIT = commit_id("github.com/acme/credit-ml", "a14f2b9")

KINDS = {
    NodeKind.DATASET: [ACC, BEH, EXCL_DS],
    NodeKind.DATASET_VERSION: [ACC10, BEH10, ACC11, BEH11, EXCL, TRAINSET10, TRAINSET11],
    NodeKind.JOB: [ASSEMBLE_JOB],
    NodeKind.RUN: [ASSEMBLE10, ASSEMBLE11],
    NodeKind.SM_ARTIFACT: [SM_TRAINSET10],
    NodeKind.TRAINING_JOB: [TRAIN10, TRAIN11],
    NodeKind.MODEL: [MODEL10, MODEL11],
    NodeKind.MODEL_PACKAGE: [PKG73, PKG74],
    NodeKind.ENDPOINT: [ENDPOINT],
    NodeKind.APPROVAL: [A73, A74],
    NodeKind.CODE_COMMIT: [COMMIT],
    NodeKind.INFERENCE: [I12, I16],
}
VALIDITY = {V73: (MAR08, MAR15), V74: (MAR15, None)}
NODES = [Node(nid, kind, nid, "test") for kind, ids in KINDS.items() for nid in ids] + [
    Node(v, NodeKind.ENDPOINT_VARIANT, v, "sagemaker", valid_from=f, valid_to=t) for v, (f, t) in VALIDITY.items()
]
SAME_AS = Edge(SM_TRAINSET10, TRAINSET10, K.SAME_AS, "reconcile", {"rule": "same-s3-uri", "evidence": "s3://credit/train/2027-W10/"})
EDGES = [
    *(Edge(src, dst, kind, "test") for src, dst, kind in [
        (ACC10, ASSEMBLE10, K.CONSUMED), (BEH10, ASSEMBLE10, K.CONSUMED), (EXCL, ASSEMBLE10, K.CONSUMED),
        (ASSEMBLE10, TRAINSET10, K.PRODUCED), (SM_TRAINSET10, TRAIN10, K.CONTRIBUTED_TO),
        (TRAIN10, MODEL10, K.SM_PRODUCED), (MODEL10, PKG73, K.CONTRIBUTED_TO), (A73, PKG73, K.APPROVED),
        (V73, I12, K.SERVED), (COMMIT, TRAIN10, K.CODE),
        (ACC11, ASSEMBLE11, K.CONSUMED), (BEH11, ASSEMBLE11, K.CONSUMED), (EXCL, ASSEMBLE11, K.CONSUMED),
        (ASSEMBLE11, TRAINSET11, K.PRODUCED), (TRAINSET11, TRAIN11, K.CONSUMED),
        (TRAIN11, MODEL11, K.SM_PRODUCED), (MODEL11, PKG74, K.CONTRIBUTED_TO), (A74, PKG74, K.APPROVED),
        (V74, I16, K.SERVED), (COMMIT, TRAIN11, K.CODE),
        # structural
        (ASSEMBLE10, ASSEMBLE_JOB, K.RUN_OF), (ASSEMBLE11, ASSEMBLE_JOB, K.RUN_OF),
        (ACC10, ACC, K.VERSION_OF), (ACC11, ACC, K.VERSION_OF), (BEH10, BEH, K.VERSION_OF),
        (BEH11, BEH, K.VERSION_OF), (EXCL, EXCL_DS, K.VERSION_OF),
        (V73, ENDPOINT, K.VARIANT_OF), (V74, ENDPOINT, K.VARIANT_OF),
    ]),
    SAME_AS,
    Edge(PKG73, V73, K.SERVES, "sagemaker", valid_from=MAR08, valid_to=MAR15),
    Edge(PKG74, V74, K.SERVES, "sagemaker", valid_from=MAR15),
]
WEEK10_LINEAGE = {V73, PKG73, A73, MODEL10, TRAIN10, COMMIT, SM_TRAINSET10, TRAINSET10, ASSEMBLE10, ACC10, BEH10, EXCL}
DEPLOYMENT = FLOW_EDGES | {K.VARIANT_OF}


@pytest.fixture
def graph(graph_store: GraphStore) -> Graph:
    graph_store.write(NODES, EDGES)
    return Graph(graph_store)


# -- walks --------------------------------------------------------------------------------------
WALKS: list[tuple[str, str, dict[str, Any], set[NodeId]]] = [
    # (verb, start, options, expected)
    ("ancestors", I12, {}, WEEK10_LINEAGE),
    ("ancestors", I12, {"depth": 1}, {V73}),
    ("ancestors", I12, {"depth": 2}, {V73, PKG73}),
    ("ancestors", I12, {"depth": 3}, {V73, PKG73, MODEL10, A73}),
    ("ancestors", I12, {"depth": 0}, set()),
    ("ancestors", I12, {"node_kinds": {NodeKind.MODEL_PACKAGE}}, {PKG73}),
    ("ancestors", I12, {"node_kinds": {NodeKind.DATASET_VERSION}}, {TRAINSET10, ACC10, BEH10, EXCL}),
    ("ancestors", I12, {"node_kinds": {NodeKind.DATASET_VERSION}, "depth": 6}, {TRAINSET10}),
    ("ancestors", I12, {"node_kinds": {NodeKind.APPROVAL, NodeKind.CODE_COMMIT}}, {A73, COMMIT}),
    # SameAs is crossed along its arrow going up (the artifact is the Marquez training set) ...
    ("ancestors", TRAIN10, {"node_kinds": {NodeKind.DATASET_VERSION}}, {TRAINSET10, ACC10, BEH10, EXCL}),
    ("ancestors", TRAIN10, {"edge_kinds": FLOW_EDGES - {K.SAME_AS}}, {SM_TRAINSET10, COMMIT}),
    ("ancestors", PKG74, {}, {MODEL11, A74, TRAIN11, COMMIT, TRAINSET11, ASSEMBLE11, ACC11, BEH11, EXCL}),
    ("ancestors", ACC10, {}, set()),
    # ... and against it going down.
    ("descendants", ACC10, {}, {ASSEMBLE10, TRAINSET10, SM_TRAINSET10, TRAIN10, MODEL10, PKG73, V73, I12}),
    ("descendants", ACC10, {"depth": 2}, {ASSEMBLE10, TRAINSET10}),
    ("descendants", EXCL, {"node_kinds": {NodeKind.MODEL_PACKAGE}}, {PKG73, PKG74}),
    ("descendants", EXCL, {"node_kinds": {NodeKind.INFERENCE}}, {I12, I16}),
    ("descendants", COMMIT, {"node_kinds": {NodeKind.ENDPOINT_VARIANT}}, {V73, V74}),
    # structural edges are walked only when asked for
    ("descendants", ACC10, {"edge_kinds": {K.VERSION_OF}}, {ACC}),
    ("descendants", V73, {}, {I12}),
    ("descendants", V73, {"edge_kinds": DEPLOYMENT}, {I12, ENDPOINT}),
    ("descendants", ACC10, {"edge_kinds": set()}, set()),
    # as_of: the validity intervals pick the variant that served
    ("ancestors", ENDPOINT, {"edge_kinds": DEPLOYMENT, "node_kinds": {NodeKind.MODEL_PACKAGE}}, {PKG73, PKG74}),
    ("ancestors", ENDPOINT, {"edge_kinds": DEPLOYMENT, "node_kinds": {NodeKind.MODEL_PACKAGE}, "as_of": MAR12}, {PKG73}),
    ("ancestors", ENDPOINT, {"edge_kinds": DEPLOYMENT, "node_kinds": {NodeKind.MODEL_PACKAGE}, "as_of": MAR16}, {PKG74}),
    ("ancestors", ENDPOINT, {"edge_kinds": DEPLOYMENT, "node_kinds": {NodeKind.MODEL_PACKAGE}, "as_of": MAR15}, {PKG74}),
    ("ancestors", ENDPOINT, {"edge_kinds": DEPLOYMENT, "depth": 1, "as_of": datetime(2027, 3, 12)}, {V73}),
    ("ancestors", I12, {"as_of": MAR12}, WEEK10_LINEAGE),
    ("descendants", PKG73, {"as_of": MAR12}, {V73, I12}),
    ("descendants", PKG73, {"as_of": MAR16}, set()),
    ("descendants", EXCL, {"node_kinds": {NodeKind.ENDPOINT_VARIANT}, "as_of": MAR16}, {V74}),
    ("descendants", EXCL, {"node_kinds": {NodeKind.ENDPOINT_VARIANT}, "as_of": datetime(2027, 3, 1, tzinfo=UTC)}, set()),
]


@pytest.mark.parametrize(("verb", "start", "options", "expected"), WALKS)
def test_walks(graph: Graph, verb: str, start: NodeId, options: dict[str, Any], expected: set[NodeId]) -> None:
    assert getattr(graph, verb)(start, **options) == expected


def test_walks_end_on_cycles(graph_store: GraphStore) -> None:
    a, b, c = NodeId("run:a"), NodeId("run:b"), NodeId("run:c")
    graph_store.write(
        [Node(n, NodeKind.RUN, n, "test") for n in (a, b, c)],
        [Edge(a, b, K.PRODUCED, "test"), Edge(b, c, K.PRODUCED, "test"), Edge(c, a, K.PRODUCED, "test"),
         Edge(b, a, K.SAME_AS, "test")],
    )
    graph = Graph(graph_store)
    assert graph.ancestors(a) == {b, c}
    assert graph.descendants(a) == {b, c}
    assert graph.descendants(a, depth=50) == {b, c}
    assert graph.shortest_path(a, c) == [a, b, c]


# -- one step -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("node", "options", "expected"),
    [
        (TRAIN10, {}, {SM_TRAINSET10, COMMIT, MODEL10}),
        (TRAIN10, {"direction": "in"}, {SM_TRAINSET10, COMMIT}),
        (TRAIN10, {"direction": "out"}, {MODEL10}),
        (ASSEMBLE10, {"edge_kinds": {K.RUN_OF}}, {ASSEMBLE_JOB}),
        (ASSEMBLE_JOB, {"direction": "in"}, {ASSEMBLE10, ASSEMBLE11}),
        (ENDPOINT, {"direction": "in"}, {V73, V74}),
        (ENDPOINT, {"direction": "in", "as_of": MAR12}, {V73}),
        (ENDPOINT, {"direction": "in", "as_of": MAR16}, {V74}),
        (PKG73, {"direction": "out", "as_of": MAR16}, set()),
        (SM_TRAINSET10, {"edge_kinds": {K.SAME_AS}}, {TRAINSET10}),
        (TRAINSET10, {"direction": "out", "edge_kinds": {K.SAME_AS}}, set()),  # as stored: SameAs points in
    ],
)
def test_neighbours(graph: Graph, node: NodeId, options: dict[str, Any], expected: set[NodeId]) -> None:
    assert graph.neighbours(node, **options) == expected


def test_edges_of_carry_their_props(graph: Graph) -> None:
    assert graph.edges_of(TRAINSET10, edge_kinds={K.SAME_AS}) == [
        Edge(SM_TRAINSET10, TRAINSET10, K.SAME_AS, "reconcile", {"rule": "same-s3-uri", "evidence": "s3://credit/train/2027-W10/"})
    ]
    served = graph.edges_of(V73, direction="in", as_of=MAR12)
    assert [(e.src, e.kind, e.valid_from, e.valid_to) for e in served] == [(PKG73, K.SERVES, MAR08, MAR15)]
    assert [e.dst for e in graph.edges_of(V73, direction="out")] == [ENDPOINT, I12]  # sorted by key


# -- paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "options", "expected"),
    [
        (ACC10, I12, {}, [ACC10, ASSEMBLE10, TRAINSET10, SM_TRAINSET10, TRAIN10, MODEL10, PKG73, V73, I12]),
        (EXCL, I16, {}, [EXCL, ASSEMBLE11, TRAINSET11, TRAIN11, MODEL11, PKG74, V74, I16]),
        (EXCL, PKG73, {"as_of": MAR16}, [EXCL, ASSEMBLE10, TRAINSET10, SM_TRAINSET10, TRAIN10, MODEL10, PKG73]),
        (I12, A73, {"directed": False}, [I12, V73, PKG73, A73]),
        (I12, I16, {"directed": False}, [I12, V73, PKG73, MODEL10, TRAIN10, COMMIT, TRAIN11, MODEL11, PKG74, V74, I16]),
        (I12, I16, {"directed": False, "edge_kinds": DEPLOYMENT}, [I12, V73, ENDPOINT, V74, I16]),
        (ACC10, ACC10, {}, [ACC10]),
    ],
)
def test_shortest_path(graph: Graph, a: NodeId, b: NodeId, options: dict[str, Any], expected: list[NodeId]) -> None:
    assert graph.shortest_path(a, b, **options) == expected


@pytest.mark.parametrize(
    ("a", "b", "options"),
    [
        (I12, ACC10, {}),  # against the arrows
        (ACC10, I16, {}),  # another week
        (EXCL, I12, {"as_of": MAR16}),  # v73 no longer served
        (I12, I16, {"directed": False, "edge_kinds": DEPLOYMENT, "as_of": MAR12}),
        (ACC10, I12, {"edge_kinds": FLOW_EDGES - {K.SAME_AS}}),
        (ACC10, I12, {"edge_kinds": set()}),
    ],
)
def test_no_path_is_a_named_error(graph: Graph, a: NodeId, b: NodeId, options: dict[str, Any]) -> None:
    with pytest.raises(NoPath, match="no path from"):
        graph.shortest_path(a, b, **options)


# -- impact -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("node", "as_of", "packages", "variants"),
    [
        (ACC10, None, {PKG73}, {V73}),
        (ACC11, None, {PKG74}, {V74}),
        (ACC, None, {PKG73, PKG74}, {V73, V74}),  # a dataset: all its versions
        (EXCL, None, {PKG73, PKG74}, {V73, V74}),
        (EXCL_DS, MAR12, {PKG73, PKG74}, {V73}),
        (EXCL_DS, MAR16, {PKG73, PKG74}, {V74}),
        (TRAINSET10, None, {PKG73}, {V73}),
        (COMMIT, None, {PKG73, PKG74}, {V73, V74}),
    ],
)
def test_impact(graph: Graph, node: NodeId, as_of: datetime | None, packages: set[NodeId], variants: set[NodeId]) -> None:
    assert graph.impact(node, as_of=as_of) == {
        NodeKind.MODEL_PACKAGE: packages,
        NodeKind.ENDPOINT_VARIANT: variants,
        NodeKind.ENDPOINT: {ENDPOINT},
    }


def test_impact_after_the_deployment_ended_reaches_no_endpoint(graph: Graph) -> None:
    assert graph.impact(ACC10, as_of=MAR16) == {
        NodeKind.MODEL_PACKAGE: {PKG73},
        NodeKind.ENDPOINT_VARIANT: set(),
        NodeKind.ENDPOINT: set(),
    }


# -- errors -------------------------------------------------------------------------------------
UNKNOWN = NodeId("dataset:s3://nowhere:nothing")
CALLS: dict[str, Callable[[Graph], object]] = {
    "node": lambda g: g.node(UNKNOWN),
    "ancestors": lambda g: g.ancestors(UNKNOWN),
    "descendants": lambda g: g.descendants(UNKNOWN, depth=2),
    "neighbours": lambda g: g.neighbours(UNKNOWN),
    "edges_of": lambda g: g.edges_of(UNKNOWN),
    "shortest_path from": lambda g: g.shortest_path(UNKNOWN, ACC10),
    "shortest_path to": lambda g: g.shortest_path(ACC10, UNKNOWN),
    "impact": lambda g: g.impact(UNKNOWN),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_an_unknown_node_is_named_in_the_error(graph: Graph, call: Callable[[Graph], object]) -> None:
    with pytest.raises(NodeNotFound, match="dataset:s3://nowhere:nothing"):
        call(graph)


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.ancestors(I12, depth=-1),
        lambda g: g.neighbours(I12, direction="up"),
    ],
    ids=["negative depth", "unknown direction"],
)
def test_bad_arguments_are_value_errors(graph: Graph, call: Callable[[Graph], object]) -> None:
    with pytest.raises(ValueError):
        call(graph)
