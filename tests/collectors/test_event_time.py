"""Event time, the named cases (DESIGN.md decision 3), on SQLite and PostgreSQL.

Each case delivers the same facts in two ways, as at-least-once delivery does (replays,
re-reads, resumed collections, two systems), and checks that the stored graph, after
reconciliation, is the same canonical dump, and that it says what the newest facts say.
Events are built by crossline's own emitters (the approval emitter, the SageMaker facet
builders) and serialized by the OpenLineage client; SageMaker-side records are built as
the SageMaker source writes them. The story's real records, in any order, are the
property test's (test_event_time_invariant.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.serde import Serde

from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, approval_id, dataset_id, variant_id
from crossline.collectors.openlineage import MODEL_PACKAGE_FACET, facet, records_from_event
from crossline.collectors.reconcile import reconcile
from crossline.collectors.sources import Batch, Source
from crossline.collectors.sources.openlineage_file import OpenLineageFileSource
from crossline.collectors.store import GraphStore
from crossline.emitters import approval, sagemaker
from crossline.emitters.producer import PRODUCER
from crossline.times import stamp

ACCOUNT = "123456789012"
SM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
PACKAGE = f"{SM}:model-package/credit-xgb/73"
ENDPOINT = f"{SM}:endpoint/credit-prod"
RISK_OPS = f"arn:aws:sts::{ACCOUNT}:assumed-role/risk-ops/risk-ops@company.com"
REGISTERED = datetime(2027, 3, 6, 4, 0, tzinfo=UTC)
DECIDED = datetime(2027, 3, 8, 9, 42, tzinfo=UTC)
DEPLOYED = datetime(2027, 3, 8, 10, 0, tzinfo=UTC)


def describe(status: str, at: datetime) -> dict[str, Any]:
    """DescribeModelPackage as boto3 returns it after ``status`` was set at ``at``."""
    return {
        "ModelPackageArn": PACKAGE, "ModelPackageGroupName": "credit-xgb", "ModelPackageVersion": 73,
        "ModelApprovalStatus": status, "CreationTime": REGISTERED, "LastModifiedTime": at,
        "LastModifiedBy": {"IamIdentity": {"Arn": RISK_OPS}}, "ApprovalDescription": "ticket MR-311",
        "InferenceSpecification": {"Containers": [{"Image": "xgboost:1.7-1",
                                                   "ModelDataUrl": "s3://credit/models/a3c7/output/model.tar.gz"}]},
    }


def as_json(event: RunEvent) -> dict[str, Any]:
    return json.loads(Serde.to_json(event))


def registration_event() -> dict[str, Any]:
    """The register task's COMPLETE: the package dataset, PendingManualApproval."""
    return as_json(RunEvent(
        eventType=RunState.COMPLETE, eventTime=stamp(REGISTERED),
        run=Run(runId="0190a8f4-0000-7000-8000-0000000000a1"),
        job=Job(namespace="credit", name="credit_retraining.register_model"),
        outputs=[sagemaker.model_package_dataset(describe("PendingManualApproval", REGISTERED))], producer=PRODUCER,
    ))


def approval_event(status: str = "Approved", at: datetime = DECIDED) -> dict[str, Any]:
    """What the approval emitter sends for EventBridge's state change (its real code)."""
    bridge = {"id": f"evt-{status}", "detail-type": approval.DETAIL_TYPE, "detail": {"ModelPackageArn": PACKAGE}}
    return as_json(approval.approval_event(bridge, describe(status, at), "credit"))


def sagemaker_records(at: datetime = DECIDED) -> tuple[list[Node], list[Edge]]:
    """The registry's records of the same decision, as the SageMaker source writes them."""
    decision = approval_id(PACKAGE, at)
    props = {"status": "Approved", "approver": "risk-ops@company.com", "approverArn": RISK_OPS, "package": PACKAGE,
             "time": stamp(at), "action": f"{SM}:action/credit-xgb-73-approval"}
    package = Node(NodeId(PACKAGE), NodeKind.MODEL_PACKAGE, "credit-xgb/73", "sagemaker",
                   {"group": "credit-xgb", "version": 73, "status": "Approved", "lastModifiedTime": stamp(at)}, at=at)
    return ([package, Node(decision, NodeKind.APPROVAL, "credit-xgb/73 Approved", "sagemaker", props, valid_from=at)],
            [Edge(decision, NodeId(PACKAGE), EdgeKind.APPROVED, "sagemaker", {"status": "Approved"}, valid_from=at)])


def deployment_event(at: datetime) -> dict[str, Any]:
    endpoint = {"EndpointName": "credit-prod", "EndpointArn": ENDPOINT, "LastModifiedTime": at}
    config = {"EndpointConfigName": "credit-prod-v73",
              "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "credit-xgb-73"}]}
    models = {"credit-xgb-73": {"PrimaryContainer": {"ModelPackageName": PACKAGE}}}
    [deployed] = sagemaker.deployment_facets(endpoint, config, models)
    return as_json(RunEvent(eventType=RunState.COMPLETE, eventTime=stamp(at),
                            run=Run(runId="0190a8f4-0000-7000-8000-0000000000d1", facets={deployed.KEY: deployed}),
                            job=Job(namespace="credit", name="credit_retraining.deploy"), producer=PRODUCER))


def converted(*events: dict[str, Any]) -> list[tuple[list[Node], list[Edge]]]:
    return [records_from_event(e, source="openlineage-file") for e in events]


@pytest.fixture
def fresh(store_url: str) -> Iterator[Any]:
    """Stores on this backend, each empty: ``fresh()`` opens the next one."""
    opened: list[GraphStore] = []

    def make() -> GraphStore:
        if opened:  # one database per backend: start it over
            opened[-1].close()
            with GraphStore.open(store_url) as old, old.engine.begin() as conn:
                for table in ("edges", "nodes", "watermarks"):
                    conn.exec_driver_sql(f"DELETE FROM {table}")
        opened.append(GraphStore.open(store_url))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def delivered(store: GraphStore, *batches: tuple[list[Node], list[Edge]]) -> dict[str, Any]:
    for nodes, edges in batches:
        store.write(nodes, edges)
    reconcile(store)
    return Graph(store).dump()


def test_an_older_complete_after_a_newer_one_changes_nothing(fresh: Any) -> None:
    registered, approved = converted(registration_event(), approval_event())
    in_order = delivered(fresh(), registered, approved)
    late = delivered(fresh(), approved, registered)
    assert late == in_order
    with GraphStore.open("sqlite://") as store:
        delivered(store, approved, registered)
        package = Graph(store).node(dataset_id(PACKAGE))
    assert (facet(package, MODEL_PACKAGE_FACET) or {})["approvalStatus"] == "Approved"


def test_a_duplicated_approval_is_one_decision(fresh: Any) -> None:
    [event] = converted(approval_event())
    sm = sagemaker_records(DECIDED + timedelta(milliseconds=300))
    once = delivered(fresh(), sm, event)
    twice = delivered(fresh(), event, sm, event, event, sm)
    assert twice == once
    decisions = [n for n in once["nodes"] if n["kind"] == "approval"]
    assert len(decisions) == 2  # one record per system ...
    assert {n["derived"]["decision"]["at"] for n in decisions} == {stamp(DECIDED + timedelta(milliseconds=300)).replace("+00:00", "Z")}
    assert all(n["derived"]["decision"]["systems"] == ["sagemaker", "openlineage"] for n in decisions)  # ... one decision


def test_two_sources_reporting_one_deployment_at_slightly_different_times(fresh: Any) -> None:
    later = DEPLOYED + timedelta(days=7)
    ol_first, ol_next = converted(deployment_event(DEPLOYED + timedelta(seconds=90)), deployment_event(later))
    variant = variant_id(ENDPOINT, "AllTraffic")
    sm = ([], [Edge(NodeId(PACKAGE), variant, EdgeKind.SERVES, "sagemaker", {"deploymentAction": "a1"}, valid_from=DEPLOYED),
               Edge(NodeId(PACKAGE), variant, EdgeKind.SERVES, "sagemaker", {"deploymentAction": "a2"}, valid_from=later)])
    one = delivered(fresh(), sm, ol_first, ol_next)
    other = delivered(fresh(), ol_next, ol_first, sm)
    assert one == other
    serves = {(e["src"], e["valid_from"]): e for e in one["edges"] if e["kind"] == "serves"}
    ol = serves[(dataset_id(PACKAGE), stamp(DEPLOYED + timedelta(seconds=90)))]
    assert ol["valid_to"] == stamp(later)  # replaced by the next deployment, as SageMaker's record of it was
    [same] = ol["derived"]["sameDeployment"]
    assert same["system"] == "sagemaker" and same["deltaSeconds"] == 90


class _Crashing(Source):
    """The openlineage-file source, killed after its first batch once."""

    kind = "crashing"

    def __init__(self, inner: OpenLineageFileSource) -> None:
        super().__init__(inner.name)
        self.inner = inner

    def read(self, since: str | None) -> Iterator[Batch]:
        for number, batch in enumerate(self.inner.read(since)):
            if number == 1:
                raise KeyboardInterrupt("killed mid-collection")
            yield batch


def test_a_resumed_collection_that_rereads_a_batch(fresh: Any, tmp_path: Path) -> None:
    events = [registration_event(), approval_event("Approved"), deployment_event(DEPLOYED),
              approval_event("Rejected", DECIDED + timedelta(days=2)), deployment_event(DEPLOYED + timedelta(days=3))]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    config = {"paths": [str(path)], "batch_size": 2}

    straight = fresh()
    collect(straight, [OpenLineageFileSource.from_config(config)])
    expected = Graph(straight).dump()

    resumed = fresh()
    with pytest.raises(KeyboardInterrupt):
        collect(resumed, [_Crashing(OpenLineageFileSource.from_config(config))])
    collect(resumed, [OpenLineageFileSource.from_config(config)])
    assert Graph(resumed).dump() == expected
    # the watermark lost (a crash before it was stored): everything is read again
    resumed.write([], [], watermark=("openlineage-file", None))
    collect(resumed, [OpenLineageFileSource.from_config(config)])
    assert Graph(resumed).dump() == expected
    approvals = sorted((n for n in expected["nodes"] if n["kind"] == "approval"), key=lambda n: n["valid_from"])
    assert [n["props"]["status"] for n in approvals] == ["Approved", "Rejected"]
    assert approvals[0]["valid_to"] == approvals[1]["valid_from"]  # approved until revoked
