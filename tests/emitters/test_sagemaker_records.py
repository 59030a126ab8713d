"""API records to facets: the rules the extractors and the approval handler share."""

from __future__ import annotations

import subprocess

import pytest

from crossline.emitters import code_location, sagemaker


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({"binary_classification_metrics": {"auc": {"value": 0.871}, "ks": {"value": 0.412}}}, {"auc": 0.871, "ks": 0.412}),
        ({"auc": 0.871, "ks": 0.412}, {"auc": 0.871, "ks": 0.412}),
        ({"metrics": {"auc": {"value": 0.9, "standard_deviation": "NaN"}, "passed": True}}, {"auc": 0.9}),
        ({"notes": "no numbers"}, {}),
    ],
)
def test_evaluation_metrics_reads_model_quality_and_flat_reports(report: dict, expected: dict) -> None:
    metrics = sagemaker.evaluation_metrics(report, source="s3://credit/eval/2027-W10/evaluation.json")
    assert {m.name: m.value for m in metrics} == expected
    assert all(m.kind == "evaluation" and m.source.endswith("evaluation.json") for m in metrics)


@pytest.mark.parametrize(
    ("args", "inputs", "output"),
    [
        ({"--input_paths": "s3://a/x/, s3://b/y.csv", "--output_path": "s3://c/z/"}, ["s3://a/x/", "s3://b/y.csv"], "s3://c/z/"),
        ({"--output_path": "s3://c/z/"}, [], "s3://c/z/"),
        ({}, [], None),
    ],
)
def test_glue_paths(args: dict, inputs: list, output: str | None) -> None:
    assert sagemaker.glue_paths(args) == (inputs, output)


@pytest.mark.parametrize(
    ("args", "inputs", "outputs"),
    [
        # crossline's own arguments come first, as before
        ({"--input_paths": "s3://a/x/,s3://b/y.csv", "--output_path": "s3://c/z/"}, ["s3://a/x/", "s3://b/y.csv"], ["s3://c/z/"]),
        # the forms the bed's job runner writes, and their input counterparts
        ({"--input_path": "s3://raw/in/", "--output_s3": "s3://out/a/"}, ["s3://raw/in/"], ["s3://out/a/"]),
        ({"--s3_input": "s3://raw/x", "--s3_output": "s3://out/b/", "--target_path": "s3://out/c/"}, ["s3://raw/x"], ["s3://out/b/", "s3://out/c/"]),
        ({"--source_path": "s3://raw/y/", "--output_location": "s3://out/d/"}, ["s3://raw/y/"], ["s3://out/d/"]),
        # catalog tables, named by the Glue rule (the second story's curation job)
        ({"--source_database": "fraud_raw", "--source_table": "card_transactions", "--target_database": "fraud_curated",
          "--target_table": "transactions_daily", "--week": "2027-W14"},
         ["arn:aws:glue:eu-west-1:210987654321:table/fraud_raw/card_transactions"],
         ["arn:aws:glue:eu-west-1:210987654321:table/fraud_curated/transactions_daily"]),
        ({"--output_database": "db", "--output_table": "t", "--input_database": "db", "--input_table": "s"},
         ["arn:aws:glue:eu-west-1:210987654321:table/db/s"], ["arn:aws:glue:eu-west-1:210987654321:table/db/t"]),
        # half a pair, or a value that is not S3, names nothing
        ({"--source_database": "fraud_raw", "--output_path": "hdfs://x/y"}, [], []),
        ({}, [], []),
    ],
)
def test_glue_datasets_reads_the_common_argument_forms(args: dict, inputs: list, outputs: list) -> None:
    assert sagemaker.glue_datasets(args, "eu-west-1", "210987654321") == (inputs, outputs)


def test_glue_tables_need_the_account() -> None:
    args = {"--source_database": "d", "--source_table": "t", "--output_s3": "s3://o/p/"}
    assert sagemaker.glue_datasets(args, None, None) == ([], ["s3://o/p/"])


def test_code_location_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    dag = repo / "dag.py"
    dag.write_text("# dag\n")
    for argv in (["init", "-q"], ["add", "dag.py"], ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "x"],
                 ["remote", "add", "origin", "https://github.com/acme/dags.git"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    monkeypatch.delenv("CROSSLINE_CODE_REPO", raising=False)
    monkeypatch.delenv("CROSSLINE_CODE_COMMIT", raising=False)

    from_git = code_location.resolve(None, dag)
    assert (from_git.repo_url, from_git.commit, from_git.path) == ("https://github.com/acme/dags.git", head, "dag.py")

    monkeypatch.setenv("CROSSLINE_CODE_REPO", "github.com/acme/deployed")
    monkeypatch.setenv("CROSSLINE_CODE_COMMIT", "b0b0b0b")
    assert code_location.resolve(None, dag).commit == "b0b0b0b"

    tags = [{"Key": "crossline:code-repo", "Value": "github.com/acme/credit-ml"}, {"Key": "crossline:code-commit", "Value": "a14f2b9"}]
    assert code_location.resolve(tags, dag) == code_location.CodeLocation("github.com/acme/credit-ml", "a14f2b9", source="resource tags")
    assert code_location.resolve({"--crossline-code-repo": "r", "--crossline-code-commit": "c"}).commit == "c"


def test_no_code_location_is_none(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("CROSSLINE_CODE_REPO", raising=False)
    monkeypatch.delenv("CROSSLINE_CODE_COMMIT", raising=False)
    assert code_location.resolve([{"Key": "crossline:code-repo", "Value": "only-repo"}], tmp_path / "nowhere.py") is None


def test_a_local_path_remote_is_no_code_location(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A clone of a clone has a path as its origin: nobody else can open that commit."""
    monkeypatch.delenv("CROSSLINE_CODE_REPO", raising=False)
    monkeypatch.delenv("CROSSLINE_CODE_COMMIT", raising=False)
    repo = tmp_path / "clone"
    repo.mkdir()
    (repo / "dag.py").write_text("# dag\n")
    for argv in (["init", "-q"], ["add", "dag.py"], ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "x"],
                 ["remote", "add", "origin", str(tmp_path / "upstream")]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True)
    assert code_location.resolve(None, repo / "dag.py") is None
