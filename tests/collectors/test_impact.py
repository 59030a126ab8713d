"""``crossline query impact`` on the story: from what a user names to the decisions it reached.

The story's graph (collected once per session): week 10's feature snapshot reached
credit-xgb/73 only, which served credit-prod-v73 from 8 to 15 March and loan-8231 on 12
March; the code commit and the exclusion list reached both weeks' packages. Names are the
user's own (``accounts@2027-W10``, a short SHA, an S3 URI), resolved as every query does.
The bed worlds (never deployed, two endpoints, windows, paging) are in test_trace_worlds.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crossline.cli import main
from crossline.collectors.graph import Graph
from crossline.collectors.impact import impact
from crossline.collectors.resolve import resolve
from crossline.times import parse_user

SM = "arn:aws:sagemaker:us-east-1:123456789012"
V73, V74 = f"{SM}:model-package/credit-xgb/73", f"{SM}:model-package/credit-xgb/74"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accounts@2027-W10", {V73: [("credit-prod", "credit-prod-v73", 1)]}),
        ("a14f2b9", {V73: [("credit-prod", "credit-prod-v73", 1)], V74: [("credit-prod", "credit-prod-v74", 1)]}),
        ("s3://policy/excl-v14.csv", {V73: [("credit-prod", "credit-prod-v73", 1)],
                                      V74: [("credit-prod", "credit-prod-v74", 1)]}),
    ],
)
def test_impact_from_the_users_own_names(story_graph, name: str, expected: dict) -> None:  # type: ignore[no-untyped-def]
    store, _ = story_graph
    graph = Graph(store)
    found = impact(graph, resolve(graph, name))
    assert {p.arn: [(d.endpoint, d.variant, d.inferences) for d in p.deployments] for p in found.packages} == expected
    [v73] = [p for p in found.packages if p.arn == V73]
    [deployment] = v73.deployments
    assert deployment.start.isoformat()[:10] == "2027-03-08" and deployment.end.isoformat()[:10] == "2027-03-15"
    assert deployment.evidence["system"] == "sagemaker"  # one per deployment: OpenLineage's record of it is joined


def test_impact_as_of_the_inference_and_its_page(story_graph) -> None:  # type: ignore[no-untyped-def]
    store, _ = story_graph
    url = str(store.url)
    result = CliRunner().invoke(main, ["query", "impact", "a14f2b9", "--store", url, "--as-of", "2027-03-12T12:00:00Z",
                                       "--inferences", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [v73] = data["packages"]  # week 11's package was not registered yet
    assert v73["name"] == "credit-xgb/73" and v73["deployments"][0]["to"] is None  # still serving as of then
    assert data["neverDeployed"] == []
    assert [i["inference"] for i in data["inferencesPage"]["items"]] == ["loan-8231"]
    assert parse_user(data["window"]["asOf"], "asOf").isoformat() == "2027-03-12T12:00:00+00:00"
