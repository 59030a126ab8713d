"""Injected Glue failures: the run fails as on AWS, writes nothing, and Airflow sees it fail."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from crossline_bed.aws import MotoServer
from crossline_bed.errors import BedError

JOB = "features_behaviour"
OUTPUT = "s3://credit-features/behaviour/2027-W10/"
ERROR = "AnalysisException: Path does not exist: s3://raw/behaviour/2027-W10/"


@pytest.fixture
def glue(aws: str) -> Any:
    client = boto3.client("glue", endpoint_url=aws, region_name="us-east-1")
    client.create_job(
        Name=JOB,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://credit-code/features_behaviour.py"},
    )
    return client


@pytest.fixture
def s3(aws: str) -> Any:
    client = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    client.create_bucket(Bucket="credit-features")
    return client


def run(glue: Any) -> dict[str, Any]:
    run_id = glue.start_job_run(JobName=JOB, Arguments={"--output_path": OUTPUT})["JobRunId"]
    return glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"]


def outputs(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket="credit-features").get("Contents", [])]


def test_injected_failure_fails_the_next_run_with_its_message(moto_server: MotoServer, glue: Any, s3: Any) -> None:
    moto_server.inject_glue_failure(JOB, ERROR)

    failed = run(glue)

    assert failed["JobRunState"] == "FAILED"
    assert failed["ErrorMessage"] == ERROR
    assert outputs(s3) == []  # a failed job leaves no output


def test_a_fault_is_used_once_and_clearing_drops_the_unused(moto_server: MotoServer, glue: Any, s3: Any) -> None:
    moto_server.inject_glue_failure(JOB, ERROR)
    moto_server.inject_glue_failure(JOB, "second")
    assert run(glue)["JobRunState"] == "FAILED"

    moto_server.clear_faults()
    succeeded = run(glue)

    assert succeeded["JobRunState"] == "SUCCEEDED"
    assert "ErrorMessage" not in succeeded
    assert outputs(s3) == ["behaviour/2027-W10/part-00000.parquet"]


def test_a_fault_touches_only_its_own_job(moto_server: MotoServer, glue: Any) -> None:
    glue.create_job(Name="features_accounts", Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://c/a.py"})
    moto_server.inject_glue_failure(JOB, ERROR)

    run_id = glue.start_job_run(JobName="features_accounts")["JobRunId"]

    assert glue.get_job_run(JobName="features_accounts", RunId=run_id)["JobRun"]["JobRunState"] == "SUCCEEDED"
    assert run(glue)["JobRunState"] == "FAILED"


def test_reset_clears_faults(moto_server: MotoServer, aws: str) -> None:
    moto_server.inject_glue_failure(JOB, ERROR)
    moto_server.reset()
    glue = boto3.client("glue", endpoint_url=aws, region_name="us-east-1")
    glue.create_job(Name=JOB, Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://c/b.py"})
    assert run(glue)["JobRunState"] == "SUCCEEDED"


def test_airflow_waiting_on_the_failed_run_fails(
    moto_server: MotoServer, glue: Any, aws: str, tmp_path: Path
) -> None:
    """GlueJobOperator(wait_for_completion=True) waits through GlueJobHook.job_completion."""
    moto_server.inject_glue_failure(JOB, ERROR)
    run_id = glue.start_job_run(JobName=JOB)["JobRunId"]
    script = textwrap.dedent(
        f"""
        from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
        hook = GlueJobHook(aws_conn_id=None, region_name="us-east-1", job_poll_interval=0)
        try:
            hook.job_completion({JOB!r}, {run_id!r})
        except Exception as err:
            print("RAISED", type(err).__name__, err)
        else:
            print("RETURNED")
        """
    )
    # A child process: importing Airflow here would configure it for the whole test session.
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AWS_ENDPOINT_URL": aws}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"RAISED AirflowException Exiting Job {run_id} Run State: FAILED" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize(
    "body",
    [{"glue_job": JOB}, {"error": ERROR}, {"glue_job": "", "error": ERROR}, {"glue_job": JOB, "error": 7}],
    ids=["no-error", "no-job", "empty-job", "error-not-text"],
)
def test_a_malformed_fault_is_refused(aws: str, body: dict[str, Any]) -> None:
    response = requests.post(f"{aws}/crossline-bed/faults", json=body, timeout=10)
    assert response.status_code == 400
    assert "glue_job" in response.json()["error"]
    assert requests.get(f"{aws}/crossline-bed/faults", timeout=10).json() == {"faults": {}, "throttle": []}


def test_the_client_raises_bed_error_when_the_server_refuses(moto_server: MotoServer, aws: str) -> None:
    with pytest.raises(BedError, match="HTTP 400"):
        moto_server.inject_glue_failure("", ERROR)
