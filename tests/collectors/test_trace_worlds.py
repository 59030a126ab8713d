"""Who approved, and when; which package served; what a dataset's impact was: worlds the story does not play.

Each world is built on the bed (``crossline_bed.worlds.ModelWorld``: moto with the lineage
emulator, people deciding in the registry through an assumed role, the approval
emitter, UpdateEndpoint, data capture) at the bed's clock, collected by the real sources
(OpenLineage file, SageMaker, data capture), and asked through ``trace_inference``, the
impact query and the ``crossline`` command. The worlds hold no training lineage unless
they say so: those answers are gaps here; the approval and serving answers are checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crossline.cli import main
from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.impact import impact
from crossline.collectors.model import dataset_id
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.collectors.trace import trace_inference, trace_package
from crossline_bed.aws import MotoServer
from crossline_bed.worlds import ModelWorld

ALICE, BOB = "alice@company.com", "bob@company.com"


def day(n: int, hour: int = 9) -> datetime:
    return datetime(2027, 3, n, hour, tzinfo=UTC)


def model(name: str) -> str:
    return f"s3://credit/models/{name}/output/model.tar.gz"


@pytest.fixture
def world(aws: str, moto_server: MotoServer, tmp_path: Path) -> Iterator[ModelWorld]:
    made = ModelWorld(moto_server, tmp_path / "world")
    made.seed(day(1))
    yield made
    moto_server.set_clock(None)


def collected(world: ModelWorld, tmp_path: Path, **which: bool) -> str:
    url = f"sqlite:///{tmp_path / ('graph-' + '-'.join(k for k, v in sorted(which.items()) if not v)) }.db"
    with GraphStore.open(url) as store:
        collect(store, [source_from_config(c) for c in world.sources(**which)])
    return url


def trace_cli(url: str, inference: str, tmp_path: Path) -> tuple[int, str, dict]:
    result = CliRunner().invoke(main, ["trace", inference, "--store", url, "--out", str(tmp_path / "out")])
    data = json.loads((tmp_path / "out" / f"{inference}.json").read_text())
    return result.exit_code, result.output, data


def statuses(trace) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(d["status"], d["approver"]) for d in trace.approval.value["history"]]


def test_revoked_before_the_inference_is_not_approved(world: ModelWorld, tmp_path: Path) -> None:
    package = world.register(day(2), model("a"))
    world.decide(package, "Approved", day(3), ALICE, "AUC within policy")
    world.deploy("credit-prod", package, day(4))
    world.decide(package, "Rejected", day(5), ALICE, "revoked: drift")
    world.infer("credit-prod", "loan-1", day(6))
    url = collected(world, tmp_path)
    with Graph.open(url) as graph:
        trace = trace_inference(graph, "loan-1")
    assert trace.model_version.value["modelPackageArn"] == package
    assert trace.approval.value["approved"] is False and trace.approval.value["status"] == "Rejected"
    assert statuses(trace) == [("PendingManualApproval", "moto"), ("Approved", ALICE), ("Rejected", ALICE)]
    assert trace.approval.value["history"][1]["systems"] == ["sagemaker", "openlineage"]  # one decision, both systems
    [finding] = trace.findings
    assert finding.startswith("model package credit-xgb/1 was NOT approved at 2027-03-06T09:00:00Z: Rejected since 2027-03-05T09:00")
    assert f"by {ALICE} (sagemaker + openlineage)" in finding
    code, output, data = trace_cli(url, "loan-1", tmp_path)
    assert code == 1
    assert "NOT APPROVED at 2027-03-06 09:00 UTC: Rejected since 2027-03-05 09:00 UTC by alice@company.com" in output
    assert "FINDING: model package credit-xgb/1 was NOT approved" in output
    assert data["findings"] == [finding]


def test_revoked_then_reapproved_by_another_person_before_the_inference(world: ModelWorld, tmp_path: Path) -> None:
    package = world.register(day(2), model("a"))
    world.decide(package, "Approved", day(3), ALICE)
    world.deploy("credit-prod", package, day(4))
    world.decide(package, "Rejected", day(5), ALICE, "revoked: drift")
    world.decide(package, "Approved", day(5, 15), BOB, "drift explained; ticket MR-400")
    world.infer("credit-prod", "loan-2", day(6))
    with Graph.open(collected(world, tmp_path)) as graph:
        trace = trace_inference(graph, "loan-2")
    assert trace.findings == []
    value = trace.approval.value
    assert (value["approved"], value["approver"], value["approvedAt"][:16]) == (True, BOB, "2027-03-05T15:00")
    assert value["description"] == "drift explained; ticket MR-400"
    assert statuses(trace) == [("PendingManualApproval", "moto"), ("Approved", ALICE), ("Rejected", ALICE), ("Approved", BOB)]
    assert trace.approval.value["history"][1]["until"][:16] == "2027-03-05T09:00"  # alice's approval ended at the revocation
    refs = {e.ref for e in trace.approval.evidence}
    assert any(r.startswith("arn:aws:sagemaker:") and ":action/" in r for r in refs) and any(r.startswith("run:") for r in refs)


def test_never_approved(world: ModelWorld, tmp_path: Path) -> None:
    package = world.register(day(2), model("a"))
    world.deploy("credit-prod", package, day(4))
    world.infer("credit-prod", "loan-3", day(6))
    url = collected(world, tmp_path)
    with Graph.open(url) as graph:
        trace = trace_inference(graph, "loan-3")
    assert trace.approval.value["approved"] is False
    [finding] = trace.findings
    assert "was NOT approved at 2027-03-06T09:00:00Z: PendingManualApproval since 2027-03-02T09:00" in finding
    assert "later" not in finding
    # With only the OpenLineage side, no decision is recorded at all: still plainly not approved.
    with Graph.open(collected(world, tmp_path, sagemaker=False)) as graph:
        alone = trace_inference(graph, "loan-3")
    assert alone.findings == ["model package credit-xgb/1 was NOT approved at 2027-03-06T09:00:00Z: "
                              "no approval decision on it is recorded (SageMaker's registry or OpenLineage)"]


def test_approved_only_after_the_inference(world: ModelWorld, tmp_path: Path) -> None:
    package = world.register(day(2), model("a"))
    world.deploy("credit-prod", package, day(4))
    world.infer("credit-prod", "loan-4", day(6))
    world.decide(package, "Approved", day(7), ALICE)
    with Graph.open(collected(world, tmp_path)) as graph:
        trace = trace_inference(graph, "loan-4")
        today = trace_package(graph, package)
    [finding] = trace.findings
    assert "NOT approved at 2027-03-06T09:00:00Z: PendingManualApproval since" in finding
    assert f"; approved later, at 2027-03-07T09:00" in finding and finding.endswith(f"by {ALICE}")
    assert [d["status"] for d in trace.approval.value["history"]] == ["PendingManualApproval"]  # history up to then
    assert today.findings == [] and today.approval.value["approver"] == ALICE  # as of now it is approved


@pytest.mark.parametrize("sagemaker", [True, False], ids=["both sides", "openlineage and capture only"])
def test_an_alltraffic_variant_updated_twice(world: ModelWorld, tmp_path: Path, sagemaker: bool) -> None:
    packages = [world.register(day(2, 9 + i), model(name)) for i, name in enumerate("abc")]
    for package in packages:
        world.decide(package, "Approved", day(3), ALICE)
    for number, (package, at) in enumerate(zip(packages, (day(4), day(5), day(6))), start=1):
        world.deploy("credit-prod", package, at)
        world.infer("credit-prod", f"loan-{number}0", at + timedelta(hours=2))
    with Graph.open(collected(world, tmp_path, sagemaker=sagemaker)) as graph:
        traces = [trace_inference(graph, f"loan-{n}0") for n in (1, 2, 3)]
    assert [t.subject.value["variant"] for t in traces] == ["AllTraffic"] * 3
    assert [t.model_version.value["modelPackageArn"] for t in traces] == packages
    assert [t.model_version.value["version"] for t in traces] == [1, 2, 3]
    assert all(t.approval.value["approved"] and t.findings == [] for t in traces)
    served = [t.model_version.evidence[0] for t in traces]
    assert [e.time[:10] for e in served] == ["2027-03-04", "2027-03-05", "2027-03-06"]
    assert "served until 2027-03-05" in served[0].note and "served until now" in served[2].note
    if sagemaker:  # the same deployment as both systems recorded it
        assert all(t.model_version.evidence[1].note.startswith("the same deployment as openlineage recorded it")
                   for t in traces)


# -- impact ------------------------------------------------------------------------------------
@pytest.fixture
def impact_world(world: ModelWorld, tmp_path: Path) -> tuple[ModelWorld, dict[str, str], str]:
    """Two packages trained on one dataset: A serves on two endpoints, B is never deployed."""
    train = "s3://credit/train/2027-W10/"
    a, b = world.register(day(2), model("a")), world.register(day(2, 10), model("b"))
    world.train([train], model("a"), day(1, 20))
    world.train([train], model("b"), day(1, 21))
    world.deploy("credit-prod", a, day(3))
    world.deploy("credit-shadow", a, day(3, 12))
    world.infer("credit-prod", "loan-a1", day(4))
    world.infer("credit-shadow", "loan-s1", day(4, 10))
    world.infer("credit-prod", "loan-a2", day(5))
    other = world.register(day(5, 12), model("c"))
    world.deploy("credit-prod", other, day(6))  # A leaves credit-prod
    world.infer("credit-prod", "loan-c1", day(7))
    world.infer("credit-shadow", "loan-s2", day(7, 10))
    return world, {"a": a, "b": b, "c": other}, collected(world, tmp_path)


def test_impact_lists_each_package_with_where_and_when_it_served(impact_world) -> None:  # type: ignore[no-untyped-def]
    _, arns, url = impact_world
    with Graph.open(url) as graph:
        found = impact(graph, dataset_id("s3://credit/train/2027-W10/"))
    by_arn = {p.arn: p for p in found.packages}
    assert set(by_arn) == {arns["a"], arns["b"]}
    a, b = by_arn[arns["a"]], by_arn[arns["b"]]
    assert b.deployments == [] and found.as_dict()["neverDeployed"] == [arns["b"]]
    assert [(d.endpoint, d.variant, d.start.date().isoformat(), d.end and d.end.date().isoformat(), d.inferences)
            for d in a.deployments] == [("credit-prod", "AllTraffic", "2027-03-03", "2027-03-06", 2),
                                        ("credit-shadow", "AllTraffic", "2027-03-03", None, 2)]
    assert found.inferences == 4


def test_impact_as_of_and_between(impact_world) -> None:  # type: ignore[no-untyped-def]
    _, arns, url = impact_world
    with Graph.open(url) as graph:
        early = impact(graph, dataset_id("s3://credit/train/2027-W10/"), as_of=day(3, 10))
        window = impact(graph, dataset_id("s3://credit/train/2027-W10/"), between=(day(6, 12), day(8)))
    [a] = [p for p in early.packages if p.arn == arns["a"]]
    assert [(d.endpoint, d.end, d.inferences) for d in a.deployments] == [("credit-prod", None, 0)]  # shadow came later
    [a] = [p for p in window.packages if p.arn == arns["a"]]
    assert [(d.endpoint, d.inferences) for d in a.deployments] == [("credit-shadow", 1)]  # prod had moved to C


def test_impact_from_the_command_line_pages_the_inferences(impact_world) -> None:  # type: ignore[no-untyped-def]
    _, arns, url = impact_world
    runner = CliRunner()
    text = runner.invoke(main, ["query", "impact", "s3://credit/train/2027-W10/", "--store", url])
    assert text.exit_code == 0, text.output
    assert "2 model package(s), 1 deployed, 1 never deployed; 4 captured inference(s) served" in text.output
    assert "credit-xgb/2" in text.output and "  never deployed" in text.output
    assert "credit-prod / AllTraffic  2027-03-03T09:00:00" in text.output
    pages = []
    for offset in (0, 3):
        result = runner.invoke(main, ["query", "impact", "s3://credit/train/2027-W10/", "--store", url, "--json",
                                      "--inferences", "--limit", "3", "--offset", str(offset)])
        assert result.exit_code == 0, result.output
        pages.append(json.loads(result.output)["inferencesPage"])
    assert [p["total"] for p in pages] == [4, 4]
    assert [i["inference"] for p in pages for i in p["items"]] == ["loan-a1", "loan-a2", "loan-s1", "loan-s2"]
    bad = runner.invoke(main, ["query", "impact", "s3://credit/train/2027-W10/", "--store", url,
                               "--as-of", "2027-03-04", "--between", "2027-03-01", "2027-03-02"])
    assert bad.exit_code == 2 and "two different windows" in bad.output
