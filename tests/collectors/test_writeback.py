"""Write-back after the scenario's two weeks: SageMaker gets the links it lacks, once; Marquez
gets the SageMaker side as OpenLineage runs.

The story plays once per session (the ``story`` fixture) and other modules read its AWS
bed, so everything this module creates in SageMaker is deleted when it ends.
"""

from __future__ import annotations

import json

import requests
import pytest
from click.testing import CliRunner

from crossline_bed.aws import TEST_ENV
from crossline.cli import main
from crossline.collectors.collect import collect
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.collectors.writeback import apply, marquez_events, plan_writeback

SM = "arn:aws:sagemaker:us-east-1:123456789012"


def _configs(story) -> list[dict]:
    aws = {"endpoint_url": story.aws.endpoint_url, "region": "us-east-1"}
    return [
        {"type": "openlineage-file", "paths": [str(story.airflow.events_file)]},
        {"type": "sagemaker", **aws},
        {"type": "data-capture", "prefixes": ["s3://credit/datacapture/"], **aws},
    ]


def _associations(sm) -> list[dict]:
    return [a for page in sm.get_paginator("list_associations").paginate() for a in page["AssociationSummaries"]]


@pytest.fixture(scope="module")
def env():
    with pytest.MonkeyPatch.context() as patch:
        for key, value in TEST_ENV.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def store(story, env, tmp_path_factory):
    graph = GraphStore.open(f"sqlite:///{tmp_path_factory.mktemp('writeback') / 'graph.db'}")
    collect(graph, [source_from_config(c) for c in _configs(story)])
    yield graph
    graph.close()


@pytest.fixture(scope="module")
def written(story, store):
    """Plan and apply once; afterwards delete what was made, so the story's bed is as it was."""
    sm = story.bed.client("sagemaker")
    before = _associations(sm)
    planned = plan_writeback(store, sm)
    report = apply(planned, sm)
    yield sm, before, planned, report
    for made in report.associations:
        sm.delete_association(SourceArn=made["source"], DestinationArn=made["destination"])
    for entity in report.created:
        if entity["type"] == "Approval":
            sm.delete_action(ActionName=entity["arn"])
        else:
            sm.delete_artifact(ArtifactArn=entity["arn"])
    assert len(_associations(sm)) == len(before)


def test_plan_names_exactly_the_missing_associations(written) -> None:
    _, before, planned, _ = written
    rules = sorted(p.rule for p in planned)
    # two snapshots per week into that week's training set; one commit per training job;
    # the bed's emulator already records each approval as an Approval action.
    assert rules == ["code-commit"] * 2 + ["feature-snapshot"] * 4, [p.as_dict() for p in planned]
    existing = {(a["SourceArn"], a["DestinationArn"]) for a in before}
    for item in planned:
        assert (item.source.arn, item.destination.arn) not in existing
        assert item.evidence


def test_apply_makes_them_with_the_right_types_and_evidence(written) -> None:
    sm, before, planned, report = written
    after = _associations(sm)
    assert len(after) == len(before) + len(planned) == len(before) + len(report.associations)
    made = {(a["SourceArn"], a["DestinationArn"]): a for a in after}
    for item in report.associations:
        association = made[(item["source"], item["destination"])]
        assert association["AssociationType"] == "ContributedTo"
        if item["rule"] == "feature-snapshot":
            assert (association["SourceType"], association["DestinationType"]) == ("DataSet", "DataSet")
            source = sm.describe_artifact(ArtifactArn=item["source"])["Source"]["SourceUri"]
            destination = sm.describe_artifact(ArtifactArn=item["destination"])["Source"]["SourceUri"]
            week = "2027-W10" if "2027-W10" in destination else "2027-W11"
            assert source.startswith("s3://credit-features/") and week in source
            assert item["evidence"]["featureGroup"].startswith(f"dataset:{SM}:feature-group/")
        else:
            assert association["SourceType"] == "Code"
            assert association["DestinationType"] == "TrainingJob"
            uri = sm.describe_artifact(ArtifactArn=item["source"])["Source"]["SourceUri"]
            assert uri == "git://github.com/acme/credit-ml@a14f2b9"
    # one Code artifact for the commit both weeks share; no new DataSet artifacts (SageMaker had them)
    assert [c["type"] for c in report.created] == ["Code"]


def test_a_second_plan_is_empty_and_a_second_apply_adds_nothing(story, store, written) -> None:
    sm, _, planned, _ = written
    assert plan_writeback(store, sm) == []
    count = len(_associations(sm))
    again = apply(planned, sm)  # the stale first plan: everything is found, nothing duplicated
    assert again.associations == [] and again.created == []
    assert again.already_present == len(planned)
    assert len(_associations(sm)) == count


def test_dry_run_cli_plans_without_writing(story, store, written) -> None:
    sm = written[0]
    count = len(_associations(sm))
    out = CliRunner().invoke(main, ["writeback", "--sagemaker", "--dry-run", "--json", "--store", str(store.engine.url),
                                    "--aws-endpoint", story.aws.endpoint_url])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["sagemaker"]["planned"] == []
    assert len(_associations(sm)) == count


def test_marquez_gets_register_and_deploy_runs(store, marquez, namespace) -> None:
    events = marquez_events(store, namespace)
    assert [e.run.runId for e in events] == [e.run.runId for e in marquez_events(store, namespace)]  # deterministic
    out = CliRunner().invoke(main, ["writeback", "--marquez", marquez.url, "--namespace", namespace,
                                    "--store", str(store.engine.url), "--json"])
    assert out.exit_code == 0, out.output
    jobs = requests.get(f"{marquez.url}/api/v1/namespaces/{namespace}/jobs", params={"limit": 100}).json()["jobs"]
    names = {j["name"] for j in jobs}
    assert "sagemaker.model_registry.register.credit-xgb" in names
    assert "sagemaker.endpoint.deploy.credit-prod" in names
    runs = requests.get(f"{marquez.url}/api/v1/namespaces/{namespace}/jobs/sagemaker.endpoint.deploy.credit-prod/runs").json()["runs"]
    assert len(runs) == 2  # v73 from 8 March until the swap, v74 since
    deploys = [e for e in events if e.job.name.startswith("sagemaker.endpoint.deploy.")]
    assert {e.run.facets["crossline_deployment"].variantName for e in deploys} == {"credit-prod-v73", "credit-prod-v74"}
    registered = [e for e in events if e.outputs and e.outputs[0].name == "model-package/credit-xgb/73"]
    assert registered and registered[0].inputs[0].name == "models/" + registered[0].outputs[0].facets[
        "crossline_modelPackage"].modelDataUrl.split("/models/", 1)[1]
