"""crossline's extractors give the AWS operators their ML lineage, in a real Airflow run.

The DAG (tests/emitters/dags/emitters_ml_pipeline.py) runs every operator crossline
covers against moto and the bed's SageMaker lineage emulator; events go to a file and to
the bed's Marquez.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from marquez_client import MarquezClient

from crossline_bed.airflow import AirflowBed, DagRunResult
from crossline_bed.aws import TEST_ENV, MotoServer
from crossline_bed.marquez import MarquezState

DAGS = Path(__file__).parent / "dags"
SM_NS = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def pipeline_run(airflow_home: Path, moto_server: MotoServer, marquez: MarquezState, namespace: str) -> DagRunResult:
    """One run of the pipeline, shared by this module's tests (a run takes ~40 s)."""
    moto_server.reset()
    aws = moto_server.endpoint_url
    s3 = boto3.client("s3", endpoint_url=aws, region_name=TEST_ENV["AWS_DEFAULT_REGION"],
                      aws_access_key_id=TEST_ENV["AWS_ACCESS_KEY_ID"], aws_secret_access_key=TEST_ENV["AWS_SECRET_ACCESS_KEY"])
    for bucket in ("credit-code", "credit-raw", "credit-features", "credit"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="credit-code", Key="glue/features.py", Body=b"# feature job\n")
    s3.put_object(Bucket="credit-raw", Key="accounts/part-0.csv", Body=b"id,balance\n1,100\n")
    bed = AirflowBed(airflow_home, DAGS, marquez_url=marquez.url, aws_endpoint_url=aws, namespace=namespace)
    result = bed.run_dag("emitters_ml_pipeline", conf={"prefix": namespace})
    assert result.state == "success", result.log[-4000:]
    return result


def _complete(result: DagRunResult, task: str) -> dict:
    events = result.task_events(task)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"], task
    return events[-1]


def test_glue_run_carries_the_feature_snapshot(pipeline_run: DagRunResult, namespace: str) -> None:
    event = _complete(pipeline_run, "features_accounts")
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("s3://credit-raw", "accounts")]
    (output,) = event["outputs"]
    assert (output["namespace"], output["name"]) == ("s3://credit-features", f"{namespace}/accounts/2027-W10")
    snapshot = output["facets"]["crossline_featureSnapshot"]
    assert snapshot["featureGroupName"] == f"{namespace}-accounts"
    assert snapshot["version"] == "2027-W10"
    assert snapshot["offlineStoreUri"] == f"s3://credit-features/{namespace}/accounts/2027-W10/"
    assert snapshot["featureGroupArn"] == f"{SM_NS}:feature-group/{namespace}-accounts"
    assert output["facets"]["version"]["datasetVersion"].startswith("sha256:")
    assert event["run"]["facets"]["externalQuery"]["source"] == f"glue:{namespace}-features-accounts"
    assert event["job"]["facets"]["sourceCodeLocation"]["version"] == "9c1e0d2"


def test_training_carries_hyperparameters_metrics_arn_and_code(pipeline_run: DagRunResult, namespace: str) -> None:
    event = _complete(pipeline_run, "train")
    facets = event["run"]["facets"]
    job = facets["crossline_sagemakerJob"]
    assert job["arn"] == f"{SM_NS}:training-job/{namespace}-credit-xgb"
    assert (job["kind"], job["instanceType"], job["instanceCount"]) == ("training", "ml.m5.xlarge", 1)
    assert facets["crossline_hyperparameters"]["hyperparameters"] == {
        "max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic",
    }
    metrics = facets["crossline_metrics"]["metrics"]
    assert metrics and all(m["kind"] == "training" for m in metrics)
    assert event["job"]["facets"]["sourceCodeLocation"]["repoUrl"] == "https://github.com/acme/credit-ml"
    assert event["job"]["facets"]["sourceCodeLocation"]["version"] == "a14f2b9"
    # Datasets are named by the one naming function (no trailing slash) and versioned.
    (train_input,) = event["inputs"]
    assert train_input["name"] == f"{namespace}/accounts/2027-W10"
    assert "version" in train_input["facets"]
    (model,) = event["outputs"]
    assert model["name"] == f"{namespace}/models/{namespace}-credit-xgb/output/model.tar.gz"


def test_evaluation_metrics_come_from_the_report(pipeline_run: DagRunResult) -> None:
    metrics = _complete(pipeline_run, "evaluate")["run"]["facets"]["crossline_metrics"]["metrics"]
    assert {m["name"] for m in metrics} == {"auc", "ks"}
    assert all(m["kind"] == "evaluation" and m["source"].endswith("/eval/evaluation.json") for m in metrics)


def test_registry_model_and_endpoint_chain(pipeline_run: DagRunResult, marquez: MarquezState, namespace: str) -> None:
    register = _complete(pipeline_run, "register")
    (package,) = register["outputs"]
    assert (package["namespace"], package["name"]) == (SM_NS, f"model-package/{namespace}-credit-xgb/1")
    facet = package["facets"]["crossline_modelPackage"]
    assert (facet["group"], facet["version"], facet["approvalStatus"]) == (f"{namespace}-credit-xgb", 1, "PendingManualApproval")
    assert [d["name"] for d in register["inputs"]] == [f"{namespace}/models/{namespace}-credit-xgb/output/model.tar.gz"]

    model = _complete(pipeline_run, "model")
    assert [d["name"] for d in model["inputs"]] == [package["name"]]
    assert [d["name"] for d in model["outputs"]] == [f"model/{namespace}-credit-model"]

    config = _complete(pipeline_run, "endpoint_config")
    assert [d["name"] for d in config["inputs"]] == [f"model/{namespace}-credit-model"]

    endpoint = _complete(pipeline_run, "endpoint")
    assert [d["name"] for d in endpoint["outputs"]] == [f"endpoint/{namespace}-credit-prod"]
    deployment = endpoint["run"]["facets"]["crossline_deployment"]
    assert deployment["variantName"] == f"{namespace}-v1"
    assert deployment["modelPackageArn"] == facet["arn"]

    # The whole chain is one graph in Marquez: endpoint back to the feature snapshot.
    client = MarquezClient(url=marquez.url)
    job = client.get_job(namespace, "emitters_ml_pipeline.endpoint")
    assert {(d["namespace"], d["name"]) for d in job["outputs"]} == {(SM_NS, f"endpoint/{namespace}-credit-prod")}
