"""The second story (tests/STORY2.md), collected from every system the fraud team runs, traced without a gap.

Sources: the DAG's OpenLineage events, SageMaker (lineage, jobs, registry, endpoints,
pipelines, experiments), the Glue Data Catalog, Feature Store, the team's real MLflow
server, the manual audit CSV and the endpoint's data capture, all on the story's own
moto server, into SQLite. Collection time per source is printed (``-s``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from crossline.cli import main
from crossline.collectors.explain import explain
from crossline.collectors.graph import Graph
from crossline.collectors.model import EdgeKind, NodeKind, dataset_id
from crossline.collectors.reconcile import unmatched
from crossline.collectors.store import GraphStore
from crossline.collectors.trace import trace_inference, trace_schema
from crossline_bed import scenario_fraud as s2

SM = f"arn:aws:sagemaker:{s2.REGION}:{s2.ACCOUNT}"
PACKAGE = f"{SM}:model-package/{s2.GROUP}/12"
MERCHANTS_TABLE = dataset_id(f"arn:aws:glue:{s2.REGION}:{s2.ACCOUNT}:table/fraud_features/merchants")


@pytest.fixture(scope="module")
def collected(story2_graph):  # type: ignore[no-untyped-def]
    store, report, seconds = story2_graph
    print("\nstory2 collection seconds per source: " + ", ".join(f"{k}={v:.2f}" for k, v in seconds.items()))
    print(f"story2 reconciliation: {json.dumps(report.reconcile.summary(), sort_keys=True)}")
    return store, report


def test_every_source_reads_without_a_warning_and_writes_its_records(collected) -> None:
    _, report = collected
    for name, source in report.sources.items():
        assert source.nodes > 0, name
        assert source.warnings == [], (name, source.warnings)


def test_the_trace_of_txn_55012_has_no_gaps_and_names_execution_mlflow_run_and_recorder(collected, story2) -> None:
    store, _ = collected
    trace = trace_inference(Graph(store), s2.INFERENCE_ID)
    assert trace.gaps == []
    assert trace.model_version.value["modelPackageArn"] == PACKAGE
    training = trace.training.value
    assert training["pipelineExecution"]["arn"] == story2.execution_arn
    assert training["pipelineExecution"]["startedBy"]["job"] == f"{s2.DAG_ID}.train_pipeline"
    assert training["pipelineExecution"]["step"] == "TrainModel"
    assert [r["runId"] for r in training["mlflowRuns"]] == [story2.mlflow_run_id]
    assert training["mlflowRuns"][0]["modelVersions"][0]["name"] == f"{s2.MLFLOW_MODEL}/1"
    assert "champion" in training["mlflowRuns"][0]["modelVersions"][0]["aliases"]
    assert training["hyperparameters"] == s2.fraud_pipeline.HYPERPARAMETERS
    metrics = {m["name"]: m["value"] for m in training["metrics"] if m["kind"] == "mlflow"}
    assert metrics == {"validation:auc": 0.942, "validation:logloss": 0.097}
    assert training["code"] == [{"repo": s2.fraud_pipeline.CODE_REPO, "commit": s2.fraud_pipeline.CODE_COMMIT, "from": "mlflow"}]
    assert trace.training_dataset.value["dataset"] == f"s3://fraud-ml-eu:train/{s2.WEEK}"
    assert trace.training_dataset.value["producedBy"] == "BuildTrainingSet"
    snapshots = {s["featureGroup"]: s for s in trace.features.value["featureSnapshots"]}
    assert sorted(snapshots) == sorted(s2.FEATURE_GROUPS)
    assert snapshots["fraud-merchants"]["glueTable"] == "fraud_features.merchants"
    (blocklist,) = trace.features.value["otherInputs"]
    assert blocklist["dataset"] == dataset_id(s2.BLOCKLIST).removeprefix("dataset:")
    assert [(m["record"], m["ticket"]) for m in blocklist["manual"]] == [("AUD-0405", "COMP-118")]
    approval = trace.approval.value
    assert approval["approverArn"] == f"arn:aws:sts::{s2.ACCOUNT}:assumed-role/{s2.RELEASE_ROLE}/{s2.RELEASE_SESSION}"
    assert approval["approvedAt"].startswith("2027-04-09T14:05")
    (record,) = approval["manualRecords"]
    assert (record["record"], record["recordedBy"], record["decidedBy"], record["ticket"]) == (
        "AUD-0412", s2.RECORDER, s2.DECIDER, s2.TICKET)
    assert record["recordedAt"].startswith("2027-04-09T16:20")
    assert {e.source for e in trace.approval.evidence} == {"sagemaker", "manual"}
    import jsonschema

    jsonschema.validate(json.loads(json.dumps(trace.to_dict(), default=str)), trace_schema())


def test_the_trace_renders_every_answer_as_tree_markdown_and_pdf(collected, tmp_path: Path) -> None:
    store, _ = collected
    result = CliRunner().invoke(main, ["trace", s2.INFERENCE_ID, "--store", str(store.url), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for line in (f"ModelPackage {s2.GROUP}/12", "Pipeline execution fraud-train/", f"from Airflow {s2.DAG_ID}.train_pipeline",
                 "MLflow run train-2027-W14", "(from MLflow)", "Feature group fraud-merchants (Glue table fraud_features.merchants",
                 "Exclusion list s3://fraud-ml-eu/policy/blocked-merchants-2027-04.csv (approved COMP-118, manual AUD-0405)",
                 f"manual record AUD-0412 recorded by {s2.RECORDER} 2027-04-09 16:20 UTC"):
        assert line in result.output, line
    markdown = (tmp_path / f"{s2.INFERENCE_ID}.md").read_text()
    assert "AUD-0412" in markdown and "## Gaps" in markdown and "- none" in markdown
    assert (tmp_path / f"{s2.INFERENCE_ID}.pdf").read_bytes().startswith(b"%PDF")


def test_reconciliation_links_the_systems_with_rules_and_reports_the_conflict(collected, story2) -> None:
    store, report = collected
    links = report.reconcile.links
    for rule in ("external-query", "mlflow:training-job-tag", "mlflow:pipeline-execution-tag", "mlflow:version-tag",
                 "mlflow:package-metadata", "feature-store:offline-prefix", "manual:approval", "manual:subject-location",
                 "symlinks"):
        assert links[rule] > 0, rule
    (conflict,) = report.reconcile.conflicts
    assert conflict["record"] == "AUD-0398" and conflict["manual"] == "Approved" and conflict["system"] == "Rejected"
    assert any("AUD-0398" in w and "system's record wins" in w for w in report.reconcile.warnings)
    graph = Graph(store)
    run = f"mlflow-run:{story2.mlflow_run_id}"
    same = [e for e in graph.edges(src=run, kinds=[EdgeKind.SAME_AS])]
    assert [(e.props["rule"], e.props["evidence"]["tag"]) for e in same] == [("mlflow:training-job-tag", "sagemaker.training_job_arn")]
    # the conflicting fact is kept as evidence, linked to nothing a system decided
    fact = "manual:fraud-audit-log/AUD-0398"
    assert graph.has_node(fact)
    assert not [e for e in graph.edges(src=fact, kinds=[EdgeKind.SAME_AS])]


@pytest.mark.parametrize("named_by_event", [False, True], ids=["location-never-named", "location-named-by-an-event"])
def test_a_glue_table_input_reconciles_to_the_sagemaker_artifact_of_its_location(
    story2_collector, story2_events: Path, tmp_path: Path, named_by_event: bool
) -> None:
    """The merchants group reaches the pipeline only as a Glue table with a symlinks facet.
    With only the events and SageMaker collected, no event (and no other source) names
    its S3 location; with an extra event that does, both links hold."""
    store = GraphStore.open(f"sqlite:///{tmp_path / 'graph.db'}")
    events = story2_events
    location = None
    for line in events.read_text().splitlines():
        for item in json.loads(line).get("inputs", []):
            if (item.get("facets") or {}).get("symlinks"):
                (link,) = item["facets"]["symlinks"]["identifiers"]
                location = dataset_id(link["namespace"], link["name"])
    assert location is not None
    if named_by_event:
        events = tmp_path / "events.jsonl"
        reader = {"eventType": "COMPLETE", "eventTime": "2027-04-06T00:00:00Z", "producer": "https://example.com/audit",
                      "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                  "run": {"runId": "0190b5a0-0000-7000-8000-000000000001"}, "job": {"namespace": "audit", "name": "read_merchants"},
                  "inputs": [{"namespace": location.removeprefix("dataset:").rsplit(":", 1)[0],
                              "name": location.removeprefix("dataset:").split(":", 2)[2]}]}
        events.write_text(story2_events.read_text() + json.dumps(reader) + "\n")
    with store:
        collect = story2_collector
        report, _ = (collect(store, {"openlineage-file", "sagemaker"}) if not named_by_event else
                     _collect_with(store, collect, events))
        graph = Graph(store)
        assert graph.has_node(location) is named_by_event
        artifacts = [n for n in graph.nodes(kind=NodeKind.SM_ARTIFACT)
                     if str(n.props.get("SourceUri", "")).startswith("s3://") and dataset_id(n.props["SourceUri"]) == location]
        (artifact,) = artifacts
        links = {(e.dst, e.props["rule"]) for e in graph.edges(src=MERCHANTS_TABLE, kinds=[EdgeKind.SAME_AS])}
        assert (artifact.id, "symlinks") in links
        assert ((location, "symlinks") in links) is named_by_event
        why = explain(graph, MERCHANTS_TABLE, artifact.id)
        assert [e.rule for s in why.steps for e in s.edges] == ["symlinks"]
        assert why.steps[0].edges[0].evidence["SourceUri"] == artifact.props["SourceUri"]


def _collect_with(store, collect, events: Path):  # type: ignore[no-untyped-def]
    from crossline.collectors.collect import collect as run_collect
    from crossline.collectors.sources import source_from_config

    run_collect(store, [source_from_config({"type": "openlineage-file", "paths": [str(events)]})])
    return collect(store, {"sagemaker"})


def test_collecting_again_changes_nothing(collected, story2_collector) -> None:
    store, _ = collected
    before = Graph(store).dump()
    report, _ = story2_collector(store)
    assert Graph(store).dump() == before
    assert sum(r.nodes for r in report.sources.values()) < 60  # what changed since: MLflow's lookback, the registry, trials


def test_explain_and_unmatched_answer_in_text_and_json(collected, story2) -> None:
    store, _ = collected
    url = str(store.url)
    text = CliRunner().invoke(main, ["explain", f"{s2.GROUP}/12", "train-2027-W14", "--store", url])
    assert text.exit_code == 0, text.output
    assert "rule mlflow:package-metadata" in text.output and "mlflow.run_id" in text.output
    as_json = CliRunner().invoke(main, ["explain", "fraud_features.merchants", s2.INFERENCE_ID, "--store", url, "--json"])
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.output)
    assert answer["how"] == "downstream" and answer["path"][-1].startswith("inference:")
    assert any(e["rule"] == "external-query" for s in answer["steps"] for e in s["edges"])
    listed = CliRunner().invoke(main, ["unmatched", "--kind", "model_package", "--store", url, "--json"])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.output)["unmatched"]
    assert {e["id"] for e in entries} == {f"{SM}:model-package/{s2.GROUP}/{v}" for v in range(1, 12)}
    assert all(t["rule"] == "naming:sagemaker-arn" for e in entries for t in e["tried"])
    assert {e.id for e in unmatched(Graph(store), {"model_package"})} == {e["id"] for e in entries}
    strict = CliRunner().invoke(main, ["unmatched", "--kind", "model_package", "--store", url, "--strict"])
    assert strict.exit_code == 1 and "tried naming:sagemaker-arn" in strict.output
    nothing = CliRunner().invoke(main, ["explain", "fraud_raw.card_transactions", s2.INFERENCE_ID, "--store", url])
    assert nothing.exit_code in (0, 1)


KILLER = textwrap.dedent(
    """
    import json, os, signal, sys
    from crossline.collectors.collect import collect
    from crossline.collectors.sources import source_from_config
    from crossline.collectors.store import GraphStore

    url, configs, victim, after = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])

    class Killing:
        # A real kill -9 after the n-th batch of one source is written: no cleanup, no flush.
        def __init__(self, inner):
            self.inner, self.name, self.seen = inner, inner.name, 0
        def total(self, since):
            return None
        def read(self, since):
            for batch in self.inner.read(since):
                yield batch
                self.seen += 1
                if self.name == victim and self.seen >= after:
                    os.kill(os.getpid(), signal.SIGKILL)

    with GraphStore.open(url) as store:
        collect(store, [Killing(source_from_config(c)) for c in configs])
    """
)


@pytest.mark.parametrize(("victim", "after_batches"), [("sagemaker", 11), ("glue-catalog", 2), ("mlflow", 1), ("manual", 1)])
def test_kill_9_mid_collection_then_resume_gives_the_identical_graph(
    story2_source_configs, story2_environment, story2_collector, collected, tmp_path: Path, victim: str, after_batches: int
) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, url, json.dumps(story2_source_configs), victim, str(after_batches)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **story2_environment},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with GraphStore.open(url) as store:
        story2_collector(store)
        resumed = Graph(store).dump()
    full, _ = collected
    assert resumed == Graph(full).dump()


def test_the_trace_through_sagemakers_lineage_stays_a_fixed_number_of_statements(collected) -> None:
    """Seven batched moves past the serving package in five statements (``Graph.steps`` chains
    two of them twice): at most ten statements with BEGIN, whatever the graph's size, as for
    the credit story's path."""
    from sqlalchemy import event

    store, _ = collected
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    graph = Graph(store)
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        trace = trace_inference(graph, s2.INFERENCE_ID)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert trace.gaps == []
    assert len(seen) <= 10, seen


def test_sagemaker_reads_the_pipeline_execution_its_steps_and_the_experiment(collected, story2) -> None:
    store, _ = collected
    graph = Graph(store)
    execution = graph.node(story2.execution_arn)
    assert execution.kind is NodeKind.PIPELINE_EXECUTION
    assert execution.props["status"] == "Succeeded" and execution.props["parameters"] == {"Week": s2.WEEK}
    assert execution.props["displayName"] == f"weekly-{s2.WEEK}"
    assert [s["name"] for s in execution.props["steps"]] == ["BuildTrainingSet", "TrainModel", "RegisterModel"]
    parents = list(graph.edges(src=execution.id, kinds=[EdgeKind.PARENT]))
    children = {e.props["step"]: e.dst for e in parents if e.source == "sagemaker"}
    assert sorted(children) == ["BuildTrainingSet", "TrainModel"]
    # and, by reconciliation, of the MLflow run its training script logged (its tag names the execution)
    assert [(e.dst, e.props["rule"]) for e in parents if e.source == "reconcile"] == [
        (f"mlflow-run:{story2.mlflow_run_id}", "mlflow:pipeline-execution-tag")]
    assert graph.node(children["TrainModel"]).kind is NodeKind.TRAINING_JOB
    assert [e.dst for e in graph.edges(src=execution.id, kinds=[EdgeKind.SM_PRODUCED])] == [PACKAGE]
    assert [e.dst for e in graph.edges(src=execution.id, kinds=[EdgeKind.RUN_OF])] == [f"{SM}:pipeline/{s2.PIPELINE}"]
    component = graph.node(f"{SM}:experiment-trial-component/{children['TrainModel'].rsplit('/', 1)[1]}-aws-training-job")
    assert component.props["parameters"]["max_depth"] == 8.0
    assert component.props["metrics"]["train:progress"]["Last"] == 100.0
    assert component.props["inputArtifacts"]["train"]["value"] == f"s3://fraud-ml-eu/train/{s2.WEEK}/"
    trial = f"{SM}:experiment-trial/{story2.execution_arn.rsplit('/', 1)[1]}"
    assert [e.dst for e in graph.edges(src=component.id, kinds=[EdgeKind.PART_OF])] == [trial]
    assert [e.dst for e in graph.edges(src=trial, kinds=[EdgeKind.PART_OF])] == [f"{SM}:experiment/{s2.PIPELINE}"]


def test_a_running_execution_holds_the_watermark_before_its_start() -> None:
    from datetime import UTC, datetime

    from crossline.collectors.sources.sagemaker.common import Run, SageMakerReport

    run = Run(None, None, SageMakerReport())
    run.changed(datetime(2027, 4, 5, 3, tzinfo=UTC), datetime(2027, 4, 9, tzinfo=UTC))
    assert run.watermark() == datetime(2027, 4, 9, tzinfo=UTC)
    run.hold(datetime(2027, 4, 5, 2, tzinfo=UTC))
    run.hold(datetime(2027, 4, 6, tzinfo=UTC))
    assert run.watermark() == datetime(2027, 4, 5, 2, tzinfo=UTC)
