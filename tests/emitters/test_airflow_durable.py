"""A real DAG with crossline's durable transport: Marquez up, and Marquez down.

The DAG's events go through crossline's durable transport (registered the OpenLineage
way, inside the provider's composite transport). With Marquez up, every event arrives
with no help, although Airflow emits from forked children that end with ``os._exit``.
With Marquez down (a loopback port where nothing listens), no task fails, and
``crossline lineage replay`` delivers every event later.
"""

from __future__ import annotations

import time
from pathlib import Path

import boto3
from click.testing import CliRunner
from marquez_client import MarquezClient

from crossline_bed.airflow import AirflowBed
from crossline_bed.marquez import MarquezState
from crossline_bed.process import free_port
from crossline.cli import main

DAGS = Path(__file__).parents[1] / "bed" / "dags"


def test_every_event_arrives_on_its_own_with_marquez_up(
    airflow_home: Path, aws: str, marquez: MarquezState, namespace: str, tmp_path: Path
) -> None:
    bucket = f"bed-{namespace}"
    boto3.client("s3", endpoint_url=aws).create_bucket(Bucket=bucket)
    spool = tmp_path / "spool"
    bed = AirflowBed(airflow_home, DAGS, marquez_url=marquez.url, aws_endpoint_url=aws, namespace=namespace,
                     spool_dir=spool)
    result = bed.run_dag("bed_two_task_s3", conf={"bucket": bucket})
    assert result.state == "success"
    client = MarquezClient(url=marquez.url)

    def completed() -> bool:
        try:
            return all(client.get_job(namespace, f"bed_two_task_s3.{t}")["latestRun"]["state"] == "COMPLETED"
                       for t in ("write_raw", "copy_clean"))
        except Exception:  # noqa: BLE001  not there yet
            return False

    deadline = time.monotonic() + 60
    while not (completed() and not list(spool.glob("*.json"))):
        assert time.monotonic() < deadline, f"still spooled: {sorted(p.name for p in spool.glob('*.json'))}"
        time.sleep(0.5)


def test_dag_succeeds_with_marquez_down_and_replay_delivers_everything(
    airflow_home: Path, aws: str, marquez: MarquezState, namespace: str, tmp_path: Path
) -> None:
    bucket = f"bed-{namespace}"
    boto3.client("s3", endpoint_url=aws).create_bucket(Bucket=bucket)
    spool = tmp_path / "spool"
    dead = f"http://127.0.0.1:{free_port()}"
    bed = AirflowBed(airflow_home, DAGS, marquez_url=dead, aws_endpoint_url=aws, namespace=namespace, spool_dir=spool)

    result = bed.run_dag("bed_two_task_s3", conf={"bucket": bucket})

    assert result.state == "success"
    assert result.task_states == {"write_raw": "success", "copy_clean": "success"}
    captured = [e for e in result.events if e["job"]["namespace"] == namespace]
    assert len(captured) == 5  # START and COMPLETE of two tasks, and the DAG's COMPLETE
    spooled = sorted(p for p in spool.glob("*.json"))
    assert len(spooled) == 5

    replay = CliRunner().invoke(main, ["lineage", "replay", "--spool", str(spool), "--url", marquez.url])
    assert replay.exit_code == 0, replay.output
    assert not list(spool.glob("*.json"))

    client = MarquezClient(url=marquez.url)
    for task in ("write_raw", "copy_clean"):
        job = client.get_job(namespace, f"bed_two_task_s3.{task}")
        assert job["latestRun"]["state"] == "COMPLETED"
    raw = {(d["namespace"], d["name"]) for d in client.get_job(namespace, "bed_two_task_s3.copy_clean")["inputs"]}
    assert raw == {(f"s3://{bucket}", "raw/accounts.csv")}
