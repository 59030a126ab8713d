"""The OpenLineage converter: each facet gives its nodes and edges; bad events are warnings.

Events are built with the OpenLineage client's classes and crossline's facets, then
serialized the way a transport sends them, so the converter reads real JSON. The golden
file pins the records of one scenario-shaped training event; regenerate it after an
intended change with ``CROSSLINE_REGEN_GOLDEN=1`` and read the diff.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import nominal_time_run, parent_run, symlinks_dataset
from openlineage.client.serde import Serde

from crossline.collectors.model import (
    EdgeKind,
    NodeKind,
    approval_id,
    commit_id,
    dataset_id,
    dataset_version_id,
    job_id,
    run_id,
    variant_id,
)
from crossline.collectors.openlineage import ConversionReport, records_from_event
from crossline.times import parse
from crossline.emitters.facets import (
    CrosslineApprovalRunFacet,
    CrosslineDeploymentRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineHyperparametersRunFacet,
    CrosslineMetric,
    CrosslineMetricsRunFacet,
    CrosslineModelPackageDatasetFacet,
    CrosslineSagemakerJobRunFacet,
    code_location,
    content_version,
)

GOLDEN = Path(__file__).parent / "golden"
PRODUCER = "https://github.com/crossline/crossline/tree/0.1.0/tests"
SM = "arn:aws:sagemaker:eu-west-1:123456789012"
PACKAGE_ARN = f"{SM}:model-package/credit-xgb/73"
ENDPOINT_ARN = f"{SM}:endpoint/credit-prod"
FG_ARN = f"{SM}:feature-group/accounts"
RUN = "0190a8f4-7d3c-7c1a-9b1e-2f6c0a5d8e11"
PARENT = "0190a8f4-0000-7000-8000-000000000001"
T = "2027-03-06T03:14:00+00:00"


def event(
    *,
    state: RunState = RunState.COMPLETE,
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
    inputs: list[InputDataset] | None = None,
    outputs: list[OutputDataset] | None = None,
    run: str = RUN,
    job: str = "credit_retraining.train",
    when: str = T,
) -> dict[str, Any]:
    """A RunEvent as JSON, serialized by the OpenLineage client."""
    built = RunEvent(
        eventType=state,
        eventTime=when,
        run=Run(runId=run, facets=run_facets or {}),
        job=Job(namespace="crossline", name=job, facets=job_facets or {}),
        inputs=inputs or [],
        outputs=outputs or [],
        producer=PRODUCER,
    )
    return json.loads(Serde.to_json(built))


def kinds(records: tuple[list, list]) -> tuple[set, set]:
    nodes, edges = records
    return {(n.kind, n.id) for n in nodes}, {(e.kind, e.src, e.dst) for e in edges}


def node(records: tuple[list, list], node_id: str) -> Any:
    (found,) = [n for n in records[0] if n.id == node_id]
    return found


RUN_ID, JOB_ID = run_id(RUN), job_id("crossline", "credit_retraining.train")
TRAIN = dataset_id("s3://credit", "train/2027-W10")
TRAIN_V = dataset_version_id(TRAIN, "v-train-1")
FEATURES = dataset_id("s3://credit-features", "accounts/2027-W10")
FEATURES_V = dataset_version_id(FEATURES, "sha256:abc")
PACKAGE = dataset_id(PACKAGE_ARN)
DECIDED = datetime(2027, 3, 8, 9, 42, tzinfo=UTC)
DEPLOYED = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)

snapshot_facet = CrosslineFeatureSnapshotDatasetFacet(
    featureGroupName="accounts", version="2027-W10",
    offlineStoreUri="s3://credit-features/accounts/2027-W10/", featureGroupArn=FG_ARN,
)
approval_facet = CrosslineApprovalRunFacet(
    modelPackageArn=PACKAGE_ARN, status="Approved", decisionTime="2027-03-08T09:42:00Z",
    approverUserProfileName="risk-ops@company.com", description="AUC above bar",
    sourceEventId="evt-1", sourceEventType="SageMaker Model Package State Change",
)
deployment_facet = CrosslineDeploymentRunFacet(
    endpointName="credit-prod", endpointArn=ENDPOINT_ARN, variantName="credit-prod-v73",
    modelName="credit-xgb-73", deployedTime="2027-03-08T12:00:00Z", modelPackageArn=PACKAGE_ARN,
)
variant = variant_id(ENDPOINT_ARN, "credit-prod-v73")

# (case, event, node (kind, id) expected, edge (kind, src, dst) expected)
CASES = [
    ("run and job", event(), {(NodeKind.RUN, RUN_ID), (NodeKind.JOB, JOB_ID)},
     {(EdgeKind.RUN_OF, RUN_ID, JOB_ID)}),
    ("parent", event(run_facets={"parent": parent_run.ParentRunFacet(
        run=parent_run.Run(runId=PARENT), job=parent_run.Job(namespace="crossline", name="credit_retraining"))}),
     {(NodeKind.RUN, run_id(PARENT)), (NodeKind.JOB, job_id("crossline", "credit_retraining"))},
     {(EdgeKind.PARENT, run_id(PARENT), RUN_ID), (EdgeKind.RUN_OF, run_id(PARENT), job_id("crossline", "credit_retraining"))}),
    ("unversioned input", event(inputs=[InputDataset("s3://credit", "train/2027-W10")]),
     {(NodeKind.DATASET, TRAIN)}, {(EdgeKind.CONSUMED, TRAIN, RUN_ID)}),
    ("versioned input", event(inputs=[InputDataset("s3://credit", "train/2027-W10",
                                                   facets={"version": content_version("v-train-1", None)})]),
     {(NodeKind.DATASET, TRAIN), (NodeKind.DATASET_VERSION, TRAIN_V)},
     {(EdgeKind.CONSUMED, TRAIN_V, RUN_ID), (EdgeKind.VERSION_OF, TRAIN_V, TRAIN)}),
    ("versioned output", event(outputs=[OutputDataset("s3://credit", "train/2027-W10",
                                                      facets={"version": content_version("v-train-1", None)})]),
     {(NodeKind.DATASET_VERSION, TRAIN_V)},
     {(EdgeKind.PRODUCED, RUN_ID, TRAIN_V), (EdgeKind.VERSION_OF, TRAIN_V, TRAIN)}),
    ("feature snapshot", event(outputs=[OutputDataset("s3://credit-features", "accounts/2027-W10", facets={
        "version": content_version(None, "sha256:abc"), snapshot_facet.KEY: snapshot_facet})]),
     {(NodeKind.FEATURE_GROUP, dataset_id(FG_ARN)), (NodeKind.DATASET_VERSION, FEATURES_V)},
     {(EdgeKind.CONTRIBUTED_TO, dataset_id(FG_ARN), FEATURES_V), (EdgeKind.PRODUCED, RUN_ID, FEATURES_V)}),
    ("code commit", event(job_facets={"sourceCodeLocation": code_location("github.com/acme/credit-ml", "a14f2b9")}),
     {(NodeKind.CODE_COMMIT, commit_id("https://github.com/acme/credit-ml", "a14f2b9"))},
     {(EdgeKind.CODE, commit_id("https://github.com/acme/credit-ml", "a14f2b9"), RUN_ID)}),
    ("approval", event(run_facets={approval_facet.KEY: approval_facet}),
     {(NodeKind.APPROVAL, approval_id(PACKAGE_ARN, DECIDED, system="openlineage")), (NodeKind.DATASET, PACKAGE)},
     {(EdgeKind.APPROVED, approval_id(PACKAGE_ARN, DECIDED, system="openlineage"), PACKAGE)}),
    ("deployment", event(run_facets={deployment_facet.KEY: deployment_facet}),
     {(NodeKind.ENDPOINT_VARIANT, variant), (NodeKind.ENDPOINT, ENDPOINT_ARN), (NodeKind.DATASET, PACKAGE)},
     {(EdgeKind.SERVES, PACKAGE, variant), (EdgeKind.VARIANT_OF, variant, ENDPOINT_ARN)}),
]


@pytest.mark.parametrize(("case", "ev", "want_nodes", "want_edges"), CASES, ids=[c[0] for c in CASES])
def test_each_facet_gives_its_records(case: str, ev: dict, want_nodes: set, want_edges: set) -> None:
    report = ConversionReport()
    got_nodes, got_edges = kinds(records_from_event(ev, source="openlineage-file", report=report))
    assert want_nodes <= got_nodes
    assert want_edges <= got_edges
    assert report.warnings == []


def test_run_props_keep_facets_times_and_the_sagemaker_arn() -> None:
    job = CrosslineSagemakerJobRunFacet(arn=f"{SM}:training-job/credit-xgb-2027w10-a3c7",
                                        name="credit-xgb-2027W10-a3c7", kind="training")
    hyper = CrosslineHyperparametersRunFacet(hyperparameters={"max_depth": "6", "eta": "0.2"})
    ev = event(run_facets={
        job.KEY: job, hyper.KEY: hyper,
        "nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime="2027-03-06T00:00:00Z"),
    })
    props = node(records_from_event(ev), RUN_ID).props
    assert props["sagemakerArn"] == f"{SM}:training-job/credit-xgb-2027w10-a3c7"
    assert props["sagemakerJobKind"] == "training"
    assert props["facets.crossline_hyperparameters"]["hyperparameters"] == {"max_depth": "6", "eta": "0.2"}
    assert props["facets.crossline_sagemakerJob"]["_schemaURL"].endswith("CrosslineSagemakerJobRunFacet")
    assert props["nominalStartTime"] == "2027-03-06T00:00:00Z"
    assert (props["state"], props["endedAt"], props["eventTimes.COMPLETE"]) == ("COMPLETE", "2027-03-06T03:14:00Z",
                                                                                "2027-03-06T03:14:00Z")
    # No SameAs here: linking the run to SageMaker's job is reconciliation's job.
    assert not [e for e in records_from_event(ev)[1] if e.kind == EdgeKind.SAME_AS]


def test_start_and_complete_props_merge_without_clobbering() -> None:
    start = node(records_from_event(event(state=RunState.START, when="2027-03-06T03:00:00Z")), RUN_ID).props
    complete = node(records_from_event(event()), RUN_ID).props
    # The store merges by key in whatever order it reads: either order keeps both times
    # and the terminal state.
    for merged in ({**start, **complete}, {**complete, **start}):
        assert merged["startedAt"] == "2027-03-06T03:00:00Z"
        assert merged["endedAt"] == "2027-03-06T03:14:00Z"
        assert merged["state"] == "COMPLETE"


def test_outputs_of_a_start_event_are_not_produced_yet() -> None:
    ev = event(state=RunState.START, outputs=[OutputDataset("s3://credit", "train/2027-W10")])
    nodes, edges = kinds(records_from_event(ev))
    assert (NodeKind.DATASET, TRAIN) in nodes
    assert not [e for e in edges if e[0] == EdgeKind.PRODUCED]


def test_approval_and_deployment_carry_their_time_and_who() -> None:
    nodes, edges = records_from_event(event(run_facets={approval_facet.KEY: approval_facet,
                                                        deployment_facet.KEY: deployment_facet}))
    approval = node((nodes, edges), approval_id(PACKAGE_ARN, DECIDED, system="openlineage"))
    assert approval.valid_from == DECIDED
    assert {k: approval.props[k] for k in ("status", "approver", "description", "sourceEventId")} == {
        "status": "Approved", "approver": "risk-ops@company.com", "description": "AUC above bar",
        "sourceEventId": "evt-1"}
    (serves,) = [e for e in edges if e.kind == EdgeKind.SERVES]
    assert (serves.valid_from, serves.valid_to) == (DEPLOYED, None)
    assert node((nodes, edges), PACKAGE).props["modelPackageArn"] == PACKAGE_ARN
    # the facts' own times, not the event's, are when they became true
    assert (approval.at, serves.at) == (DECIDED, DEPLOYED)


def test_every_other_record_carries_the_event_time() -> None:
    ev = event(run_facets={approval_facet.KEY: approval_facet, deployment_facet.KEY: deployment_facet})
    nodes, edges = records_from_event(ev)
    at = parse(ev["eventTime"], "eventTime")
    own = {approval_id(PACKAGE_ARN, DECIDED, system="openlineage")}
    assert {n.at for n in nodes if n.id not in own} == {at}
    assert {e.at for e in edges if e.kind not in (EdgeKind.SERVES, EdgeKind.APPROVED)} == {at}


def test_a_deployment_without_a_package_serves_the_model() -> None:
    facet = CrosslineDeploymentRunFacet(endpointName="credit-prod", endpointArn=ENDPOINT_ARN,
                                        variantName="v1", modelName="Credit-Model", deployedTime=DEPLOYED)
    (serves,) = [e for e in records_from_event(event(run_facets={facet.KEY: facet}))[1] if e.kind == EdgeKind.SERVES]
    assert serves.src == dataset_id(f"{SM}:model/credit-model")


def test_symlinks_and_model_package_become_stable_props() -> None:
    package = CrosslineModelPackageDatasetFacet(group="credit-xgb", version=73, arn=PACKAGE_ARN,
                                                approvalStatus="PendingManualApproval")
    glue = symlinks_dataset.SymlinksDatasetFacet(identifiers=[symlinks_dataset.Identifier(
        namespace="arn:aws:glue:eu-west-1:123456789012", name="table/credit/train", type="TABLE")])
    ev = event(outputs=[OutputDataset(SM, "model-package/credit-xgb/73", facets={package.KEY: package}),
                        OutputDataset("s3://credit", "train/2027-W10", facets={"symlinks": glue})])
    records = records_from_event(ev)
    assert node(records, PACKAGE).props["modelPackageArn"] == PACKAGE_ARN
    assert node(records, TRAIN).props["aliases"] == [
        dataset_id("arn:aws:glue:eu-west-1:123456789012", "table/credit/train")]


BAD = [
    ("not an object", ["nope"]),
    ("no run", {k: v for k, v in event().items() if k != "run"}),
    ("no job", {k: v for k, v in event().items() if k != "job"}),
    ("bad runId", {**event(), "run": {"runId": "not-a-uuid"}}),
    ("runId not a string", {**event(), "run": {"runId": 42}}),
    ("job without name", {**event(), "job": {"namespace": "crossline"}}),
    ("no eventTime", {k: v for k, v in event().items() if k != "eventTime"}),
    ("naive eventTime", {**event(), "eventTime": "2027-03-06T03:14:00"}),
]


@pytest.mark.parametrize(("case", "ev"), BAD, ids=[c[0] for c in BAD])
def test_malformed_events_are_warnings_and_record_nothing(case: str, ev: Any) -> None:
    report = ConversionReport()
    assert records_from_event(ev, report=report) == ([], [])
    assert report.skipped == 1 and len(report.warnings) == 1


def test_a_bad_facet_or_dataset_costs_only_itself() -> None:
    ev = event(inputs=[InputDataset("s3://credit", "train/2027-W10")])
    ev["run"]["facets"]["crossline_approval"] = {"status": "Approved"}  # no package ARN
    ev["run"]["facets"]["crossline_deployment"] = {"endpointArn": "not-an-arn"}
    ev["inputs"].append({"namespace": "s3://x"})  # no name
    ev["outputs"] = [{"namespace": "s3://credit-features", "name": "a/2027-W10", "facets": {
        "crossline_featureSnapshot": {"featureGroupName": "accounts", "version": "2027-W10"}}}]
    report = ConversionReport()
    got_nodes, got_edges = kinds(records_from_event(ev, report=report))
    assert (EdgeKind.CONSUMED, TRAIN, RUN_ID) in got_edges
    assert (NodeKind.RUN, RUN_ID) in got_nodes
    assert not {k for k, _ in got_nodes} & {NodeKind.APPROVAL, NodeKind.ENDPOINT_VARIANT, NodeKind.FEATURE_GROUP}
    assert report.skipped == 0
    assert len(report.warnings) == 4, report.warnings


def test_converting_twice_gives_identical_records() -> None:
    ev = scenario_training_event()
    assert records_from_event(ev) == records_from_event(ev)


def scenario_training_event() -> dict[str, Any]:
    """The scenario's training COMPLETE event, as the Airflow extractors shape it."""
    job = CrosslineSagemakerJobRunFacet(
        arn=f"{SM}:training-job/credit-xgb-2027w10-a3c7", name="credit-xgb-2027W10-a3c7", kind="training",
        image="141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        instanceType="ml.m5.xlarge", instanceCount=1)
    hyper = CrosslineHyperparametersRunFacet(hyperparameters={
        "max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic"})
    metrics = CrosslineMetricsRunFacet(metrics=[
        CrosslineMetric(name="validation:auc", value=0.871, kind="training",
                        source=f"{SM}:training-job/credit-xgb-2027w10-a3c7#FinalMetricDataList")])
    parent = parent_run.ParentRunFacet(run=parent_run.Run(runId=PARENT),
                                       job=parent_run.Job(namespace="crossline", name="credit_retraining"))
    return event(
        run_facets={job.KEY: job, hyper.KEY: hyper, metrics.KEY: metrics, "parent": parent},
        job_facets={"sourceCodeLocation": code_location("github.com/acme/credit-ml", "a14f2b9")},
        inputs=[InputDataset("s3://credit", "train/2027-W10", facets={"version": content_version("v-train-1", None)})],
        outputs=[OutputDataset("s3://credit", "models/credit-xgb-2027W10-a3c7/output/model.tar.gz",
                               facets={"version": content_version(None, '"9b2cf535f27731c974343645a3985328"')})],
    )


def test_scenario_training_event_matches_golden() -> None:
    nodes, edges = records_from_event(scenario_training_event(), source="marquez")
    records = {"nodes": [asdict(n) for n in nodes], "edges": [asdict(e) for e in edges]}
    serialized = json.loads(json.dumps(records, default=str, sort_keys=True))
    path = GOLDEN / "scenario_training_records.json"
    if os.environ.get("CROSSLINE_REGEN_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(serialized, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no golden file {path.name}; generate it with CROSSLINE_REGEN_GOLDEN=1"
    assert serialized == json.loads(path.read_text())


def test_run_ids_are_canonical() -> None:
    upper = event(run=RUN.upper())
    assert node(records_from_event(upper), RUN_ID).name == RUN
    assert str(uuid.UUID(RUN)) == RUN
