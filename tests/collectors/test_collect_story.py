"""After the scenario's two weeks, collection builds the graph that answers the regulator.

Sources: the OpenLineage events the DAG and the approval emitter wrote, SageMaker's
lineage and registry (the bed's emulator), and the endpoint's data capture. The store
is SQLite in a temporary folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from crossline_bed.aws import TEST_ENV
from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.model import NodeId, NodeKind, commit_id, inference_id, variant_id
from crossline.collectors.store import GraphStore
from crossline.times import parse

SM = "arn:aws:sagemaker:us-east-1:123456789012"
ENDPOINT = f"{SM}:endpoint/credit-prod"
LOAN_8231 = inference_id("credit-prod", "loan-8231")
LOAN_9120 = inference_id("credit-prod", "loan-9120")


@pytest.fixture(scope="module")
def collected(story_graph):
    return story_graph


def _at(text: str) -> datetime:
    return parse(text, "test time")


def test_inference_resolves_through_the_variant_served_at_its_time(collected) -> None:
    store, _ = collected
    graph = Graph(store)
    at_8231 = _at("2027-03-12T10:14:03Z")
    packages = graph.ancestors(LOAN_8231, node_kinds={NodeKind.MODEL_PACKAGE}, as_of=at_8231)
    assert packages == {NodeId(f"{SM}:model-package/credit-xgb/73")}
    later = graph.ancestors(LOAN_9120, node_kinds={NodeKind.MODEL_PACKAGE}, as_of=_at("2027-03-16T11:02:40Z"))
    assert later == {NodeId(f"{SM}:model-package/credit-xgb/74")}
    assert variant_id(ENDPOINT, "credit-prod-v73") in graph.ancestors(LOAN_8231, depth=1, as_of=at_8231)


def test_package_73_reaches_training_data_features_exclusions_code_and_approval(collected) -> None:
    store, _ = collected
    graph = Graph(store)
    at = _at("2027-03-12T10:14:03Z")
    upstream = graph.ancestors(LOAN_8231, as_of=at)
    names = {n.split("#")[0] for n in upstream}
    for dataset in (
        "dataset:s3://credit:train/2027-W10",
        "dataset:s3://credit-features:accounts/2027-W10",
        "dataset:s3://credit-features:behaviour/2027-W10",
        "dataset:s3://policy:excl-v14.csv",
    ):
        assert dataset in names, dataset
    assert not any("2027-W11" in n for n in upstream), "week 11 must not be upstream of a 12 March inference"
    assert commit_id("https://github.com/acme/credit-ml", "a14f2b9") in upstream
    approvals = {n for n in upstream if graph.node(n).kind is NodeKind.APPROVAL}
    assert len(approvals) >= 1
    assert any("risk-ops" in str(graph.node(a).props) for a in approvals)
    train_runs = [n for n in upstream if graph.node(n).kind is NodeKind.RUN and "crossline_hyperparameters" in str(graph.node(n).props)]
    assert len(train_runs) == 1


def test_reconciliation_links_both_sides_and_reports_the_rest(collected) -> None:
    _, report = collected
    links = report.reconcile.links
    assert links["naming:sagemaker-arn"] > 0
    assert links["arn-facet"] >= 2  # both training runs, at least
    assert links["naming:artifact-uri"] > 0
    assert isinstance(report.reconcile.unmatched, dict)


def test_collecting_again_changes_nothing(make_story_sources, collected) -> None:
    store, _ = collected
    before = Graph(store).dump()
    collect(store, make_story_sources())
    assert Graph(store).dump() == before


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from crossline.collectors.collect import collect
    from crossline.collectors.sources import source_from_config
    from crossline.collectors.store import GraphStore
    import json

    url, configs, after = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    sources = [source_from_config(c) for c in configs]

    class Killing:
        # A real kill -9 after the n-th batch is written: no cleanup, no flush.
        def __init__(self, inner):
            self.inner, self.name, self.seen = inner, inner.name, 0
        def total(self, since):
            return None
        def read(self, since):
            for batch in self.inner.read(since):
                yield batch
                self.seen += 1
                if self.seen >= after:
                    os.kill(os.getpid(), signal.SIGKILL)

    with GraphStore.open(url) as store:
        collect(store, [Killing(s) for s in sources])
    """
)


@pytest.mark.parametrize("after_batches", [1, 3])
def test_kill_9_mid_collection_then_resume_gives_the_identical_graph(
    story_source_configs, make_story_sources, collected, tmp_path: Path, after_batches: int
) -> None:
    import json

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, url, json.dumps(story_source_configs), str(after_batches)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **TEST_ENV},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with GraphStore.open(url) as store:
        collect(store, make_story_sources())
        resumed = Graph(store).dump()
    full, _ = collected
    assert resumed == Graph(full).dump()
