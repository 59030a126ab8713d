"""The regulator's question, answered from the collected story, in every format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from pypdf import PdfReader

from crossline.cli import main
from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, approval_id
from crossline.collectors.reconcile import reconcile
from crossline.collectors.report import lines, to_json, to_markdown, write_all
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.collectors.trace import trace_inference, trace_package, trace_schema
from crossline.errors import NodeNotFound
from crossline.times import coerce, stamp

SM = "arn:aws:sagemaker:us-east-1:123456789012"

# SCENARIO.md's answer, line by line (ids that vary per run are checked separately).
EXPECTED = [
    "Inference loan-8231 (credit-prod / credit-prod-v73, 2027-03-12T10:14:03",
    "ModelPackage credit-xgb/73 (Approved 2027-03-08 09:42 UTC by risk-ops@company.com)",
    "Training job credit-xgb-2027W10-",
    "hyperparameters: max_depth=6 eta=0.2 num_round=300 objective=binary:logistic",
    "metrics: auc=",
    "Training dataset s3://credit/train/2027-W10 (version sha256:",
    "Feature group accounts, version 2027-W10",
    "Feature group behaviour, version 2027-W10",
    "Exclusion list s3://policy/excl-v14.csv (version ",
    "Code commit github.com/acme/credit-ml @ a14f2b9",
    "Approval record risk-ops@company.com, 2027-03-08 09:42 UTC",
    # the decision history up to the inference: registered pending, then approved (both systems saw it)
    "Decisions up to 2027-03-12 10:14 UTC:",
    "2027-03-06 ",
    "2027-03-08 09:42 UTC: Approved by risk-ops@company.com (sagemaker + openlineage) (in force)",
]


@pytest.fixture(scope="module")
def trace(story_graph):
    store, _ = story_graph
    return trace_inference(store, "loan-8231")


def test_trace_gives_the_scenarios_answer(trace) -> None:
    rendered = [text for _, text, _ in lines(trace)]
    assert len(rendered) == len(EXPECTED)
    for line, expected in zip(rendered, EXPECTED, strict=True):
        assert line.startswith(expected), (line, expected)
    assert trace.gaps == [] and trace.findings == []
    assert "PendingManualApproval" in rendered[-2]
    assert trace.training.value["endedAt"].startswith("2027-03-06")
    assert {m["name"] for m in trace.training.value["metrics"] if m["kind"] == "evaluation"} == {"auc", "ks"}


def test_every_answer_carries_evidence(trace) -> None:
    for answer in (trace.subject, trace.model_version, trace.training_dataset, trace.features, trace.training, trace.approval):
        assert answer.evidence, answer
    sources = {e.source for a in (trace.model_version, trace.training, trace.approval) for e in a.evidence}
    assert {"sagemaker", "openlineage"} <= sources
    assert any(e.ref.startswith(f"{SM}:action/") for e in trace.approval.evidence)
    assert any(e.ref.startswith("s3://credit/datacapture/credit-prod/credit-prod-v73/2027/03/12/10/") for e in trace.subject.evidence)


def test_an_inference_after_the_swap_resolves_to_v74(story_graph) -> None:
    store, _ = story_graph
    later = trace_inference(store, "loan-9120", endpoint="credit-prod")
    assert later.model_version.value["version"] == 74
    assert later.training_dataset.value["dataset"].endswith("train/2027-W11")
    assert later.approval.value["approvedAt"].startswith("2027-03-15")


def test_an_unknown_inference_names_where_and_when_it_was_searched(story_graph) -> None:
    store, _ = story_graph
    with pytest.raises(NodeNotFound) as raised:
        trace_inference(store, "loan-0000")
    message = str(raised.value)
    assert message.startswith("inference 'loan-0000' was not found in any collected data capture.")
    # the prefix and the variant folders read, from the data-capture source's watermark
    assert "s3://credit/datacapture/ (credit-prod/credit-prod-v73, credit-prod/credit-prod-v74)" in message
    # the time window that was captured
    assert "credit-prod: 2 inference(s) from 2027-03-12T10:14:03Z to 2027-03-16T11:02:40Z" in message
    assert "To widen the search: collect the prefix where its endpoint captures" in message
    with pytest.raises(NodeNotFound, match="It was captured on endpoint\\(s\\) credit-prod: name one of those"):
        trace_inference(store, "loan-8231", endpoint="credit-shadow")


def test_trace_from_a_package_arn(story_graph) -> None:
    store, _ = story_graph
    package = trace_package(store, f"{SM}:model-package/credit-xgb/73")
    assert package.training_dataset.value["dataset"].endswith("train/2027-W10")
    with pytest.raises(NodeNotFound):
        trace_package(store, f"{SM}:model-package/credit-xgb/999")


def test_json_markdown_and_pdf_hold_the_five_answers(trace, tmp_path: Path) -> None:
    data = json.loads(to_json(trace))
    schema = trace_schema()
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(data)
    assert data["schema"] == schema["$id"]
    assert data["model_version"]["value"]["version"] == 73
    assert data["approval"]["value"]["approver"] == "risk-ops@company.com"
    assert data["features"]["value"]["featureSnapshots"][0]["version"] == "2027-W10"
    markdown = to_markdown(trace)
    paths = write_all(trace, tmp_path, "loan-8231")
    text = " ".join(page.extract_text() for page in PdfReader(paths["pdf"]).pages)
    flat = " ".join(text.split())
    for expected in EXPECTED:
        assert expected in markdown, expected
        assert " ".join(expected.split()) in flat, expected


def test_cli_prints_the_tree_and_writes_the_files(story_graph, tmp_path: Path) -> None:
    store, _ = story_graph
    url = str(store.url)
    result = CliRunner().invoke(main, ["trace", "loan-8231", "--store", url, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "ModelPackage credit-xgb/73" in result.output
    assert (tmp_path / "loan-8231.pdf").exists()
    missing = CliRunner().invoke(main, ["trace", "loan-0000", "--store", url, "--out", str(tmp_path)])
    assert missing.exit_code == 2
    assert "loan-0000" in missing.output and "Searched the data capture under s3://credit/datacapture/" in missing.output


# -- only the OpenLineage side and data capture (no SageMaker source) ---------------------------
@pytest.fixture(scope="module")
def openlineage_only(story_source_configs, tmp_path_factory, aws_credentials):
    configs = [c for c in story_source_configs if c["type"] != "sagemaker"]
    store = GraphStore.open(f"sqlite:///{tmp_path_factory.mktemp('ol-only') / 'graph.db'}")
    collect(store, [source_from_config(c) for c in configs])
    yield store
    store.close()


def test_the_openlineage_side_alone_answers_without_a_gap(openlineage_only, trace) -> None:
    alone = trace_inference(openlineage_only, "loan-8231")
    assert alone.gaps == [] and alone.findings == []
    assert alone.model_version.value["modelPackageArn"] == f"{SM}:model-package/credit-xgb/73"
    assert (alone.model_version.value["group"], alone.model_version.value["version"]) == ("credit-xgb", 73)
    assert alone.model_version.value["modelDataUrl"] == trace.model_version.value["modelDataUrl"]
    assert {e.source for e in alone.model_version.evidence} == {"openlineage"}
    assert alone.approval.value["approver"] == "risk-ops@company.com"
    assert alone.approval.value["approvedAt"].startswith("2027-03-08T09:42:00")
    assert alone.approval.value["systems"] == ["openlineage"]
    for answer in ("training_dataset", "features"):
        assert getattr(alone, answer).value == getattr(trace, answer).value, answer
    assert alone.training.value["hyperparameters"] == trace.training.value["hyperparameters"]
    later = trace_inference(openlineage_only, "loan-9120")
    assert later.model_version.value["version"] == 74 and later.gaps == []


# -- not approved at the time: a finding, exit code 1 -----------------------------------------
def test_a_revocation_before_the_inference_is_a_finding_and_exit_1(story_graph, tmp_path: Path) -> None:
    store, _ = story_graph
    revoked_at = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)
    package = f"{SM}:model-package/credit-xgb/73"
    decision = approval_id(package, revoked_at)
    revocation = (  # the registry's record of it, as the SageMaker source writes one
        [Node(decision, NodeKind.APPROVAL, "credit-xgb/73 Rejected", "sagemaker",
              {"status": "Rejected", "approver": "bob@company.com", "package": package, "time": stamp(revoked_at),
               "approverArn": "arn:aws:sts::123456789012:assumed-role/risk-ops/bob@company.com",
               "action": f"{SM}:action/credit-xgb-73-revocation", "description": "drift"}, valid_from=revoked_at)],
        [Edge(decision, NodeId(package), EdgeKind.APPROVED, "sagemaker", {"status": "Rejected"}, valid_from=revoked_at)],
    )
    url = f"sqlite:///{tmp_path / 'revoked.db'}"
    with GraphStore.open(url) as copy:
        dumped = Graph(store).dump()
        copy.write(
            [Node(NodeId(n["id"]), NodeKind(n["kind"]), n["name"], source, n["props"], coerce(n["valid_from"]),
                  times=n["times"]) for n in dumped["nodes"] for source in n["sources"]],
            [Edge(NodeId(e["src"]), NodeId(e["dst"]), EdgeKind(e["kind"]), source, e["props"], coerce(e["valid_from"]),
                  times=e["times"]) for e in dumped["edges"] for source in e["sources"]],
        )
        copy.write(*revocation)
        reconcile(copy)
        traced = trace_inference(copy, "loan-8231")
    assert traced.gaps == []
    assert traced.findings == [
        "model package credit-xgb/73 was NOT approved at 2027-03-12T10:14:03Z: Rejected since 2027-03-10T16:00:00Z "
        "by bob@company.com (sagemaker)"
    ]
    assert [d["status"] for d in traced.approval.value["history"]] == ["PendingManualApproval", "Approved", "Rejected"]
    result = CliRunner().invoke(main, ["trace", "loan-8231", "--store", url, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "ModelPackage credit-xgb/73 (NOT APPROVED at 2027-03-12 10:14 UTC: Rejected since 2027-03-10 16:00 UTC by bob@company.com)" in result.output
    assert "gap:" not in result.output
    markdown = (tmp_path / "out" / "loan-8231.md").read_text()
    assert "## Findings\n\n- model package credit-xgb/73 was NOT approved" in markdown
