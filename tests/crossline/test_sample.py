"""``crossline sample``: the shipped sample copies out and collects with no AWS and no servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CROSSLINE = str(Path(sys.executable).with_name("crossline"))


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return subprocess.run([CROSSLINE, *argv], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_the_sample_copies_out_and_collects_offline(tmp_path: Path) -> None:
    made = run("sample", "s", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "s"
    assert (folder / "events.jsonl").is_file() and (folder / "README.md").is_file()
    captures = sorted(p.relative_to(folder / "datacapture").parts[:2] for p in (folder / "datacapture").rglob("*.jsonl"))
    assert captures == [("credit-prod", "credit-prod-v73"), ("credit-prod", "credit-prod-v74")]
    collect_line = next(line.strip() for line in made.stdout.splitlines() if line.strip().startswith("crossline collect"))
    collected = run(*collect_line.split()[1:], "--json", cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    report = json.loads(collected.stdout)
    assert report["sources"]["openlineage-file"]["scanned"] == sum(1 for _ in (folder / "events.jsonl").open())
    assert report["sources"]["data-capture"]["nodes"] == 2
    assert report["warnings"] == []


def test_the_sample_traces_without_a_gap_from_openlineage_and_capture_alone(tmp_path: Path) -> None:
    """No SageMaker source: the package, its approval and its serving interval come from crossline's facets."""
    made = run("sample", "s", cwd=tmp_path)
    collect_line = next(line.strip() for line in made.stdout.splitlines() if line.strip().startswith("crossline collect"))
    assert run(*collect_line.split()[1:], cwd=tmp_path).returncode == 0
    store = next(arg for arg in collect_line.split() if arg.endswith(".db"))
    for inference, version, week in (("loan-8231", 73, "2027-W10"), ("loan-9120", 74, "2027-W11")):
        traced = run("trace", inference, "--store", store, "--json", "--out", "out", cwd=tmp_path)
        assert traced.returncode == 0, traced.stderr
        answer = json.loads(traced.stdout)
        assert (answer["gaps"], answer["findings"]) == ([], [])
        assert answer["model_version"]["value"]["version"] == version
        assert answer["training_dataset"]["value"]["dataset"].endswith(f"train/{week}")
        assert answer["approval"]["value"]["approver"] == "risk-ops@company.com"


def test_a_folder_with_files_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mine.txt").write_text("keep me")
    refused = run("sample", "s", cwd=tmp_path)
    assert refused.returncode == 2
    assert "not empty" in refused.stderr
    assert (tmp_path / "s" / "mine.txt").read_text() == "keep me"


def test_the_sample_names_no_machine() -> None:
    sample = Path(__file__).resolve().parents[2] / "crossline" / "samples" / "credit"
    text = "".join(p.read_text() for p in sample.rglob("*") if p.is_file())
    for fragment in ("/work/", "/tmp/", "/root/", "/home/"):
        assert fragment not in text


def test_a_package_is_named_as_users_name_it_with_only_openlineage_collected(tmp_path: Path) -> None:
    """``credit-xgb/73`` and the package's ARN name the OpenLineage dataset of the package."""
    made = run("sample", "s", cwd=tmp_path)
    collect_line = next(line.strip() for line in made.stdout.splitlines() if line.strip().startswith("crossline collect"))
    assert run(*collect_line.split()[1:], cwd=tmp_path).returncode == 0
    store = next(arg for arg in collect_line.split() if arg.endswith(".db"))
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-xgb/73"
    for name in ("credit-xgb/73", arn):
        traced = run("trace", "--package", name, "--as-of", "2027-03-12T10:14:03Z", "--store", store, "--json",
                     "--out", "out", cwd=tmp_path)
        assert traced.returncode == 0, traced.stderr
        answer = json.loads(traced.stdout)
        assert answer["model_version"]["value"]["modelPackageArn"] == arn
        assert answer["approval"]["value"]["approver"] == "risk-ops@company.com"
        asked = run("query", "ancestors", name, "--store", store, "--json", cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert any("train/2027-W10" in node for node in json.loads(asked.stdout)["nodes"])
    unknown = run("trace", "--package", "credit-xgb/99", "--store", store, cwd=tmp_path)
    assert unknown.returncode == 2 and "no model package" in unknown.stderr
