"""Hostile input to the Marquez stand-in: Marquez 0.50's answer, never an internal error.

Each input gets the answer real Marquez 0.50.0 gives (see ``marquez_standin.model`` and
``marquez_standin.jackson`` for why each one), and a refused event leaves nothing behind.
Real Marquez answers 500 for some of these on purpose (``{"code": 400}`` from its JSON
mapper, or an empty body when PostgreSQL refuses a NUL); what the stand-in must never
give is its own internal error, Dropwizard's ``There was an error processing your
request``, which a Hypothesis property hunts for across mutated events.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline_bed.marquez_standin import StandinServer

PRODUCER = "https://github.com/crossline/tests"
RUN_EVENT_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
INTERNAL = "There was an error processing your request"


@pytest.fixture
def api(own_standin: StandinServer) -> str:
    return f"{own_standin.url}/api/v1"


def event(ns: str, job: str = "job", time: str = "2024-06-01T10:00:00Z") -> dict[str, Any]:
    return {
        "eventType": "COMPLETE", "eventTime": time, "producer": PRODUCER, "schemaURL": RUN_EVENT_URL,
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": ns, "name": job, "facets": {}},
        "inputs": [{"namespace": ns, "name": "in", "facets": {}}],
        "outputs": [{"namespace": ns, "name": "out", "facets": {}}],
    }


def raw_post(api: str, text: str | bytes) -> requests.Response:
    data = text.encode() if isinstance(text, str) else text
    return requests.post(f"{api}/lineage", data=data, headers={"Content-Type": "application/json"}, timeout=30)


def stored(api: str, ns: str) -> list[dict[str, Any]]:
    """The events stored in namespace ``ns`` (of 2024-06-01, where these tests post)."""
    events = requests.get(f"{api}/events/lineage", params={"limit": 1000, "after": "2024-06-01T00:00:00Z",
                                                           "before": "2024-06-02T00:00:00Z"}, timeout=10).json()["events"]
    return [e for e in events if isinstance(e.get("job"), dict) and e["job"].get("namespace") == ns]


def deep_text(depth: int) -> str:
    return "[" * depth + '"bottom"' + "]" * depth


def assert_refused(api: str, ns: str, response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert INTERNAL not in response.text
    assert stored(api, ns) == []
    assert requests.get(f"{api}/namespaces/{ns}", timeout=10).status_code == 404


# -- what Jackson refuses: Marquez's JSON mapper, HTTP 500 with code 400 ------------------------
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_non_numeric_number_is_unreadable_json(api: str, namespace: str, token: str) -> None:
    text = json.dumps(event(namespace)).replace('"facets": {}}, "job"', f'"facets": {{"m": {{"auc": {token}}}}}}}, "job"', 1)
    assert token in text
    response = raw_post(api, text)
    assert_refused(api, namespace, response, 500)
    assert response.json()["code"] == 400
    assert f"Non-standard token '{token}'" in response.json()["message"]


@pytest.mark.parametrize("depth", [1001, 10_000, 1_000_000])
def test_nesting_past_1000_is_unreadable_json_and_answered_at_once(api: str, namespace: str, depth: int) -> None:
    # The run facet adds 3 levels (event, run, facets) above the value: total depth + 3.
    text = json.dumps(event(namespace)).replace('"facets": {}}, "job"', f'"facets": {{"deep": {deep_text(depth - 3)}}}}}, "job"', 1)
    response = raw_post(api, text)
    assert_refused(api, namespace, response, 500)
    assert response.json() == {"code": 400, "message": (
        f"Document nesting depth ({1001}) exceeds the maximum allowed (1000, from "
        "`StreamReadConstraints.getMaxNestingDepth()`)")}


def test_nesting_of_1000_is_taken_and_kept(api: str, namespace: str) -> None:
    # event, run, facets + 997 lists = 1000 levels (built as text: this process's own
    # encoder and parser stop short of 1000).
    # Posted on another day than the other tests' events, which they read back parsed.
    body = event(namespace, time="2023-01-01T00:00:00Z")
    text = json.dumps(body).replace('"facets": {}}, "job"', f'"facets": {{"deep": {deep_text(997)}}}}}, "job"', 1)
    response = raw_post(api, text)
    assert response.status_code == 201, response.text
    back = requests.get(f"{api}/events/lineage", params={"after": "2023-01-01T00:00:00Z",
                                                         "before": "2023-01-02T00:00:00Z"}, timeout=10).text
    assert deep_text(997) in back


def test_brackets_inside_strings_are_no_nesting(api: str, namespace: str) -> None:
    body = event(namespace)
    body["run"]["facets"]["text"] = {"_producer": PRODUCER, "_schemaURL": "https://s", "value": "[{" * 5000}
    assert raw_post(api, json.dumps(body)).status_code == 201


def test_a_number_of_more_than_1000_digits_is_unreadable_json(api: str, namespace: str) -> None:
    text = json.dumps(event(namespace)).replace('"facets": {}}, "job"', f'"facets": {{"n": {"9" * 1001}}}}}, "job"', 1)
    response = raw_post(api, text)
    assert_refused(api, namespace, response, 500)
    assert "Number value length (1001)" in response.json()["message"]


@pytest.mark.parametrize(
    ("mutate", "chain"),
    [
        (lambda e: e["run"]["facets"].update(nominalTime="2024-06-01"), "run.facets.nominalTime"),
        (lambda e: e["job"].update(facets=[]), "job.facets"),
        (lambda e: e.update(inputs={"namespace": "x", "name": "y"}), "inputs"),
        (lambda e: e["inputs"].append(None), "inputs[1]"),
        (lambda e: e["job"].update(name={"a": 1}), "job.name"),
        (lambda e: e["run"]["facets"].update(parent={"run": "r", "job": {"namespace": "n", "name": "j"}}),
         "run.facets.parent.run"),
    ],
    ids=["nominalTime-string", "job-facets-list", "inputs-object", "null-input", "name-object", "parent-run-string"],
)
def test_a_wrong_type_in_the_event_model_is_unreadable_json(api: str, namespace: str, mutate: Any, chain: str) -> None:
    body = event(namespace)
    mutate(body)
    response = raw_post(api, json.dumps(body))
    assert_refused(api, namespace, response, 500)
    assert response.json()["code"] == 400
    assert f"(through reference chain: {chain})" in response.json()["message"]


# -- what Jackson takes and Marquez stores ------------------------------------------------------
def test_a_scalar_where_text_is_expected_is_stored_as_text(api: str, namespace: str) -> None:
    body = event(namespace)
    body["job"]["name"] = 7
    body["producer"] = True
    assert raw_post(api, json.dumps(body)).status_code == 201
    assert requests.get(f"{api}/namespaces/{namespace}/jobs/7", timeout=10).status_code == 200
    assert stored(api, namespace)[0]["producer"] == "true"


def test_a_float_beyond_double_range_is_stored_as_infinity_text(api: str, namespace: str) -> None:
    text = json.dumps(event(namespace)).replace('"facets": {}}, "job"', '"facets": {"m": {"big": 1e400, "small": -1e400}}}, "job"', 1)
    assert raw_post(api, text).status_code == 201
    assert stored(api, namespace)[0]["run"]["facets"]["m"] == {"big": "Infinity", "small": "-Infinity"}


def test_a_lone_surrogate_is_stored_as_a_question_mark(api: str, namespace: str) -> None:
    text = json.dumps(event(namespace, job="job-\ud800")).replace('"facets": {}}, "job"', '"facets": {"\\udc00k": "v\\ud83d"}}, "job"', 1)
    assert "\\ud800" in text
    assert raw_post(api, text).status_code == 201
    assert requests.get(f"{api}/namespaces/{namespace}/jobs/job-%3F", timeout=10).status_code == 200
    assert stored(api, namespace)[0]["run"]["facets"] == {"?k": "v?"}


def test_a_surrogate_pair_is_one_character(api: str, namespace: str) -> None:
    assert raw_post(api, json.dumps(event(namespace, job="job-\U0001f600"))).status_code == 201
    assert stored(api, namespace)[0]["job"]["name"] == "job-\U0001f600"


# -- NUL: PostgreSQL cannot store it, Marquez answers 500 with no body ---------------------------
@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["job"].update(name="job\u0000"),
        lambda e: e["run"]["facets"].update(note={"_producer": PRODUCER, "_schemaURL": "https://s", "text": "a\u0000b"}),
        lambda e: e["outputs"][0].update(name="\u0000"),
        lambda e: e["run"]["facets"].update({"key\u0000": {}}),
    ],
    ids=["job-name", "facet-value", "dataset-name", "facet-key"],
)
def test_a_nul_is_refused_as_marquez_does_and_nothing_is_stored(api: str, namespace: str, mutate: Any) -> None:
    body = event(namespace)
    mutate(body)
    response = raw_post(api, json.dumps(body))
    assert_refused(api, namespace, response, 500)
    assert response.content == b""


def test_a_nul_in_a_namespace_is_400_as_marquez_namespace_check(api: str, namespace: str) -> None:
    body = event(namespace)
    body["inputs"][0]["namespace"] = "s3://bucket\u0000"
    assert_refused(api, namespace, raw_post(api, json.dumps(body)), 400)


def test_an_escaped_backslash_before_u0000_is_no_nul(api: str, namespace: str) -> None:
    body = event(namespace)
    body["job"]["name"] = "C:\\u0000dir"  # a backslash, then the letters u0000
    assert raw_post(api, json.dumps(body)).status_code == 201
    assert stored(api, namespace)[0]["job"]["name"] == "C:\\u0000dir"


# -- times past what the stand-in can hold: 400 (Marquez would store year 10000) ----------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventTime", "9999-12-31T23:59:59-01:00"),
        ("eventTime", "0001-01-01T00:00:00+01:00"),
        ("nominalStartTime", "9999-12-31T23:30:00-02:00"),
        ("nominalEndTime", "9999-12-31T23:30:00-02:00"),
    ],
)
def test_a_time_outside_years_1_to_9999_utc_is_400(api: str, namespace: str, field: str, value: str) -> None:
    body = event(namespace)
    if field == "eventTime":
        body["eventTime"] = value
    else:
        body["run"]["facets"]["nominalTime"] = {"_producer": PRODUCER, "_schemaURL": "https://s",
                                                "nominalStartTime": "2024-06-01T00:00:00Z", field: value}
    response = raw_post(api, json.dumps(body))
    assert_refused(api, namespace, response, 400)
    assert response.json() == {"code": 400, "message": f"{field} {value} is outside years 1-9999 UTC, which the stand-in can store"}


def test_the_last_representable_time_is_taken(api: str, namespace: str) -> None:
    assert raw_post(api, json.dumps(event(namespace, time="9999-12-31T23:59:59+00:00"))).status_code == 201


def test_query_times_and_numbers_out_of_range_are_refused_not_crashed(api: str) -> None:
    far = requests.get(f"{api}/events/lineage", params={"before": "9999-12-31T23:59:59-01:00"}, timeout=10)
    assert far.status_code == 400
    assert INTERNAL not in far.text
    huge = requests.get(f"{api}/events/lineage", params={"limit": str(2**31)}, timeout=10)
    assert huge.status_code == 404  # Jersey cannot make a Java int of it


# -- the property: no mutation of a valid event reaches an internal error ------------------------
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**1100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2024-13-45T99:99", "", "\u0000",
                     "\ud800", "a\x00b", "s3://b\u0000", "2024-06-01T10:00:00Z"]),
    st.text(st.characters(codec=None, exclude_categories=[]), max_size=8),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5) | st.sampled_from(["name", "namespace", "runId", "facets", "nominalTime", "parent",
                                           "schema", "fields", "symlinks", "identifiers", "run", "job"]),
    inner, max_size=3), max_leaves=6)


def _slots(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) whose value a mutation can replace, outermost first."""
    if isinstance(value, dict):
        for key in list(value):
            out.append((value, key))
            _slots(value[key], out)
    elif isinstance(value, list):
        for i in range(len(value)):
            out.append((value, i))
            _slots(value[i], out)
    return out


def _rich_event(ns: str) -> dict[str, Any]:
    body = event(ns)
    facet = {"_producer": PRODUCER, "_schemaURL": "https://s"}
    body["run"]["facets"] = {
        "nominalTime": {**facet, "nominalStartTime": "2024-06-01T00:00:00Z"},
        "parent": {**facet, "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": ns, "name": "dag"}},
    }
    body["job"]["facets"] = {"documentation": {**facet, "description": "d"}, "jobType": {
        **facet, "processingType": "BATCH", "integration": "AIRFLOW", "jobType": "TASK"}}
    body["outputs"][0]["facets"] = {
        "schema": {**facet, "fields": [{"name": "a", "type": "int"}]},
        "symlinks": {**facet, "identifiers": [{"namespace": ns, "name": "alias", "type": "TABLE"}]},
        "dataSource": {**facet, "name": "src", "uri": "s3://b"},
        "lifecycleStateChange": {**facet, "lifecycleStateChange": "OVERWRITE"},
    }
    body["outputs"][0]["outputFacets"] = {"stats": {**facet, "rowCount": 3}}
    return body


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_mutated_event_gets_an_internal_error(own_standin: StandinServer, data: st.DataObject) -> None:
    api = f"{own_standin.url}/api/v1"
    ns = f"prop-{uuid.uuid4().hex[:8]}"
    body = _rich_event(ns)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        slots = _slots(body, [])
        container, key = slots[data.draw(st.integers(0, len(slots) - 1), label="where")]
        container[key] = data.draw(_VALUES, label="value")
    text = json.dumps(body)  # NaN and Infinity come out as their non-JSON tokens
    deep = data.draw(st.sampled_from([0, 0, 990, 2000]), label="deep")
    if deep:
        text = text.replace('"facets"', f'"deep": {deep_text(deep)}, "facets"', 1)
    response = raw_post(api, text)
    assert response.status_code in (201, 400, 422, 500), response.text
    assert INTERNAL not in response.text
    if response.status_code == 500:
        assert response.content == b"" or response.json()["code"] == 400


def test_the_property_left_no_unhandled_error_in_the_log(own_standin: StandinServer) -> None:
    assert own_standin.log is not None
    assert "unhandled error" not in own_standin.log.read_text()
