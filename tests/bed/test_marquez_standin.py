"""The Marquez API stand-in, run as a child process on the bed's PostgreSQL.

Events go in through openlineage-python's HTTP transport or plain HTTP and come back
through marquez-python 0.50.0 and plain HTTP, as users of the bed do. Each test works in
namespaces of its own, so the tests share one stand-in and one fresh database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from marquez_client import MarquezClient
from marquez_client.errors import APIError
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import schema_dataset
from openlineage.client.transport.http import HttpConfig, HttpTransport

from crossline_bed.marquez_standin import StandinServer
from crossline_bed.postgres import Postgres
from crossline_bed.process import free_port, pid_alive

DB = "marquez_standin_test"
PRODUCER = "https://github.com/crossline/tests"
RUN_EVENT_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"


@pytest.fixture(scope="module")
def standin(bed_postgres: Postgres) -> Iterator[StandinServer]:
    pg = bed_postgres.up()
    pg.drop_database(DB)
    dsn = pg.ensure_database(DB)
    server = StandinServer(dsn, free_port(), free_port()).start(timeout=60)
    try:
        yield server
    finally:
        server.stop()
        pg.drop_database(DB)


@pytest.fixture
def api(standin: StandinServer) -> str:
    return f"{standin.url}/api/v1"


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own."""
    return f"crossline-{uuid.uuid4().hex[:8]}"


def event(
    ns: str, job: str, run_id: str, event_type: str, time: str,
    inputs: list[dict[str, Any]] | None = None, outputs: list[dict[str, Any]] | None = None,
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_URL,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": ns, "name": job, "facets": {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }


def post(api: str, body: dict[str, Any]) -> None:
    response = requests.post(f"{api}/lineage", json=body, timeout=10)
    assert response.status_code == 201, response.text


def event_count(api: str) -> int:
    return requests.get(f"{api}/events/lineage", params={"limit": 0}, timeout=10).json()["totalCount"]


# -- round trip through the official clients -----------------------------------------------
def test_openlineage_client_event_reads_back_through_marquez_python(standin: StandinServer, ns: str) -> None:
    bucket = f"s3://{ns}-bucket"
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=standin.url)))
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace=ns, name="train_model")
    schema = schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name="label", type="int"),
        schema_dataset.SchemaDatasetFacetFields(name="feature", type="double"),
    ])
    inputs = [InputDataset(namespace=bucket, name="features/train.csv", facets={"schema": schema})]
    outputs = [OutputDataset(namespace=bucket, name="models/model.tar.gz")]
    client.emit(RunEvent(eventType=RunState.START, eventTime="2024-05-01T10:00:00.000Z", run=run, job=job,
                         inputs=inputs, outputs=outputs, producer=PRODUCER))
    client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime="2024-05-01T10:05:30.250Z", run=run, job=job,
                         inputs=inputs, outputs=outputs, producer=PRODUCER))

    marquez = MarquezClient(standin.url)
    names = {n["name"] for n in marquez.list_namespaces(limit=1000)["namespaces"]}
    assert {ns, bucket} <= names
    namespace = marquez.get_namespace(ns)
    assert namespace["ownerName"] == "anonymous"
    assert namespace["isHidden"] is False

    dataset = marquez.get_dataset(bucket, "features/train.csv")
    assert dataset["id"] == {"namespace": bucket, "name": "features/train.csv"}
    assert dataset["type"] == "DB_TABLE"
    assert dataset["physicalName"] == "features/train.csv"
    assert dataset["sourceName"] == "default"
    assert [(f["name"], f["type"]) for f in dataset["fields"]] == [("label", "int"), ("feature", "double")]
    assert dataset["facets"]["schema"]["fields"][0]["name"] == "label"
    assert dataset["lastModifiedAt"] is None  # read, never written
    model = marquez.get_dataset(bucket, "models/model.tar.gz")
    assert model["lastModifiedAt"] == "2024-05-01T10:05:30.250Z"
    listed = marquez.list_datasets(bucket)
    assert listed["totalCount"] == 2
    assert [d["name"] for d in listed["datasets"]] == ["features/train.csv", "models/model.tar.gz"]

    got = marquez.get_job(ns, "train_model")
    assert got["id"] == {"namespace": ns, "name": "train_model"}
    assert got["type"] == "BATCH"
    assert got["inputs"] == [{"namespace": bucket, "name": "features/train.csv"}]
    assert got["outputs"] == [{"namespace": bucket, "name": "models/model.tar.gz"}]
    latest = got["latestRun"]
    assert latest["id"] == run.runId
    assert latest["state"] == "COMPLETED"
    assert latest["startedAt"] == "2024-05-01T10:00:00Z"
    assert latest["endedAt"] == "2024-05-01T10:05:30.250Z"
    assert latest["durationMs"] == 330250
    assert latest["jobVersion"] == {"namespace": ns, "name": "train_model", "version": got["currentVersion"]}
    assert [v["datasetVersionId"]["name"] for v in latest["outputDatasetVersions"]] == ["models/model.tar.gz"]
    assert model["currentVersion"] == latest["outputDatasetVersions"][0]["datasetVersionId"]["version"]

    runs = marquez.list_job_runs(ns, "train_model")
    assert runs["totalCount"] == 1
    assert [r["id"] for r in runs["runs"]] == [run.runId]
    assert marquez.get_job_run(run.runId)["state"] == "COMPLETED"

    versions = marquez.list_dataset_versions(bucket, "models/model.tar.gz")
    assert versions["totalCount"] == 1  # START and COMPLETE of one run write one version
    assert versions["versions"][0]["createdByRun"]["id"] == run.runId
    one = marquez.get_dataset_version(bucket, "models/model.tar.gz", model["currentVersion"])
    assert one["version"] == model["currentVersion"]


def test_lineage_graph_holds_the_job_dataset_edges(standin: StandinServer, api: str, ns: str) -> None:
    run_a, run_b = str(uuid.uuid4()), str(uuid.uuid4())
    raw = {"namespace": ns, "name": "raw/data"}
    feats = {"namespace": ns, "name": "features/data"}
    model = {"namespace": ns, "name": "model"}
    post(api, event(ns, "prep", run_a, "COMPLETE", "2024-05-02T10:00:00Z", [raw], [feats]))
    post(api, event(ns, "train", run_b, "COMPLETE", "2024-05-02T11:00:00Z", [feats], [model]))

    response = requests.get(f"{api}/lineage", params={"nodeId": f"dataset:{ns}:features/data", "depth": 20}, timeout=10)
    assert response.status_code == 200
    graph = {node["id"]: node for node in response.json()["graph"]}
    assert list(graph) == sorted(graph)
    assert set(graph) == {f"dataset:{ns}:raw/data", f"dataset:{ns}:features/data", f"dataset:{ns}:model",
                          f"job:{ns}:prep", f"job:{ns}:train"}
    prep = graph[f"job:{ns}:prep"]
    assert prep["type"] == "JOB"
    assert prep["inEdges"] == [{"origin": f"dataset:{ns}:raw/data", "destination": f"job:{ns}:prep"}]
    assert prep["outEdges"] == [{"origin": f"job:{ns}:prep", "destination": f"dataset:{ns}:features/data"}]
    assert prep["data"]["latestRun"]["id"] == run_a
    middle = graph[f"dataset:{ns}:features/data"]
    assert middle["type"] == "DATASET"
    assert middle["inEdges"] == [{"origin": f"job:{ns}:prep", "destination": f"dataset:{ns}:features/data"}]
    assert middle["outEdges"] == [{"origin": f"dataset:{ns}:features/data", "destination": f"job:{ns}:train"}]
    assert middle["data"]["id"] == feats

    # depth counts job-to-job steps: from prep, depth 0 stops before train.
    shallow = requests.get(f"{api}/lineage", params={"nodeId": f"job:{ns}:prep", "depth": 0}, timeout=10).json()
    assert {n["id"] for n in shallow["graph"]} == {f"job:{ns}:prep", f"dataset:{ns}:raw/data", f"dataset:{ns}:features/data"}


def test_lineage_of_a_dataset_no_job_touches_is_an_orphan_graph(api: str, ns: str) -> None:
    body = {"eventTime": "2024-05-02T12:00:00Z", "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/DatasetEvent",
            "dataset": {"namespace": ns, "name": "lonely", "facets": {}}}
    post(api, body)
    graph = requests.get(f"{api}/lineage", params={"nodeId": f"dataset:{ns}:lonely"}, timeout=10).json()["graph"]
    assert [(n["id"], n["type"], n["inEdges"], n["outEdges"]) for n in graph] == [(f"dataset:{ns}:lonely", "DATASET", [], [])]


def test_run_states_follow_event_types(api: str, ns: str) -> None:
    for job, event_type, state in [("a", "START", "RUNNING"), ("b", "FAIL", "FAILED"),
                                   ("c", "ABORT", "ABORTED"), ("d", "RUNNING", "RUNNING")]:
        run_id = str(uuid.uuid4())
        post(api, event(ns, job, run_id, event_type, "2024-05-03T10:00:00Z"))
        assert requests.get(f"{api}/jobs/runs/{run_id}", timeout=10).json()["state"] == state


def test_run_and_job_facets_merge_newest_last(api: str, ns: str) -> None:
    run_id = str(uuid.uuid4())
    first = event(ns, "facets", run_id, "START", "2024-05-04T10:00:00Z",
                  run_facets={"custom": {"_producer": PRODUCER, "_schemaURL": "https://s/1", "step": 1}})
    first["job"]["facets"] = {"documentation": {"_producer": PRODUCER, "_schemaURL": "https://s/2", "description": "trains"}}
    second = event(ns, "facets", run_id, "COMPLETE", "2024-05-04T10:01:00Z",
                   run_facets={"custom": {"_producer": PRODUCER, "_schemaURL": "https://s/1", "step": 2}})
    post(api, first)
    post(api, second)
    run_facets = requests.get(f"{api}/jobs/runs/{run_id}/facets", params={"type": "run"}, timeout=10).json()
    assert run_facets == {"runId": run_id, "facets": {"custom": {"_producer": PRODUCER, "_schemaURL": "https://s/1", "step": 2}}}
    job_facets = requests.get(f"{api}/jobs/runs/{run_id}/facets", params={"type": "job"}, timeout=10).json()
    assert job_facets["facets"]["documentation"]["description"] == "trains"
    assert requests.get(f"{api}/jobs/runs/{run_id}", timeout=10).json()["facets"]["custom"]["step"] == 2
    # COMPLETE carried no job facets, so Marquez's documentation description is overwritten.
    assert requests.get(f"{api}/namespaces/{ns}/jobs/facets", timeout=10).json()["description"] is None


def test_symlinks_are_aliases_of_the_dataset(api: str, ns: str) -> None:
    glue = f"arn:aws:glue:us-east-1:123456789012-{ns}"
    facets = {"symlinks": {"_producer": PRODUCER, "_schemaURL": "https://s/symlinks",
                           "identifiers": [{"namespace": glue, "name": "table/db/features", "type": "TABLE"}]}}
    post(api, event(ns, "write", str(uuid.uuid4()), "COMPLETE", "2024-05-05T10:00:00Z",
                    outputs=[{"namespace": f"s3://{ns}", "name": "warehouse/features", "facets": facets}]))
    client = MarquezClient(api.removesuffix("/api/v1"))
    via_alias = client.get_dataset(glue, "table/db/features")
    assert via_alias["id"] == {"namespace": f"s3://{ns}", "name": "warehouse/features"}
    assert client.list_datasets(glue)["totalCount"] == 0  # the alias is no dataset of its own


def test_parent_run_facet_links_the_parent_job(api: str, ns: str) -> None:
    parent_run, child_run = str(uuid.uuid4()), str(uuid.uuid4())
    post(api, event(ns, "dag", parent_run, "START", "2024-05-06T10:00:00Z"))
    parent = {"parent": {"_producer": PRODUCER, "_schemaURL": "https://s/parent",
                         "run": {"runId": parent_run}, "job": {"namespace": ns, "name": "dag"}}}
    post(api, event(ns, "dag.task", child_run, "START", "2024-05-06T10:00:01Z", run_facets=parent))
    job = requests.get(f"{api}/namespaces/{ns}/jobs/dag.task", timeout=10).json()
    assert job["name"] == "dag.task"
    assert job["simpleName"] == "task"
    assert job["parentJobName"] == "dag"
    assert job["latestRun"]["args"] == {"run_id": parent_run, "name": "dag", "namespace": ns}


def test_concurrent_posts_are_all_stored(api: str, ns: str) -> None:
    before = event_count(api)
    bodies = [event(ns, f"job{i % 4}", str(uuid.uuid4()), "COMPLETE", f"2024-05-07T10:00:{i:02d}Z",
                    [{"namespace": ns, "name": "shared"}], [{"namespace": ns, "name": f"out{i}"}]) for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda b: requests.post(f"{api}/lineage", json=b, timeout=30).status_code, bodies))
    assert statuses == [201] * 24
    assert event_count(api) == before + 24
    assert requests.get(f"{api}/namespaces/{ns}/jobs", timeout=10).json()["totalCount"] == 4
    assert requests.get(f"{api}/namespaces/{ns}/datasets", timeout=10).json()["totalCount"] == 25


# -- what Marquez refuses -------------------------------------------------------------------
def _valid(ns: str) -> dict[str, Any]:
    return event(ns, "job", str(uuid.uuid4()), "START", "2024-05-08T10:00:00Z")


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda e: e.pop("eventTime"), "eventTime must not be null"),
        (lambda e: e["run"].pop("runId"), "run.runId must not be null"),
        (lambda e: e["job"].pop("namespace"), "job.namespace must not be null"),
        (lambda e: e["job"].pop("name"), "job.name must not be null"),
        (lambda e: e.pop("run"), "run must not be null"),
        (lambda e: e.pop("producer"), "producer must not be null"),
        (lambda e: e.update(inputs=[{"namespace": "x", "name": None}]), "inputs[0].name must not be null"),
    ],
    ids=["eventTime", "runId", "job.namespace", "job.name", "run", "producer", "input name"],
)
def test_event_missing_a_required_field_is_422_and_not_stored(api: str, ns: str, mutate: Any, error: str) -> None:
    body = _valid(ns)
    mutate(body)
    before = event_count(api)
    response = requests.post(f"{api}/lineage", json=body, timeout=10)
    assert response.status_code == 422
    assert response.json() == {"errors": [error]}
    assert event_count(api) == before
    assert requests.get(f"{api}/namespaces/{ns}", timeout=10).status_code == 404


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"eventTime": "2021-11-03", "eventType": "START", "producer": "p",'
                   b' "run": {"runId": "123e4567-e89b-12d3-a456-426614174000"}, "job": {"namespace": "n", "name": "j"}}'],
    ids=["bad json", "date without time"],
)
def test_unreadable_event_gets_marquez_json_error_and_is_not_stored(api: str, body: bytes) -> None:
    before = event_count(api)
    response = requests.post(f"{api}/lineage", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    # Marquez's JsonProcessingExceptionMapper answers serverError() with a 400 body.
    assert response.status_code == 500
    assert response.json()["code"] == 400
    assert event_count(api) == before


def test_namespace_marquez_refuses_is_400_and_not_stored(api: str, ns: str) -> None:
    body = _valid(ns)
    body["inputs"] = [{"namespace": "sqlserver://h:1;password=\U0001F602", "name": "t"}]
    before = event_count(api)
    assert requests.post(f"{api}/lineage", json=body, timeout=10).status_code == 400
    assert event_count(api) == before


def test_marquez_leniencies_are_kept(api: str, ns: str) -> None:
    """Marquez accepts a non-UUID runId (name-based UUID) and an unknown eventType (RUNNING)."""
    body = _valid(ns)
    body["run"]["runId"] = "not-a-uuid"
    body["eventType"] = "SOMETHING"
    post(api, body)
    run = requests.get(f"{api}/namespaces/{ns}/jobs/job", timeout=10).json()["latestRun"]
    # Java's UUID.nameUUIDFromBytes("not-a-uuid".getBytes())
    assert run["id"] == str(uuid.UUID(bytes=_md5_v3(b"not-a-uuid")))
    assert run["state"] == "RUNNING"


def _md5_v3(data: bytes) -> bytes:
    import hashlib

    digest = bytearray(hashlib.md5(data).digest())
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return bytes(digest)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/namespaces/{ns}-missing", "Namespace '{ns}-missing' not found."),
        ("/namespaces/{ns}-missing/datasets", "Namespace '{ns}-missing' not found."),
        ("/namespaces/{ns}/datasets/nope%2Fnothing", "Dataset 'nope/nothing' not found."),
        ("/namespaces/{ns}/datasets/nope/versions", "Dataset 'nope' not found."),
        ("/namespaces/{ns}/jobs/nope", "Job 'nope' not found."),
        ("/namespaces/{ns}/jobs/nope/runs", "Job 'nope' not found."),
        ("/jobs/runs/00000000-0000-0000-0000-000000000001", "Run '00000000-0000-0000-0000-000000000001' not found."),
        ("/lineage?nodeId=dataset:{ns}:nope", "Dataset 'nope' not found."),
        ("/lineage?nodeId=job:{ns}:nope", "Job 'nope' not found."),
        ("/no/such/resource", "HTTP 404 Not Found"),
    ],
)
def test_unknown_names_are_404_with_marquez_error_body(api: str, ns: str, path: str, message: str) -> None:
    post(api, _valid(ns))  # the namespace exists, so the 404 is about the name after it
    response = requests.get(api + path.format(ns=ns), timeout=10)
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": message.format(ns=ns)}


def test_marquez_python_raises_on_unknown_dataset(standin: StandinServer, ns: str) -> None:
    with pytest.raises(APIError):
        MarquezClient(standin.url).get_dataset(ns, "missing/data")


# -- /events/lineage ------------------------------------------------------------------------
def test_events_lineage_pages_sorts_and_filters_by_time(api: str, ns: str) -> None:
    times = [f"2031-01-0{d}T00:00:00Z" for d in range(1, 6)]  # after the default 'before'
    for i, time in enumerate(times):
        post(api, event(ns, f"paged{i}", str(uuid.uuid4()), "START", time))
    window = {"after": "2031-01-01T00:00:00Z", "before": "2031-02-01T00:00:00Z"}

    def page(**params: Any) -> dict[str, Any]:
        response = requests.get(f"{api}/events/lineage", params={**window, **params}, timeout=10)
        assert response.status_code == 200
        return response.json()

    first = page(limit=2, offset=0)
    assert first["totalCount"] == 5
    assert [e["eventTime"] for e in first["events"]] == [times[4], times[3]]  # desc by default
    assert [e["eventTime"] for e in page(limit=2, offset=2)["events"]] == [times[2], times[1]]
    assert [e["eventTime"] for e in page(limit=2, offset=4)["events"]] == [times[0]]
    assert [e["eventTime"] for e in page(limit=10, sortDirection="asc")["events"]] == times
    assert page(after="2031-01-03T00:00:00Z")["totalCount"] == 3
    # Events come back exactly as they were sent.
    assert page(limit=1, sortDirection="asc")["events"][0]["job"] == {"namespace": ns, "name": "paged0", "facets": {}}
    # The default window ends in 2030, so these events are outside it.
    defaults = requests.get(f"{api}/events/lineage", params={"limit": 1000}, timeout=10).json()
    assert not any(e.get("job", {}).get("namespace") == ns for e in defaults["events"])
    assert requests.get(f"{api}/events/lineage", params={"limit": -1}, timeout=10).status_code == 400


# -- admin and process ----------------------------------------------------------------------
def test_admin_healthcheck_ping_and_standin_header(standin: StandinServer, api: str) -> None:
    health = requests.get(f"{standin.admin_url}/healthcheck", timeout=10)
    assert health.status_code == 200
    assert health.json()["postgresql"]["healthy"] is True
    assert requests.get(f"{standin.admin_url}/ping", timeout=10).text == "pong\n"
    assert requests.get(f"{api}/namespaces", timeout=10).headers["X-Crossline-Standin"] == "marquez-0.50-api"
    assert standin.pid is not None and pid_alive(standin.pid)
    assert "crossline Marquez stand-in" in standin.log.read_text()


def test_start_refuses_a_port_in_use(standin: StandinServer) -> None:
    from crossline_bed.errors import BedConfigError

    with pytest.raises(BedConfigError, match="CROSSLINE_MARQUEZ_PORT"):
        StandinServer(standin.dsn, standin.port, free_port()).start(timeout=5)


def test_events_survive_json_roundtrip(api: str, ns: str) -> None:
    body = _valid(ns)
    body["run"]["facets"] = {"unicode": {"_producer": PRODUCER, "_schemaURL": "https://s/u", "text": "caf\u00e9 \u2603"}}
    post(api, body)
    stored = requests.get(f"{api}/events/lineage", params={"limit": 1000, "after": "2024-05-08T00:00:00Z",
                                                           "before": "2024-05-09T00:00:00Z"}, timeout=10).json()
    mine = [e for e in stored["events"] if e["run"]["runId"] == body["run"]["runId"]]
    assert json.dumps(mine[0], sort_keys=True) == json.dumps(body, sort_keys=True)
