"""The lineage API for jobs outside Airflow, read back from the bed's Marquez."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import documentation_job, nominal_time_run
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline_bed.process import LOOPBACK, free_port
from crossline.emitters import api
from crossline.emitters.api import STATS, lineage, lineage_run, run_id_from


@pytest.fixture
def client(marquez) -> OpenLineageClient:
    return OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict({"url": marquez.url})))


def run_events(url: str, run_id: str) -> list[dict[str, Any]]:
    """This run's events in Marquez, oldest first: the last minutes' events, page by page."""
    now = datetime.now(timezone.utc)
    params = {
        "after": (now - timedelta(minutes=10)).isoformat(),
        "before": (now + timedelta(minutes=10)).isoformat(),
        "sortDirection": "desc",
        "limit": 1000,
    }
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = requests.get(f"{url}/api/v1/events/lineage", params={**params, "offset": offset}, timeout=30)
        response.raise_for_status()
        page = response.json()["events"]
        found += [e for e in page if e["run"]["runId"] == run_id]
        offset += len(page)
        if not page or offset >= response.json()["totalCount"]:
            return found[::-1]


def names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


@pytest.mark.marquez
def test_success_emits_start_and_complete_with_inputs_outputs_and_facets(marquez, client, namespace) -> None:
    with lineage_run(
        "credit.assemble",
        namespace=namespace,
        inputs=["s3://credit-raw/applications/2024/", ("postgres://crm:5432", "crm.customers")],
        outputs=[OutputDataset(namespace="s3://credit-features", name="assembled")],
        run_facets={"nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime="2024-01-01T00:00:00Z")},
        job_facets={"documentation": documentation_job.DocumentationJobFacet(description="assemble features")},
        client=client,
    ) as run:
        run.add_output("s3://credit-features/assembled-summary/")
        run.add_input(InputDataset(namespace="s3://credit-raw", name="bureau"))

    start, complete = run_events(marquez.url, run.run_id)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert (start["job"]["namespace"], start["job"]["name"]) == (namespace, "credit.assemble")
    assert start["job"]["facets"]["documentation"]["description"] == "assemble features"
    assert start["run"]["facets"]["nominalTime"]["nominalStartTime"] == "2024-01-01T00:00:00Z"
    assert names(start["inputs"]) == [("s3://credit-raw", "applications/2024"), ("postgres://crm:5432", "crm.customers")]
    assert names(start["outputs"]) == [("s3://credit-features", "assembled")]
    assert names(complete["inputs"]) == names(start["inputs"]) + [("s3://credit-raw", "bureau")]
    assert names(complete["outputs"]) == [("s3://credit-features", "assembled"), ("s3://credit-features", "assembled-summary")]
    assert start["producer"] == api.PRODUCER

    state = requests.get(f"{marquez.url}/api/v1/jobs/runs/{run.run_id}", timeout=30).json()["state"]
    assert state == "COMPLETED"


def _score_applicants() -> None:
    raise ValueError("bureau file has no header")


@pytest.mark.marquez
def test_exception_emits_fail_with_error_message_and_the_job_exception_propagates(marquez, client, namespace) -> None:
    with pytest.raises(ValueError, match="bureau file has no header"):
        with lineage_run("credit.score", namespace=namespace, inputs=["s3://credit-raw/bureau"], client=client) as run:
            _score_applicants()

    start, fail = run_events(marquez.url, run.run_id)
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: bureau file has no header"
    assert error["programmingLanguage"] == "python"
    assert "_score_applicants" in error["stackTrace"] and error["stackTrace"].startswith("Traceback")
    assert error["_schemaURL"].startswith("https://openlineage.io/spec/facets/")
    assert names(fail["inputs"]) == [("s3://credit-raw", "bureau")]
    assert requests.get(f"{marquez.url}/api/v1/jobs/runs/{run.run_id}", timeout=30).json()["state"] == "FAILED"


@pytest.mark.marquez
def test_decorator_is_one_run_per_call_with_a_deterministic_run_id(marquez, client, namespace) -> None:
    rid = run_id_from(namespace, "credit.train", "2024-01-01")

    @lineage("credit.train", inputs=["s3://credit-features/assembled"], outputs=["s3://credit-models/v1/"],
             namespace=namespace, client=client, run_id=rid)
    def train(epochs: int) -> str:
        return f"trained {epochs}"

    assert train(3) == "trained 3"
    assert train.__name__ == "train"
    start, complete = run_events(marquez.url, rid)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert names(complete["outputs"]) == [("s3://credit-models", "v1")]


def test_lineage_errors_never_reach_the_job(caplog: pytest.LogCaptureFixture) -> None:
    dead = OpenLineageClient(
        transport=HttpTransport(HttpConfig.from_dict({"url": f"http://{LOOPBACK}:{free_port()}", "retry": {"total": 0}}))
    )
    before = STATS.errors
    with caplog.at_level(logging.ERROR, logger="crossline.emitters.api"):
        with lineage_run("credit.assemble", inputs=["nfs://no/rule/for/this", ("ns", "kept")], client=dead) as run:
            run.add_output(42)  # type: ignore[arg-type]
            result = "the job ran"
    assert result == "the job ran"
    # bad input, bad output, START and COMPLETE refused by a dead backend
    assert STATS.errors - before == 4
    assert "leaving input 'nfs://no/rule/for/this' out of the event" in caplog.text
    assert [d.name for d in run.inputs] == ["kept"]


def test_default_client_is_configured_the_openlineage_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(api, "_clients", {})
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "crossline_durable_http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", f"http://{LOOPBACK}:{free_port()}")  # down
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__SPOOL_DIR", str(tmp_path / "spool"))

    with lineage_run("credit.assemble", inputs=[("ns", "in")]):
        pass

    spooled = [json.loads(f.read_text()) for f in sorted((tmp_path / "spool").glob("*.json"))]
    assert [e["eventType"] for e in spooled] == ["START", "COMPLETE"]
    assert names(spooled[0]["inputs"]) == [("ns", "in")]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("dag", "task", 1), ("dag", "task", 1), True),
        (("dag", "task", 1), ("dag", "task", 2), False),
        (("dag", "task", 1), ("dag", "task", "1"), True),  # keys are compared as text
        (("a", "bc"), ("ab", "c"), False),  # no ambiguity from joining
    ],
)
def test_run_id_from_is_deterministic_in_its_keys(a: tuple, b: tuple, same: bool) -> None:
    assert (run_id_from(*a) == run_id_from(*b)) is same
    assert uuid.UUID(run_id_from(*a)).version == 5


def test_run_id_from_with_an_instant_is_the_openlineage_uuid7() -> None:
    instant = datetime(2024, 1, 1, tzinfo=timezone.utc)
    first = run_id_from("dag", "task", instant=instant)
    assert first == run_id_from("dag", "task", instant=instant)
    assert uuid.UUID(first).version == 7
    later = run_id_from("dag", "task", instant=instant + timedelta(days=1))
    assert later > first  # time-ordered


def test_run_id_from_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        run_id_from()
