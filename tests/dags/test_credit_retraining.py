"""dags/credit_retraining.py runs the scenario's two weeks end to end on the bed.

Airflow runs the real DAG against moto with crossline's extensions (lineage emulator,
job runner, registry fixes, clock); events go to the bed's Marquez and to a file; risk
approves each package in the registry while the DAG's sensor waits, and the approval
emitter reports it; the endpoint serves loan-8231 on 12 March and loan-9120 after the
15 March swap.
"""

from __future__ import annotations

import json

import pytest
import requests
from marquez_client import MarquezClient

from crossline_bed.airflow import DagRunResult
from crossline_bed.marquez import MarquezState
from crossline.emitters.naming import s3_location

SM = "arn:aws:sagemaker:us-east-1:123456789012"
TASK_IDS = {
    "plan", "feature_jobs", "features", "assemble_training_set", "train", "evaluate", "register",
    "await_approval", "create_model", "create_endpoint_config", "deploy",
}
# The Glue task is mapped over the feature groups at run time, one instance per group.
TASKS = (TASK_IDS - {"features"}) | {"features[accounts]", "features[behaviour]"}
GROUPS = ("accounts", "behaviour")


def _io(event: dict) -> tuple[set[str], set[str]]:
    return (
        {f"{d['namespace']}/{d['name']}" for d in event.get("inputs", [])},
        {f"{d['namespace']}/{d['name']}" for d in event.get("outputs", [])},
    )


def _complete(result: DagRunResult, task: str, map_index: int | None = None) -> dict:
    return [e for e in result.task_events(task, map_index) if e["eventType"] == "COMPLETE"][-1]


@pytest.mark.parametrize("week", ["2027-W10", "2027-W11"])
def test_each_week_runs_every_task_with_the_scenarios_edges(story, week: str) -> None:
    run = story.runs[week]
    assert run.state == "success", run.log[-3000:]
    assert run.task_states == {t: "success" for t in TASKS}
    for index, group in enumerate(GROUPS):
        assert _io(_complete(run, "features", index))[1] == {f"s3://credit-features/{group}/{week}"}
    assert _io(_complete(run, "assemble_training_set")) == (
        {f"s3://credit-features/accounts/{week}", f"s3://credit-features/behaviour/{week}", "s3://policy/excl-v14.csv"},
        {f"s3://credit/train/{week}"},
    )
    train = _complete(run, "train")
    inputs, outputs = _io(train)
    assert inputs == {f"s3://credit/train/{week}"}
    (model,) = outputs
    assert model.startswith(f"s3://credit/models/credit-xgb-{week.replace('-', '')}-")
    assert train["run"]["facets"]["crossline_hyperparameters"]["hyperparameters"] == {
        "max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic",
    }
    metrics = _complete(run, "evaluate")["run"]["facets"]["crossline_metrics"]["metrics"]
    assert {m["name"] for m in metrics} == {"auc", "ks"}
    version = {"2027-W10": 73, "2027-W11": 74}[week]
    assert _io(_complete(run, "register"))[1] == {f"{SM}/model-package/credit-xgb/{version}"}
    deploy = _complete(run, "deploy")
    assert _io(deploy)[1] == {f"{SM}/endpoint/credit-prod"}
    assert deploy["run"]["facets"]["crossline_deployment"]["variantName"] == f"credit-prod-v{version}"


def test_marquez_holds_both_weeks(story, marquez: MarquezState) -> None:
    client = MarquezClient(url=marquez.url)
    for task in TASK_IDS:
        runs = client.list_job_runs(story.namespace, f"credit_retraining.{task}")["runs"]
        expected = 2 * len(GROUPS) if task == "features" else 2
        assert len(runs) == expected and {r["state"] for r in runs} == {"COMPLETED"}, task
    for week in ("2027-W10", "2027-W11"):
        for group in ("accounts", "behaviour"):
            assert client.get_dataset("s3://credit-features", f"{group}/{week}")["name"] == f"{group}/{week}"
        assert client.get_dataset("s3://credit", f"train/{week}")["name"] == f"train/{week}"
    approvals = client.list_job_runs(story.namespace, "model_registry.approval.credit-xgb")["runs"]
    assert len(approvals) == 2
    # Marquez splits a node id at every ':' not followed by '//' or a digit, so a
    # dataset whose namespace is an ARN cannot be a start node; the walk starts from the
    # training set and must reach the endpoint.
    graph = requests.get(
        f"{marquez.url}/api/v1/lineage",
        params={"nodeId": "dataset:s3://credit:train/2027-W11", "depth": 20}, timeout=10,
    ).json()["graph"]
    ids = {node["id"] for node in graph}
    # The latest week's chain, from the feature snapshots to the endpoint.
    assert {
        f"dataset:{SM}:endpoint/credit-prod",
        f"dataset:{SM}:model-package/credit-xgb/74",
        f"job:{story.namespace}:credit_retraining.train",
        "dataset:s3://credit:train/2027-W11",
        "dataset:s3://credit-features:accounts/2027-W11",
        "dataset:s3://policy:excl-v14.csv",
    } <= ids


def test_sagemaker_side_has_both_trainings_packages_approvals_and_deployments(story) -> None:
    sm = story.bed.client("sagemaker")
    jobs = sm.list_training_jobs()["TrainingJobSummaries"]
    assert sorted(j["TrainingJobName"][:18] for j in jobs) == ["credit-xgb-2027W10", "credit-xgb-2027W11"]
    for version, approved_on in ((73, "2027-03-08"), (74, "2027-03-15")):
        package = sm.describe_model_package(ModelPackageName=f"{SM}:model-package/credit-xgb/{version}")
        assert package["ModelApprovalStatus"] == "Approved"
        assert package["LastModifiedBy"]["IamIdentity"]["Arn"].endswith("assumed-role/risk-ops/risk-ops@company.com")
        assert package["LastModifiedTime"].isoformat().startswith(approved_on)
    approvals = [
        sm.describe_action(ActionName=a["ActionName"])
        for a in sm.list_actions(ActionType="Approval", MaxResults=100)["ActionSummaries"]
    ]
    approved = {a["Source"]["SourceUri"].rsplit("/", 1)[1] for a in approvals if a["Properties"].get("ModelApprovalStatus") == "Approved" and "risk-ops" in a["Properties"].get("ApprovedBy", "")}
    assert {"73", "74"} <= approved
    deployments = sm.list_actions(ActionType="ModelDeployment", MaxResults=100)["ActionSummaries"]
    assert len(deployments) == 2
    endpoint = sm.describe_endpoint(EndpointName="credit-prod")
    assert endpoint["EndpointConfigName"] == "credit-prod-v74"
    assert endpoint["LastModifiedTime"].isoformat().startswith("2027-03-15")


def test_data_capture_holds_loan_8231_under_v73_on_12_march(story) -> None:
    uri = story.captures["loan-8231"]
    assert uri.startswith("s3://credit/datacapture/credit-prod/credit-prod-v73/2027/03/12/10/")
    bucket, key = s3_location(uri)
    record = json.loads(story.bed.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()[0])
    assert record["eventMetadata"]["inferenceId"] == "loan-8231"
    assert record["eventMetadata"]["inferenceTime"] == "2027-03-12T10:14:03Z"
    assert story.captures["loan-9120"].startswith("s3://credit/datacapture/credit-prod/credit-prod-v74/2027/03/16/11/")
