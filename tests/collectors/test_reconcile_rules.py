"""Reconciliation's rules on small hand-made graphs: each link with its rule and evidence, each miss with its keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline.collectors.graph import Graph
from crossline.collectors.model import (
    Edge, EdgeKind, Node, NodeId, NodeKind, approval_id, dataset_id, dataset_version_id, mlflow_model_id, mlflow_run_id,
)
from crossline.collectors.reconcile import reconcile, unmatched
from crossline.collectors.store import GraphStore

SM = "arn:aws:sagemaker:eu-west-1:210987654321"
ARTIFACT = NodeId(f"{SM}:artifact/a1")
TABLE = dataset_id("arn:aws:glue:eu-west-1:210987654321:table/db/t")
LOCATION = dataset_id("s3://bucket/data/")
PACKAGE = NodeId(f"{SM}:model-package/g/3")
OTHER_PACKAGE = NodeId(f"{SM}:model-package/g/2")
JOB = NodeId(f"{SM}:training-job/Train-Job-1")
RUN = mlflow_run_id("r1")
GROUP = dataset_id(f"{SM}:feature-group/accounts")
AT = datetime(2027, 4, 9, 14, 5, tzinfo=UTC)


def node(node_id: str, kind: NodeKind, label: str, source: str, **props) -> Node:  # type: ignore[no-untyped-def]
    return Node(NodeId(node_id), kind, label, source, props)


def records(with_location: bool) -> tuple[list[Node], list[Edge]]:
    version = dataset_version_id(dataset_id("s3://other/x"), "v1")
    snapshot = dataset_version_id(dataset_id("s3://fs/offline/accounts/data/year=2027"), "v9")
    nodes = [
        node(ARTIFACT, NodeKind.SM_ARTIFACT, "a1", "sagemaker", SourceUri="s3://bucket/data/", ArtifactType="DataSet"),
        node(TABLE, NodeKind.DATASET, "table/db/t", "glue-catalog", aliases=[LOCATION]),
        node(version, NodeKind.DATASET_VERSION, "x@v1", "openlineage-file", namespace="s3://other", name="x", aliases=[LOCATION]),
        node(JOB, NodeKind.TRAINING_JOB, "Train-Job-1", "sagemaker"),
        node(RUN, NodeKind.MLFLOW_RUN, "train", "mlflow", runId="r1", tags={"sagemaker.training_job_name": "train-job-1"}),
        node(mlflow_model_id("m", "fraud", 1), NodeKind.MLFLOW_MODEL_VERSION, "fraud/1", "mlflow", runId="r1",
             tags={"sagemaker.model_package_arn": PACKAGE}),
        node(PACKAGE, NodeKind.MODEL_PACKAGE, "g/3", "sagemaker", status="Approved",
             customerMetadata={"mlflow.run_id": "r1", "mlflow.model_version": "fraud/1"}),
        node(OTHER_PACKAGE, NodeKind.MODEL_PACKAGE, "g/2", "sagemaker", status="Rejected",
             customerMetadata={"mlflow.run_id": "gone"}),
        node(GROUP, NodeKind.FEATURE_GROUP, "accounts", "feature-store", offlineStoreUri="s3://fs/offline/accounts/data"),
        node(snapshot, NodeKind.DATASET_VERSION, "snap", "openlineage-file", namespace="s3://fs", name="offline/accounts/data/year=2027"),
        node(approval_id(PACKAGE, AT), NodeKind.APPROVAL, "g/3 Approved", "sagemaker", status="Approved",
             package=PACKAGE, time="2027-04-09T14:05:00+00:00", action=f"{SM}:action/ap"),
        node("manual:log/A1", NodeKind.MANUAL_FACT, "A1", "manual", recordId="A1", fact="model_approval", value="Approved",
             subjectId=PACKAGE, decidedAt="2027-04-09T13:30:00+00:00", recordedBy="a@x", recordedAt="2027-04-09T16:20:00+00:00"),
        node("manual:log/A2", NodeKind.MANUAL_FACT, "A2", "manual", recordId="A2", fact="model_approval", value="Approved",
             subjectId=OTHER_PACKAGE, decidedAt="2027-03-30T15:00:00+00:00"),
        node("manual:log/A3", NodeKind.MANUAL_FACT, "A3", "manual", recordId="A3", fact="exclusion_list_approval",
             value="Approved", subjectId=LOCATION, subject="s3://bucket/data/"),
    ]
    if with_location:
        nodes.append(node(LOCATION, NodeKind.DATASET, "data", "openlineage-file", namespace="s3://bucket", name="data"))
    return nodes, []


@pytest.fixture(params=[False, True], ids=["location-unseen", "location-seen"])
def reconciled(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    store = GraphStore.open(f"sqlite:///{tmp_path / 'g.db'}")
    store.write(*records(request.param))
    report = reconcile(store)
    yield store, report, request.param
    store.close()


def links(store: GraphStore, src: str, kind: EdgeKind) -> dict[str, dict]:
    return {e.dst: e.props for e in Graph(store).edges(src=src, kinds=[kind])}


def test_symlinks_of_tables_and_dataset_versions_reach_the_artifact_whether_or_not_the_location_was_seen(reconciled) -> None:
    store, _, seen = reconciled
    table = links(store, TABLE, EdgeKind.SAME_AS)
    assert table[ARTIFACT]["rule"] == "symlinks"
    assert table[ARTIFACT]["evidence"] == {"alias": LOCATION, "SourceUri": "s3://bucket/data/", "artifact": ARTIFACT}
    assert (LOCATION in table) is seen
    version = links(store, dataset_version_id(dataset_id("s3://other/x"), "v1"), EdgeKind.SAME_AS)
    assert version[ARTIFACT]["rule"] == "symlinks"  # aliases on dataset versions count


def test_mlflow_runs_versions_jobs_and_packages_that_name_each_other(reconciled) -> None:
    store, report, _ = reconciled
    assert links(store, RUN, EdgeKind.SAME_AS)[JOB] == {
        "rule": "mlflow:training-job-tag",
        "evidence": {"tag": "sagemaker.training_job_name", "value": "train-job-1", "run": RUN}}
    assert links(store, RUN, EdgeKind.CONTRIBUTED_TO)[PACKAGE]["rule"] == "mlflow:package-metadata"
    same = links(store, mlflow_model_id("m", "fraud", 1), EdgeKind.SAME_AS)[PACKAGE]
    # named both ways (a version tag and the package's metadata): one edge, both rules
    assert same["rule"] == "mlflow:version-tag"
    assert [c["rule"] for c in same["corroboratedBy"]] == ["mlflow:package-metadata"]
    (entry,) = [e for e in report.entries if e.id == OTHER_PACKAGE]
    assert ("mlflow:package-metadata", "CustomerMetadataProperties mlflow.run_id=gone", "mlflow-run:gone") in {
        (t.rule, t.key, t.looked_for) for t in entry.tried}


def test_what_lies_under_a_feature_groups_offline_store_is_the_groups(reconciled) -> None:
    store, _, _ = reconciled
    found = links(store, GROUP, EdgeKind.CONTRIBUTED_TO)
    snapshot = dataset_version_id(dataset_id("s3://fs/offline/accounts/data/year=2027"), "v9")
    assert found[snapshot]["rule"] == "feature-store:offline-prefix"
    assert found[snapshot]["evidence"]["offlineStoreUri"] == "s3://fs/offline/accounts/data"


def test_manual_approvals_are_corroborated_or_lose_to_the_system_with_a_conflict(reconciled) -> None:
    store, report, _ = reconciled
    corroborated = links(store, "manual:log/A1", EdgeKind.SAME_AS)
    assert corroborated[approval_id(PACKAGE, AT)]["rule"] == "manual:approval"
    assert corroborated[approval_id(PACKAGE, AT)]["evidence"]["recordedBy"] == "a@x"
    assert links(store, "manual:log/A2", EdgeKind.SAME_AS) == {}
    (conflict,) = report.conflicts
    assert (conflict["record"], conflict["manual"], conflict["system"]) == ("A2", "Approved", "Rejected")
    assert links(store, "manual:log/A3", EdgeKind.RECORDS)[ARTIFACT]["rule"] == "manual:subject-location"


def test_reconciling_again_writes_nothing_new_and_unmatched_lists_the_same(reconciled) -> None:
    store, report, _ = reconciled
    before = Graph(store).dump()
    again = reconcile(store)
    assert Graph(store).dump() == before
    assert again.links == report.links
    assert [(u.id, [t.key for t in u.tried]) for u in unmatched(Graph(store))] == [
        (u.id, [t.key for t in u.tried]) for u in report.entries]


@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.randoms(use_true_random=False), split=st.integers(min_value=0, max_value=15))
def test_the_links_do_not_depend_on_the_order_records_arrive_in(tmp_path_factory: pytest.TempPathFactory, order, split: int) -> None:  # type: ignore[no-untyped-def]
    nodes, _ = records(with_location=True)
    shuffled = list(nodes)
    order.shuffle(shuffled)
    dumps = []
    for batches in ([nodes], [shuffled[:split], shuffled[split:]]):
        with GraphStore.open(f"sqlite:///{tmp_path_factory.mktemp('order') / 'g.db'}") as store:
            for batch in batches:
                store.write(batch, [])
                reconcile(store)  # reconciling in between, as collections do, changes nothing in the end
            dumps.append([e for e in Graph(store).dump()["edges"] if e["sources"] == ["reconcile"]])
    assert dumps[0] == dumps[1]
