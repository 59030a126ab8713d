"""The Marquez the tests use keeps Marquez 0.50.0's own contract, for every call crossline makes.

The contract is Marquez's: its OpenAPI description and the OpenLineage events its own
tests send (``../shared/spec/marquez-0.50.0/``). Run against the session's Marquez (the
bed's stand-in, or a real Marquez through ``CROSSLINE_MARQUEZ_URL``), this posts every
one of Marquez's accepted test events, then calls each endpoint crossline calls (the
durable transport and write-back POST ``/lineage``; the ``marquez`` source reads
``/events/lineage`` and, through marquez-python, namespaces, datasets and jobs; tests and
the benchmark read ``/lineage``) and validates each answer's status against the operation's
documented responses and its body against the documented schema, with jsonschema over
the spec's component schemas.

Where the spec and real Marquez differ, Marquez's behaviour is taken (the first two are
noted in the spec folder's README, from Marquez's 0.50.0 source): ``POST /lineage``
answers 201 where the spec lists only 200; responses keep ``null`` fields the schemas do
not mark nullable, so nulls are dropped before validation; and a lineage graph node's
``data`` is a Dataset or a Job as its ``type`` says (the spec's OpenAPI discriminator,
restated in JSON Schema).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from crossline_bed.marquez import MarquezState

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "spec" / "marquez-0.50.0"
SPEC_URI = "urn:marquez-0.50.0:openapi"


class _NoTimestamps(yaml.SafeLoader):
    """YAML as the OpenAPI document means it: dates in examples stay strings."""


_NoTimestamps.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _spec() -> dict[str, Any]:
    spec = yaml.load((SPEC_DIR / "openapi.yml").read_text(), Loader=_NoTimestamps)  # noqa: S506
    # GraphNode.data is a oneOf of Dataset and Job with an OpenAPI discriminator, which JSON
    # Schema does not know; and the two schemas overlap, so "exactly one" can never hold.
    # The discriminator's intent is the node's type: say that in JSON Schema.
    node = spec["components"]["schemas"]["GraphNode"]
    node["properties"]["data"] = {"type": "object"}
    node["allOf"] = [
        {"if": {"properties": {"type": {"const": kind}}},
         "then": {"properties": {"data": {"$ref": f"#/components/schemas/{schema}"}}}}
        for kind, schema in (("DATASET", "Dataset"), ("JOB", "Job"))
    ]
    return spec


SPEC = _spec()
REGISTRY = Registry().with_resource(SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT7))


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _operation(path: str, method: str) -> dict[str, Any]:
    return SPEC["paths"][path][method]


def check(response: requests.Response, path: str, method: str = "get") -> Any:
    """The answer conforms to the documented operation: status listed, body valid."""
    operation = _operation(path, method)
    documented = set(operation["responses"])
    status = str(response.status_code)
    if method == "post" and path == "/lineage" and status == "201":
        status = "200"  # Marquez answers 201 (see the module docstring)
    assert status in documented, f"{method.upper()} {path} answered {response.status_code}, documented: {documented}"
    content = operation["responses"][status].get("content")
    if not content:
        return None
    schema = content["application/json"]["schema"]
    body = response.json()
    validator = Draft7Validator({"$ref": f"{SPEC_URI}#{schema['$ref'][1:]}"}, registry=REGISTRY)
    errors = sorted(validator.iter_errors(_drop_nulls(body)), key=lambda e: list(e.path))
    assert not errors, f"{method.upper()} {path}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5])
    return body


def _accepted_events() -> list[tuple[str, dict[str, Any]]]:
    files = sorted(SPEC_DIR.glob("open_lineage_events/*.json")) + sorted(SPEC_DIR.glob("open_lineage_events/*/*.json"))
    return [(str(f.relative_to(SPEC_DIR)), json.loads(f.read_text())) for f in files]


def _renamespaced(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The event with its namespaces and run id made this test run's own (Marquez keeps everything)."""
    text = json.dumps(event)
    for ns in sorted(set(re.findall(r'"namespace": "([^"]+)"', text)), key=len, reverse=True):
        text = text.replace(f'"namespace": "{ns}"', f'"namespace": "{ns}-{suffix}"')
    body = json.loads(text)
    if isinstance(body.get("run"), dict):
        body["run"]["runId"] = str(uuid.uuid4())
    return body


@pytest.fixture(scope="module")
def posted(marquez: MarquezState) -> list[dict[str, Any]]:
    """Marquez's own accepted test events, each POSTed once, as stored."""
    suffix = uuid.uuid4().hex[:8]
    bodies = []
    for name, event in _accepted_events():
        body = _renamespaced(event, suffix)
        response = requests.post(f"{marquez.url}/api/v1/lineage", json=body, timeout=30)
        assert response.status_code in (200, 201), f"{name}: {response.status_code} {response.text[:300]}"
        check(response, "/lineage", "post")
        bodies.append(body)
    return bodies


def _get(marquez: MarquezState, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{marquez.url}/api/v1{path}", params=params, timeout=30)


def test_events_lineage_as_the_marquez_source_reads_it(marquez: MarquezState, posted: list[dict[str, Any]]) -> None:
    times = sorted(e["eventTime"] for e in posted if "eventTime" in e)
    body = check(_get(marquez, "/events/lineage", after="1970-01-01T00:00:00Z", before="9999-12-31T23:59:59Z",
                      limit=1000, offset=0, sortDirection="asc"), "/events/lineage")
    assert body["totalCount"] >= len(posted)
    assert times


def test_namespaces_datasets_and_jobs_as_marquez_python_reads_them(
    marquez: MarquezState, posted: list[dict[str, Any]]
) -> None:
    check(_get(marquez, "/namespaces", limit=100, offset=0), "/namespaces")
    seen_datasets = seen_jobs = 0
    for event in posted:
        job = event.get("job") or {}
        ns = job.get("namespace")
        if not ns:
            continue
        check(_get(marquez, f"/namespaces/{quote(ns, safe='')}"), "/namespaces/{namespace}")
        check(_get(marquez, f"/namespaces/{quote(ns, safe='')}/jobs", limit=100, offset=0), "/namespaces/{namespace}/jobs")
        check(_get(marquez, f"/namespaces/{quote(ns, safe='')}/jobs/{quote(job['name'], safe='')}"),
              "/namespaces/{namespace}/jobs/{job}")
        seen_jobs += 1
        for dataset in (event.get("inputs") or []) + (event.get("outputs") or []):
            dns = quote(dataset["namespace"], safe="")
            check(_get(marquez, f"/namespaces/{dns}/datasets", limit=100, offset=0), "/namespaces/{namespace}/datasets")
            check(_get(marquez, f"/namespaces/{dns}/datasets/{quote(dataset['name'], safe='')}"),
                  "/namespaces/{namespace}/datasets/{dataset}")
            seen_datasets += 1
    assert seen_jobs and seen_datasets


def test_lineage_graph_of_a_posted_dataset(marquez: MarquezState, posted: list[dict[str, Any]]) -> None:
    event = next(e for e in posted if e.get("outputs"))
    out = event["outputs"][0]
    body = check(_get(marquez, "/lineage", nodeId=f"dataset:{out['namespace']}:{out['name']}", depth=20), "/lineage")
    assert any(node["type"] == "DATASET" for node in body["graph"])


@pytest.mark.parametrize("missing", ["run", "job", "eventTime", "producer"])
def test_an_event_missing_a_required_field_is_refused_as_marquez_refuses_it(marquez: MarquezState, missing: str) -> None:
    """Marquez's validation tests: each of these answers 422 and nothing is stored."""
    _, event = next(e for e in _accepted_events() if e[0].endswith("event_simple.json"))
    body = _renamespaced(event, uuid.uuid4().hex[:8])
    del body[missing]
    response = requests.post(f"{marquez.url}/api/v1/lineage", json=body, timeout=30)
    assert response.status_code == 422, response.text[:300]


def test_unreadable_json_is_marquezs_500_with_a_400_body(marquez: MarquezState) -> None:
    """Real Marquez's JsonProcessingExceptionMapper: 500, body code 400; a client must not wait for it forever."""
    response = requests.post(f"{marquez.url}/api/v1/lineage", data=b'{"eventTime": "2021-11-03", "run": {',
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 500
    assert response.json()["code"] == 400


def test_the_contract_check_refuses_an_answer_marquez_would_not_give() -> None:
    """The check can fail: a wrong-typed field, and an undocumented status."""
    wrong = requests.Response()
    wrong.status_code = 200
    wrong._content = json.dumps({"namespaces": [{"name": 7, "createdAt": "x"}]}).encode()
    with pytest.raises(AssertionError, match="namespaces/0/name"):
        check(wrong, "/namespaces")
    teapot = requests.Response()
    teapot.status_code = 418
    teapot._content = b"{}"
    with pytest.raises(AssertionError, match="documented"):
        check(teapot, "/namespaces")
