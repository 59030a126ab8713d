"""Diff after the scenario's two weeks: W10 vs W11, as training runs and as packages 73 vs 74.

The story plays once per session (the ``story`` fixture); this module collects it into a
SQLite store of its own, as test_collect_story.py does.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crossline_bed.aws import TEST_ENV
from crossline.cli import main
from crossline.collectors.collect import collect
from crossline.collectors.diff import Change, compare, diff, render
from crossline.collectors.graph import Graph
from crossline.collectors.model import NodeId, NodeKind
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.errors import NodeNotFound

SM = "arn:aws:sagemaker:us-east-1:123456789012"
PACKAGE_73 = NodeId(f"{SM}:model-package/credit-xgb/73")
PACKAGE_74 = NodeId(f"{SM}:model-package/credit-xgb/74")
HYPERPARAMETERS = {"max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic"}


def _configs(story) -> list[dict]:
    aws = {"endpoint_url": story.aws.endpoint_url, "region": "us-east-1"}
    return [
        {"type": "openlineage-file", "paths": [str(story.airflow.events_file)]},
        {"type": "sagemaker", **aws},
        {"type": "data-capture", "prefixes": ["s3://credit/datacapture/"], **aws},
    ]


@pytest.fixture(scope="module")
def store(story, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in TEST_ENV.items():
            patch.setenv(key, value)
        graph = GraphStore.open(f"sqlite:///{tmp_path_factory.mktemp('diff') / 'graph.db'}")
        collect(graph, [source_from_config(c) for c in _configs(story)])
    yield graph
    graph.close()


def _training_run(store: GraphStore, week: str) -> NodeId:
    runs = [n.id for n in Graph(store).nodes(kind=NodeKind.RUN)
            if n.props.get("sagemakerJobKind") == "training" and f"credit-xgb-{week}" in n.props["sagemakerArn"]]
    assert len(runs) == 1, runs
    return runs[0]


def _check_w10_vs_w11(result) -> None:
    assert result.params.same and result.params.unchanged == HYPERPARAMETERS
    train = result.data.changed["training channel train"]
    assert train.before["dataset"] == "s3://credit/train/2027-W10"
    assert train.after["dataset"] == "s3://credit/train/2027-W11"
    for group in ("accounts", "behaviour"):
        snapshot = result.data.changed[f"feature group {group}"]
        assert (snapshot.before["dataset"], snapshot.after["dataset"]) == (
            f"s3://credit-features/{group}/2027-W10", f"s3://credit-features/{group}/2027-W11")
        assert snapshot.before["version"] != snapshot.after["version"]
    assert "upstream input s3://policy/excl-v14.csv" in result.data.unchanged  # same list, same version
    for side in (result.a, result.b):
        assert {"evaluation:auc", "evaluation:ks"} <= set(side.metrics)
        assert any(k.startswith("training:") for k in side.metrics)
        assert side.evaluation_runs and side.upstream_runs
    assert result.code.same and result.code.unchanged == {"https://github.com/acme/credit-ml": "a14f2b9"}


def test_w10_vs_w11_training_runs(store) -> None:
    w10, w11 = _training_run(store, "2027W10"), _training_run(store, "2027W11")
    result = diff(store, w10, w11)
    assert (result.a.run, result.b.run) == (w10, w11)
    assert result.a.package is None
    _check_w10_vs_w11(result)


def test_packages_73_vs_74_resolve_to_the_same_training_runs(store) -> None:
    result = diff(store, PACKAGE_73, PACKAGE_74)
    assert (result.a.run, result.b.run) == (_training_run(store, "2027W10"), _training_run(store, "2027W11"))
    assert (result.a.package, result.b.package) == (PACKAGE_73, PACKAGE_74)
    _check_w10_vs_w11(result)
    by_run = diff(store, result.a.run, result.b.run)
    assert by_run.as_dict()["sections"] == result.as_dict()["sections"]


def test_a_run_against_itself_changes_nothing(store) -> None:
    w10 = _training_run(store, "2027W10")
    result = diff(store, w10, w10)
    assert all(section.same for section in result.sections.values())


def test_nodes_that_are_not_runs_or_packages_are_refused(store) -> None:
    with pytest.raises(NodeNotFound, match="no node"):
        diff(store, PACKAGE_73, "run:00000000-0000-0000-0000-000000000000")
    with pytest.raises(NodeNotFound, match="diff takes runs"):
        diff(store, PACKAGE_73, "dataset:s3://policy:excl-v14.csv")


def test_render_and_cli(store) -> None:
    from rich.console import Console

    console = Console(width=240, record=True)
    console.print(render(diff(store, PACKAGE_73, PACKAGE_74)))
    text = console.export_text()
    assert "training:train:progress" in text  # not read as an emoji code
    assert "s3://credit/train/2027-W11" in text

    runner = CliRunner()
    url = str(store.engine.url)
    out = runner.invoke(main, ["query", "diff", PACKAGE_73, PACKAGE_74, "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["sections"]["data"]["changed"]["training channel train"]["after"]["dataset"] == (
        "s3://credit/train/2027-W11")
    out = runner.invoke(main, ["query", "diff", PACKAGE_73, "nope", "--store", url])
    assert out.exit_code == 2


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({}, {}, ({}, {}, {}, {})),
        ({"a": 1}, {"a": 1}, ({}, {}, {}, {"a": 1})),
        ({"a": 1}, {"a": 2}, ({}, {}, {"a": Change(1, 2)}, {})),
        ({"a": 1}, {"b": 2}, ({"b": 2}, {"a": 1}, {}, {})),
    ],
)
def test_compare(before, after, expected) -> None:
    result = compare(before, after)
    assert (result.added, result.removed, result.changed, result.unchanged) == expected
