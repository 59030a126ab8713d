"""Issue 12: secrets never leave the process, from the emitter to the regulator's report.

One secret is planted in each place the issue found one leaking: a token in the git
remote the code location comes from, credentials in an S3 URI, a hyperparameter named
``api_token`` (on the SageMaker job, read back through boto3), a ``--db-password`` run
argument (in the command line of a failed run, and in another producer's event), and
``user:pass`` in the transport's URL. The events go through the durable transport to a
dead port, are replayed to the bed's Marquez with ``crossline lineage replay``, are
collected (with the SageMaker side from moto) into a graph store and traced. Then every
place is searched: the spool, every log record (caplog, DEBUG), the CLI's output, what
Marquez stored, the graph store and the trace's JSON, Markdown and PDF. Zero hits. The
test also checks that what stands in the secrets' place is there, so it cannot pass by
losing the data.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
import requests
from click.testing import CliRunner
from openlineage.client import OpenLineageClient
from pypdf import PdfReader

from crossline.cli import main
from crossline.emitters import code_location, sagemaker
from crossline.emitters.api import lineage_run
from crossline.emitters.facets.standard import code_location as code_location_facet
from crossline.emitters.transport import DurableHttpConfig, DurableHttpTransport
from crossline_bed.process import LOOPBACK, free_port

pytestmark = pytest.mark.marquez

REGION, ACCOUNT = "us-east-1", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/credit-ml"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _secret(kind: str) -> str:
    return f"{kind}{uuid.uuid4().hex}"


def _git_checkout(folder: Path, remote: str) -> Path:
    folder.mkdir()
    dag = folder / "dag.py"
    dag.write_text("# the DAG\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
           "HOME": str(folder), "PATH": "/usr/bin:/bin"}
    for argv in (["init", "-q"], ["add", "dag.py"], ["commit", "-qm", "dag"], ["remote", "add", "origin", remote]):
        subprocess.run(["git", "-C", str(folder), *argv], check=True, env=env, capture_output=True)
    return dag


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())


def test_planted_secrets_reach_no_spool_log_output_marquez_store_or_report(
    marquez, aws: str, namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    git_token = "ghp_" + uuid.uuid4().hex + "abcd"
    s3_secret, hp_secret, db_secret, url_secret = (_secret(k) for k in ("s3sec", "hpsec", "dbsec", "urlsec"))
    secrets = {"git remote token": git_token, "S3 URI userinfo": s3_secret, "hyperparameter api_token": hp_secret,
               "run argument --db-password": db_secret, "transport URL user:pass": url_secret}
    caplog.set_level(logging.DEBUG)
    # botocore logs raw request and response bodies at DEBUG by design (the moto calls below
    # carry the planted hyperparameter); that is boto3's own wire log, not crossline's.
    for noisy in ("botocore", "boto3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.INFO)

    # The SageMaker side: a training job whose hyperparameters hold a token, its model package.
    sm = boto3.client("sagemaker", endpoint_url=aws, region_name=REGION)
    job = f"credit-xgb-{uuid.uuid4().hex[:6]}"
    sm.create_training_job(
        TrainingJobName=job, RoleArn=ROLE, StoppingCondition={"MaxRuntimeInSeconds": 3600},
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"max_depth": "6", "eta": "0.2", "api_token": hp_secret},
        InputDataConfig=[{"ChannelName": "train",
                          "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://credit/train/2027-W10/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://credit/models/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
    )
    desc = sm.describe_training_job(TrainingJobName=job)
    model_data = sagemaker.training_output(desc)
    sm.create_model_package_group(ModelPackageGroupName="credit-xgb")
    package_arn = sm.create_model_package(
        ModelPackageGroupName="credit-xgb", ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": model_data}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]

    # Emit through the durable transport, its URL carrying user:pass, the backend down.
    spool = tmp_path / "spool"
    transport = DurableHttpTransport(DurableHttpConfig.from_dict({
        "url": f"http://crossline:{url_secret}@{LOOPBACK}:{free_port()}", "spool_dir": str(spool),
        "backoff_base": 0.01, "backoff_max": 0.05}))
    client = OpenLineageClient(transport=transport)
    dag = _git_checkout(tmp_path / "repo", f"https://ci-bot:{git_token}@github.com/acme/credit-ml.git")
    location = code_location.resolve(None, dag)
    assert location is not None
    with lineage_run(
        "credit.train", client=client, namespace=namespace,
        inputs=[f"s3://AKIAIOSFODNN7EXAMPLE:{s3_secret}@credit/train/2027-W10/"], outputs=[model_data],
        run_facets=sagemaker.training_facets(desc),
        job_facets={"sourceCodeLocation": code_location_facet(location.repo_url, location.commit, location.path)},
    ):
        pass
    with pytest.raises(subprocess.CalledProcessError), lineage_run("credit.export", client=client, namespace=namespace):
        raise subprocess.CalledProcessError(2, ["python", "export.py", "--db-password", db_secret])
    transport.close(0)

    def leaks(text: str) -> list[str]:
        return [where for where, secret in secrets.items() if secret in text]

    spooled = _all_text(spool)
    assert len(list(spool.glob("*.json"))) == 4
    assert leaks(spooled) == []
    assert '"api_token": "***"' in spooled and '"repoUrl": "https://github.com/acme/credit-ml"' in spooled
    assert "'--db-password', '***'" in spooled and '"namespace": "s3://credit"' in spooled

    # The CLI: status and replay, the URL with user:pass on the command line.
    runner = CliRunner()

    def cli(*argv: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(main, ["--log-level", "debug", *argv])
        logging.getLogger().addHandler(caplog.handler)  # the CLI sets up logging afresh; keep capturing
        return result

    outputs = [cli("lineage", "status", "--spool", str(spool), *flag) for flag in ([], ["--json"])]
    replay = cli("lineage", "replay", "--spool", str(spool), "--url", marquez.url.replace("://", f"://crossline:{url_secret}@"))
    assert replay.exit_code == 0, replay.output
    assert json.loads(replay.stdout)["sent"] == 4
    assert leaks("\n".join(r.output for r in [*outputs, replay])) == []

    # What Marquez stored.
    now = datetime.now(timezone.utc)
    stored = requests.get(f"{marquez.url}/api/v1/events/lineage", timeout=30, params={
        "after": (now - timedelta(hours=1)).isoformat(), "before": (now + timedelta(hours=1)).isoformat(),
        "limit": 10_000}).json()["events"]
    mine = [e for e in stored if e["job"]["namespace"] == namespace]
    assert len(mine) == 4
    jobs = requests.get(f"{marquez.url}/api/v1/namespaces/{namespace}/jobs", timeout=30).json()
    assert leaks(json.dumps(mine) + json.dumps(jobs)) == []

    # Another producer's event, with the run argument in it: the collector redacts at the door.
    foreign = dict(mine[0])
    foreign["run"] = {"runId": str(uuid.uuid4()), "facets": {"spark_properties": {
        "_producer": "https://other", "_schemaURL": "https://other/spec",
        "properties": {"spark.app.args": f"--db-password {db_secret}", "spark.jdbc.password": db_secret}}}}
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(json.dumps(e) for e in [*mine, foreign]) + "\n")

    store = tmp_path / "graph.db"
    collect = cli("collect", "--openlineage", str(events_file), "--sagemaker", "--aws-endpoint", aws,
                  "--store", f"sqlite:///{store}", "--json")
    assert collect.exit_code == 0, collect.output
    with sqlite3.connect(store) as db:
        rows = [json.dumps(row, default=str) for table, in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                for row in db.execute(f'SELECT * FROM "{table}"')]  # noqa: S608
    assert leaks("\n".join(rows) + store.read_bytes().decode("utf-8", "replace")) == []
    assert any("api_token" in r and "***" in r for r in rows)

    out = tmp_path / "trace"
    trace = cli("trace", "--package", package_arn, "--store", f"sqlite:///{store}", "--out", str(out))
    assert trace.exception is None or isinstance(trace.exception, SystemExit), trace.output
    reports = _all_text(out) + "\n".join(page.extract_text() for pdf in out.glob("*.pdf")
                                          for page in PdfReader(pdf).pages)
    assert "api_token=***" in "".join(p.read_text() for p in out.glob("*.md"))  # the trace shows it, redacted
    assert leaks(trace.output + collect.output + reports) == []

    assert leaks(caplog.text) == [], [r.getMessage()[:300] for r in caplog.records if leaks(r.getMessage())]
