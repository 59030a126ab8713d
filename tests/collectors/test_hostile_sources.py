"""Hostile input in every source that reads events or records: data capture, SageMaker, Marquez.

- Data capture: a capture file (a local copy of the story's) with hostile lines among
  real records; each is warned about at its file and line, the rest is the store of the
  good records alone, on SQLite and PostgreSQL. A JSON string holding U+2028 is good
  (``str.splitlines`` used to cut the line there).
- SageMaker: moto keeps what boto3 sends it, so a package description with a NUL and
  hyperparameters with a lone surrogate come back from Describe* calls: the record is
  refused by the collector's guard, naming the call, and the rest of the read is stored.
- Marquez: the bed's stand-in takes events crossline refuses (an unknown eventType, a
  run id reused with another job, a wrong-typed facet); the Marquez source warns about
  each with the request that returns it alone. A page Python cannot parse (an event
  nested 10,000 deep, which no real Marquez serves but a proxy or a bug could) is read
  again an event at a time, from a small server of the test's own that answers the
  events API from a list (a stand-in for that answer, not for Marquez).
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests

from crossline_bed.aws import TEST_ENV
from crossline_bed.marquez import MarquezState
from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.model import NodeKind
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.times import iso

SAMPLE = Path(str(files("crossline").joinpath("samples/credit")))
REGION, ACCOUNT = TEST_ENV["AWS_DEFAULT_REGION"], "123456789012"
GOOD_RECORD = json.loads(next((SAMPLE / "datacapture").rglob("*.jsonl")).read_text().splitlines()[0])


# -- data capture ---------------------------------------------------------------------------
def record(inference: str, **change: Any) -> dict[str, Any]:
    made = json.loads(json.dumps(GOOD_RECORD))
    made["eventMetadata"] = {**made["eventMetadata"], "inferenceId": inference, "eventId": str(uuid.uuid4())}
    made.update(change)
    return made


HOSTILE_LINES = [
    ("NaN", json.dumps(record("loan-nan", captureData={"endpointOutput": {"data": float("nan")}})), "hostile"),
    ("NUL", json.dumps(record("loan\x00nul")), "hostile"),
    ("lone surrogate", json.dumps(record("loan-\udc80")), "hostile"),
    ("a key twice", json.dumps(record("loan-dup"))[:-1] + ',"eventVersion":"1"}', "hostile"),
    ("10,000-deep", json.dumps(record("loan-deep"))[:-1] + ',"x":' + "[" * 10_000 + "]" * 10_000 + "}", "unreadable"),
    ("an id too long to index", json.dumps(record("loan-" + "9" * 2000)), "hostile"),
    ("not JSON", '{"eventMetadata": {', "unreadable"),
]


def _capture(folder: Path, extra: list[str]) -> Path:
    shutil.copytree(SAMPLE / "datacapture", folder)
    target = next(folder.rglob("*.jsonl"))
    with target.open("a") as handle:
        for line in extra:
            handle.write(line + "\n")
    return target


def _collect_capture(url: str, folder: Path) -> tuple[dict[str, Any], list[Any]]:
    source = source_from_config({"type": "data-capture", "prefixes": [str(folder)], "region": REGION,
                                 "account": ACCOUNT})
    with GraphStore.open(url) as store:
        report = collect(store, [source])
        return Graph(store).dump(), report.sources["data-capture"].warnings


def test_hostile_capture_lines_are_refused_and_the_good_records_kept(store_url: str, tmp_path: Path) -> None:
    # Good, though str.splitlines would break the line at U+2028.
    breaks = json.dumps(record("loan-2028", captureData={"endpointOutput": {"data": "0.5\u2028line"}}),
                        ensure_ascii=False)
    target = _capture(tmp_path / "capture", [breaks])
    expected, warnings = _collect_capture(f"sqlite:///{tmp_path / 'good.db'}", tmp_path / "capture")
    assert not warnings
    inference = next(n for n in expected["nodes"] if n["name"] == "loan-2028")
    assert inference["props"]["output"]["data"] == "0.5\u2028line"

    with target.open("a", encoding="utf-8") as handle:  # the same file, hostile lines after the good
        handle.writelines(line + "\n" for _, line, _ in HOSTILE_LINES)
    got, warnings = _collect_capture(store_url, tmp_path / "capture")
    assert got == expected
    first = target.read_text(encoding="utf-8").count("\n") - len(HOSTILE_LINES) + 1  # the first hostile line
    uri = target.resolve().as_uri()
    assert [(w.where, w.kind) for w in warnings] == [
        (f"{uri}:{first + i}", kind) for i, (_, _, kind) in enumerate(HOSTILE_LINES)], warnings


# -- SageMaker --------------------------------------------------------------------------------
def test_hostile_sagemaker_records_are_refused_naming_the_call(aws: str, store_url: str) -> None:
    sm = boto3.client("sagemaker", endpoint_url=aws, region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName="credit-xgb")
    clean = sm.create_model_package(ModelPackageGroupName="credit-xgb", ModelApprovalStatus="PendingManualApproval",
                                    InferenceSpecification=_inference())["ModelPackageArn"]
    nul = sm.create_model_package(ModelPackageGroupName="credit-xgb", ModelApprovalStatus="PendingManualApproval",
                                  InferenceSpecification=_inference())["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=nul, ModelApprovalStatus="Rejected", ApprovalDescription="bad\x00note")
    sm.create_training_job(
        TrainingJobName="credit-xgb-surrogate", RoleArn=f"arn:aws:iam::{ACCOUNT}:role/credit-ml",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        HyperParameters={"eta": "0.2\ud800"}, OutputDataConfig={"S3OutputPath": "s3://credit/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    source = source_from_config({"type": "sagemaker", "region": REGION, "endpoint_url": aws})
    with GraphStore.open(store_url) as store:
        report = collect(store, [source])
        graph = Graph(store)
        assert graph.has_node(clean) and not graph.has_node(nul)
        assert not list(graph.nodes(NodeKind.TRAINING_JOB))
        refused = [w for w in report.sources["sagemaker"].warnings if w.kind == "hostile"]
        # What carries the NUL (the package, its approval action and decision) or the surrogate (the
        # job, and the trial component SageMaker Experiments keeps of it with its hyperparameters).
        assert sorted(w.why.split(" record refused")[0] for w in refused) == [
            "approval", "model_package", "sagemaker_action", "sagemaker_trial_component", "training_job"], refused
        assert all(("NUL" in w.why) != ("surrogate" in w.why) for w in refused)
        assert {w.where.split(" (")[0] for w in refused} == {
            "DescribeModelPackage", "DescribeTrainingJob", "ListActions+DescribeAction",
            "ListAssociations(package artifact)+DescribeAction", "ListTrialComponents+DescribeTrialComponent"}
        assert {e.warning.kind for e in graph.log(source="sagemaker")} >= {"hostile"}


def _inference() -> dict[str, Any]:
    return {"Containers": [{"Image": "img", "ModelDataUrl": "s3://credit/models/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}


# -- Marquez -----------------------------------------------------------------------------------
GOOD_EVENT = json.loads((SAMPLE / "events.jsonl").read_text().splitlines()[0])


def _event(namespace: str, when: datetime, run: str, job: str, **change: Any) -> dict[str, Any]:
    made = json.loads(json.dumps(GOOD_EVENT))
    made.update({"eventTime": iso(when), "eventType": "COMPLETE", "run": {**made["run"], "runId": run},
                 "job": {**made["job"], "namespace": namespace, "name": job}, **change})
    return made


def test_the_marquez_source_warns_about_each_refused_event_with_the_call_that_returns_it(
    marquez: MarquezState, namespace: str,
) -> None:
    when = datetime(2300, 1, 1, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 50_000_000)
    run = str(uuid.uuid4())
    bad_facet = _event(namespace, when + timedelta(seconds=1), str(uuid.uuid4()), "b")
    bad_facet["run"]["facets"]["crossline_hyperparameters"] = {"_producer": "p", "_schemaURL": "s", "hyperparameters": 5}
    events = [
        _event(namespace, when, run, "a"),
        bad_facet,
        _event(namespace, when + timedelta(seconds=2), run, "not-a"),  # the run is a's
        _event(namespace, when + timedelta(seconds=3), str(uuid.uuid4()), "c", eventType="EXPLODE"),
    ]
    for event in events:
        answer = requests.post(f"{marquez.url}/api/v1/lineage", json=event, timeout=30)
        assert answer.status_code in (200, 201), answer.text
    source = source_from_config({"type": "marquez", "url": marquez.url, "namespaces": [namespace], "catalog": False,
                                 "start": iso(when), "end": iso(when + timedelta(minutes=1))})
    warnings = [w for batch in source.read(None) for w in batch.warnings]
    assert [w.kind for w in warnings] == ["invalid-part", "conflict", "invalid-event"], warnings
    assert all(w.source == "marquez" and w.where.startswith("GET /api/v1/events/lineage?after=") for w in warnings)
    assert warnings[0].where.endswith("&offset=1&limit=1")


@pytest.fixture
def canned_marquez() -> Iterator[tuple[str, list[str]]]:
    """A server answering Marquez's events API from a list of raw event texts, by offset and limit."""
    good = [json.dumps(_event("canned", datetime(2027, 3, 6, 3, 14, tzinfo=UTC), str(uuid.uuid4()), f"j{i}"))
            for i in range(3)]
    deep = good[1][:-1] + ',"x":' + "[" * 10_000 + "]" * 10_000 + "}"
    texts, hits = [good[0], deep, good[2]], []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            query = parse_qs(urlparse(self.path).query)
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            page = texts[offset: offset + limit]
            body = ('{"events": [' + ",".join(page) + f'], "totalCount": {len(texts)}' + "}").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_that_cannot_be_parsed_is_read_an_event_at_a_time(canned_marquez: tuple[str, list[str]]) -> None:
    url, hits = canned_marquez
    source = source_from_config({"type": "marquez", "url": url, "catalog": False})
    batches = list(source.read(None))
    warnings = [w for b in batches for w in b.warnings]
    assert [(w.kind, w.where.rsplit("&", 2)[-2:]) for w in warnings] == [("unreadable", ["offset=1", "limit=1"])]
    assert len({n.id for b in batches for n in b.nodes if n.kind == NodeKind.RUN and n.props}) == 2  # not the parent
    assert sum(b.scanned for b in batches) == 3 and batches[-1].watermark.endswith("|3")
    assert any("limit=1" in h for h in hits)
