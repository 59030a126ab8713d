"""What a user types resolves to the node it names, on the story's collected graph."""

from __future__ import annotations

import pytest

from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.resolve import candidates, resolve
from crossline.collectors.store import GraphStore
from crossline.errors import AmbiguousNode, NodeNotFound


@pytest.fixture(scope="module")
def graph(story_graph) -> Graph:  # type: ignore[no-untyped-def]
    return Graph(story_graph[0])


def _one(graph: Graph, kind: NodeKind) -> Node:
    return next(iter(graph.nodes(kind=kind)))


def test_a_node_id_resolves_to_itself(graph: Graph) -> None:
    package = _one(graph, NodeKind.MODEL_PACKAGE)
    assert resolve(graph, package.id) == package.id


@pytest.mark.parametrize("typed", ["s3://credit/train/2027-W10/", "s3://credit/train/2027-W10", "s3a://credit/train/2027-W10/"])
def test_an_s3_uri_resolves_through_the_naming_function(graph: Graph, typed: str) -> None:
    assert resolve(graph, typed) == "dataset:s3://credit:train/2027-W10"


def test_an_s3_uri_with_a_version_is_that_content_version(graph: Graph) -> None:
    version = next(n for n in graph.nodes(kind=NodeKind.DATASET_VERSION) if n.props.get("name") == "train/2027-W10")
    assert resolve(graph, f"s3://credit/train/2027-W10/@{version.props['version']}") == version.id
    assert resolve(graph, f"s3://credit/train/2027-W10#{version.props['version']}") == version.id


def test_a_package_by_arn_and_by_group_version(graph: Graph) -> None:
    package = next(n for n in graph.nodes(kind=NodeKind.MODEL_PACKAGE) if n.name == "credit-xgb/73")
    assert resolve(graph, "credit-xgb/73") == package.id
    assert resolve(graph, package.id, kinds=[NodeKind.MODEL_PACKAGE]) == package.id


def test_a_feature_group_and_its_snapshot_version(graph: Graph) -> None:
    group = resolve(graph, "accounts")
    assert graph.node(group).kind is NodeKind.FEATURE_GROUP
    snapshot = resolve(graph, "accounts@2027-W10")
    assert graph.node(snapshot).kind is NodeKind.DATASET_VERSION
    assert snapshot.startswith("dataset:s3://credit-features:accounts/2027-W10#")


def test_a_commit_by_short_sha_and_an_inference_by_id(graph: Graph) -> None:
    assert resolve(graph, "a14f2b9").startswith("commit:") and resolve(graph, "a14f2b9").endswith("@a14f2b9")
    assert graph.node(resolve(graph, "loan-8231")).kind is NodeKind.INFERENCE


def test_a_typo_is_not_found_never_the_nearest_name(graph: Graph) -> None:
    with pytest.raises(NodeNotFound, match="nothing in the graph is named 'loan-823'"):
        resolve(graph, "loan-823")
    assert candidates(graph, "credit-xgb/99") == []  # the registry holds versions 1 to 74


def test_kinds_restrict_the_answer(graph: Graph) -> None:
    with pytest.raises(NodeNotFound, match="of kind model_package"):
        resolve(graph, "loan-8231", kinds=[NodeKind.MODEL_PACKAGE])


def test_ambiguity_names_the_candidates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with GraphStore.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        store.write([Node(NodeId("job:ns-a:train"), NodeKind.JOB, "train", "t"),
                     Node(NodeId("job:ns-b:train"), NodeKind.JOB, "train", "t")], [])
        with pytest.raises(AmbiguousNode) as raised:
            resolve(Graph(store), "train")
    assert raised.value.candidates == ["job:ns-a:train", "job:ns-b:train"]
    assert "job:ns-a:train, job:ns-b:train" in str(raised.value)


def test_a_glue_table_by_database_and_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    table = NodeId("dataset:arn:aws:glue:eu-west-1:210987654321:table/fraud/txns")
    with GraphStore.open(f"sqlite:///{tmp_path / 'g.db'}") as store:
        store.write([Node(table, NodeKind.DATASET, "table/fraud/txns", "t")],
                    [Edge(table, NodeId("run:x"), EdgeKind.CONSUMED, "t")])
        graph = Graph(store)
        assert resolve(graph, "fraud.txns") == table
        assert resolve(graph, "fraud/txns") == table
        assert resolve(graph, "arn:aws:glue:eu-west-1:210987654321:table/fraud/txns") == table
