"""Airflow really runs a DAG on the bed, and its lineage lands in Marquez.

The DAG (tests/bed/dags/bed_two_task_s3.py) writes an S3 object through S3Hook, then
copies it: both tasks' lineage is hook lineage, the case where dag.test() would leak the
first task's output into the second task's events.
"""

from __future__ import annotations

import boto3
from marquez_client import MarquezClient

from crossline_bed.airflow import AirflowBed
from crossline_bed.marquez import MarquezState


def _datasets(entries: list[dict]) -> set[str]:
    return {f"{d['namespace']}/{d['name']}" for d in entries}


def test_two_task_dag_lineage_lands_in_marquez(airflow_bed: AirflowBed, marquez: MarquezState, namespace: str) -> None:
    bucket = f"bed-{namespace}"
    boto3.client("s3", endpoint_url=airflow_bed.aws_endpoint_url).create_bucket(Bucket=bucket)

    result = airflow_bed.run_dag("bed_two_task_s3", conf={"bucket": bucket})

    assert result.state == "success", result.log[-3000:]
    assert result.task_states == {"write_raw": "success", "copy_clean": "success"}
    raw, clean = f"s3://{bucket}/raw/accounts.csv", f"s3://{bucket}/clean/accounts.csv"
    for task in ("write_raw", "copy_clean"):
        assert [e["eventType"] for e in result.task_events(task)] == ["START", "COMPLETE"]
    write_done = result.task_events("write_raw")[-1]
    copy_start, copy_done = result.task_events("copy_clean")
    assert (_datasets(write_done["inputs"]), _datasets(write_done["outputs"])) == (set(), {raw})
    assert (_datasets(copy_done["inputs"]), _datasets(copy_done["outputs"])) == ({raw}, {clean})
    # No leak: the copy task's events never carry the first task's output.
    assert raw not in _datasets(copy_start["outputs"]) | _datasets(copy_done["outputs"])

    client = MarquezClient(url=marquez.url)
    write_job = client.get_job(namespace, "bed_two_task_s3.write_raw")
    copy_job = client.get_job(namespace, "bed_two_task_s3.copy_clean")
    assert (_datasets(write_job["inputs"]), _datasets(write_job["outputs"])) == (set(), {raw})
    assert (_datasets(copy_job["inputs"]), _datasets(copy_job["outputs"])) == ({raw}, {clean})
    assert write_job["latestRun"]["state"] == copy_job["latestRun"]["state"] == "COMPLETED"
    dag_job = client.get_job(namespace, "bed_two_task_s3")
    assert dag_job["latestRun"]["state"] == "COMPLETED"
