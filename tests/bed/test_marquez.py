"""An OpenLineage event sent the way users send it reaches Marquez and reads back.

Runs against the session's Marquez (see conftest: real Marquez where it can be had,
otherwise crossline's stand-in, named in the run's summary).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import requests
from marquez_client import MarquezClient
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline_bed.marquez import MarquezState

PRODUCER = "https://github.com/crossline/crossline/tree/0.1.0/tests"


def _emit_run(url: str, namespace: str) -> str:
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=url)))
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace=namespace, name="assemble_training_set")
    inputs = [
        InputDataset(namespace="s3://credit-features", name=f"{namespace}/accounts/2027-W10"),
        InputDataset(namespace="s3://policy", name=f"{namespace}/excl-v14.csv"),
    ]
    outputs = [OutputDataset(namespace="s3://credit", name=f"{namespace}/train/2027-W10")]
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime=datetime.now(timezone.utc).isoformat(),
                run=run,
                job=job,
                inputs=inputs,
                outputs=outputs,
                producer=PRODUCER,
            )
        )
    return run.runId


def test_run_event_reads_back_through_marquez_python(marquez: MarquezState, namespace: str) -> None:
    run_id = _emit_run(marquez.url, namespace)
    client = MarquezClient(url=marquez.url)

    names = {ns["name"] for ns in client.list_namespaces(limit=1000)["namespaces"]}
    assert {namespace, "s3://credit", "s3://credit-features", "s3://policy"} <= names

    job = client.get_job(namespace, "assemble_training_set")
    assert {(d["namespace"], d["name"]) for d in job["inputs"]} == {
        ("s3://credit-features", f"{namespace}/accounts/2027-W10"),
        ("s3://policy", f"{namespace}/excl-v14.csv"),
    }
    assert [(d["namespace"], d["name"]) for d in job["outputs"]] == [("s3://credit", f"{namespace}/train/2027-W10")]
    assert job["latestRun"]["id"] == run_id
    assert job["latestRun"]["state"] == "COMPLETED"

    dataset = client.get_dataset("s3://credit", f"{namespace}/train/2027-W10")
    assert dataset["name"] == f"{namespace}/train/2027-W10"
    assert dataset["namespace"] == "s3://credit"

    runs = client.list_job_runs(namespace, "assemble_training_set")["runs"]
    assert [r["id"] for r in runs] == [run_id]
    assert client.get_job_run(run_id)["state"] == "COMPLETED"


def test_lineage_graph_holds_the_job_dataset_edges(marquez: MarquezState, namespace: str) -> None:
    _emit_run(marquez.url, namespace)
    job_id = f"job:{namespace}:assemble_training_set"
    response = requests.get(
        f"{marquez.url}/api/v1/lineage",
        params={"nodeId": f"dataset:s3://credit:{namespace}/train/2027-W10", "depth": 20},
        timeout=10,
    )
    assert response.status_code == 200
    nodes = {node["id"]: node for node in response.json()["graph"]}
    train = f"dataset:s3://credit:{namespace}/train/2027-W10"
    accounts = f"dataset:s3://credit-features:{namespace}/accounts/2027-W10"
    exclusions = f"dataset:s3://policy:{namespace}/excl-v14.csv"
    assert {job_id, train, accounts, exclusions} <= set(nodes)
    edges = {(e["origin"], e["destination"]) for node in nodes.values() for e in node["outEdges"]}
    assert {(accounts, job_id), (exclusions, job_id), (job_id, train)} <= edges
    assert nodes[job_id]["type"] == "JOB"
    assert nodes[train]["type"] == "DATASET"
