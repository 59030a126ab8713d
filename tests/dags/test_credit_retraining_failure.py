"""A Glue feature job fails: the run fails, says why in lineage, and registers nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

from crossline_bed.airflow import AirflowBed
from crossline_bed.aws import MotoServer
from crossline_bed.marquez import MarquezState
from crossline_bed.scenario import DAG_ID, EARLIER_VERSIONS, GROUP, STORY_WEEKS, CreditBed

REPO = Path(__file__).resolve().parents[2]
DOWNSTREAM = ("assemble_training_set", "train", "evaluate", "register", "await_approval", "create_model", "create_endpoint_config", "deploy")


def test_failed_glue_run_fails_the_dag_with_the_error_and_nothing_downstream(
    tmp_path: Path, moto_server: MotoServer, marquez: MarquezState
) -> None:
    moto_server.reset()
    namespace = f"credit-fail-{uuid.uuid4().hex[:8]}"
    airflow = AirflowBed(tmp_path / "airflow", REPO / "dags", marquez_url=marquez.url,
                         aws_endpoint_url=moto_server.endpoint_url, namespace=namespace)
    bed = CreditBed(moto_server, airflow)
    bed.seed()
    moto_server.inject_glue_failure("features_behaviour", "AnalysisException: Path does not exist: s3://credit-raw/behaviour/")
    week = STORY_WEEKS[0]
    moto_server.set_clock(week.starts_at)

    result = airflow.run_dag(DAG_ID, logical_date=week.logical_date, conf={"week": week.week})

    assert result.state == "failed"
    assert result.task_states["features[behaviour]"] == "failed"
    assert result.task_states["features[accounts]"] == "success"
    assert all(result.task_states[t] == "upstream_failed" for t in DOWNSTREAM)
    fail = [e for e in result.task_events("features", map_index=1) if e["eventType"] == "FAIL"]
    assert len(fail) == 1
    error = fail[0]["run"]["facets"]["errorMessage"]
    assert "Path does not exist" in error["message"] or "FAILED" in error["message"]
    dag_end = [e for e in result.events if e["job"]["name"] == DAG_ID]
    assert [e["eventType"] for e in dag_end] == ["FAIL"]
    packages = bed.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP, MaxResults=100)["ModelPackageSummaryList"]
    assert max(int(p["ModelPackageVersion"]) for p in packages) == EARLIER_VERSIONS
    assert bed.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
