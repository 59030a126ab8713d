"""The regulator's question, answered from the collected story, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from pypdf import PdfReader

from crossline.cli import main
from crossline.collectors.report import lines, to_json, to_markdown, write_all
from crossline.collectors.trace import trace_inference, trace_package, trace_schema
from crossline.errors import NodeNotFound

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
    assert trace.gaps == []
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


def test_an_unknown_inference_names_what_was_searched(story_graph) -> None:
    store, _ = story_graph
    with pytest.raises(NodeNotFound, match=r"'loan-0000' is in no collected data capture \(searched the data capture of 1 endpoint\(s\): credit-prod\)"):
        trace_inference(store, "loan-0000")


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
    assert "loan-0000" in missing.output and "searched" in missing.output
