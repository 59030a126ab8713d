"""MlflowSource against the session's real MLflow tracking server, through MLflow's own client."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from crossline.collectors.model import EdgeKind, NodeKind, commit_id, mlflow_model_id, mlflow_run_id
from crossline.collectors.sources import source_from_config
from crossline.collectors.sources.mlflow_tracking import MlflowSource
from crossline.errors import ConfigError, SourceError

START = 1806894017496  # 2027-04-05T03:00:17.496Z, a client's clock


def read(config: dict, since: str | None = None):  # type: ignore[no-untyped-def]
    source = source_from_config({"type": "mlflow", **config})
    batches = list(source.read(since))
    return (source, batches, {n.id: n for b in batches for n in b.nodes}, [e for b in batches for e in b.edges],
            [w for b in batches for w in b.warnings])


@pytest.fixture
def logged(mlflow_server):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = MlflowClient(mlflow_server.url)
    experiment = f"exp-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment)
    run = client.create_run(experiment_id, start_time=START, run_name="train-a", tags={
        "mlflow.source.git.repoURL": "https://github.com/acme/models", "mlflow.source.git.commit": "abc1234",
        "sagemaker.training_job_arn": "arn:aws:sagemaker:eu-west-1:210987654321:training-job/job-a"})
    run_id = run.info.run_id
    client.log_param(run_id, "eta", "0.1")
    client.log_param(run_id, "db_password", "hunter2")  # a training script logs what it was given
    for step, value in ((0, 0.5), (100, 0.8), (200, 0.9)):
        client.log_metric(run_id, "auc", value, timestamp=START + step, step=step)
    dataset = Dataset(name="train", digest="d1", source_type="s3", source=json.dumps({"uri": "s3://data/train/w1/"}))
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    client.set_terminated(run_id, end_time=START + 60_000)
    model = f"model-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id,
                                          tags={"sagemaker.model_package_arn": "arn:aws:sagemaker:eu-west-1:210987654321:model-package/g/1"})
    client.set_registered_model_alias(model, "champion", version.version)
    return client, mlflow_server.url, experiment, experiment_id, run_id, model


def test_runs_metrics_with_steps_datasets_code_and_registered_versions(logged) -> None:
    _, url, experiment, experiment_id, run_id, model = logged
    source, batches, nodes, edges, warnings = read({"tracking_uri": url, "experiments": [experiment]})
    assert warnings == []
    run = nodes[mlflow_run_id(run_id)]
    assert run.kind is NodeKind.MLFLOW_RUN and run.name == "train-a"
    assert run.props["params"] == {"eta": "0.1", "db_password": "***"} and run.props["status"] == "FINISHED"
    assert run.props["metricHistory"]["auc"] == [[0, 0.5, "2027-04-05T03:00:17.496000+00:00"],
                                                 [100, 0.8, "2027-04-05T03:00:17.596000+00:00"],
                                                 [200, 0.9, "2027-04-05T03:00:17.696000+00:00"]]
    assert run.props["metrics"]["auc"] == {"value": 0.9, "step": 200, "time": "2027-04-05T03:00:17.696000+00:00"}
    assert run.props["startTime"] == "2027-04-05T03:00:17.496000+00:00"
    server = url.removeprefix("http://")
    kinds = {(e.src, e.dst, e.kind) for e in edges}
    assert ("dataset:s3://data:train/w1", run.id, EdgeKind.CONSUMED) in kinds
    assert (commit_id("https://github.com/acme/models", "abc1234"), run.id, EdgeKind.CODE) in kinds
    assert (run.id, f"mlflow-experiment:{server}/{experiment_id}", EdgeKind.PART_OF) in kinds
    version = nodes[mlflow_model_id(server, model, 1)]
    assert version.name == f"{model}/1" and version.props["aliases"] == ["champion"]
    assert version.props["tags"]["sagemaker.model_package_arn"].endswith("model-package/g/1")
    assert (run.id, version.id, EdgeKind.CONTRIBUTED_TO) in kinds  # no logged model: the run itself
    assert json.loads(batches[-1].watermark) == {"runs": START + 60_000}
    assert source.report.scanned["run"] == 1


def test_the_watermark_keeps_a_lookback_and_rereads_running_runs(logged) -> None:
    client, url, experiment, experiment_id, run_id, _ = logged
    config = {"tracking_uri": url, "experiments": [experiment], "registry": False, "lookback_seconds": 0}
    _, batches, _, _, _ = read(config)
    mark = batches[-1].watermark
    _, again, nodes, _, _ = read(config, mark)
    assert not [n for n in nodes.values() if n.kind is NodeKind.MLFLOW_RUN] and again[-1].watermark == mark
    running = client.create_run(experiment_id, start_time=START + 1000, run_name="still-running").info.run_id
    _, _, nodes, _, _ = read(config, mark)
    assert [n.name for n in nodes.values() if n.kind is NodeKind.MLFLOW_RUN] == ["still-running"]
    _, _, nodes, _, _ = read({**config, "lookback_seconds": 3600}, mark)
    assert {n.props["runId"] for n in nodes.values() if n.kind is NodeKind.MLFLOW_RUN} == {run_id, running}


def test_an_unreachable_server_is_a_source_error_and_bad_configs_are_refused() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match="cannot be read"):
        list(MlflowSource.from_config({"tracking_uri": "http://127.0.0.1:9", "max_retries": 0, "timeout": 2}).read(None))
    assert time.monotonic() - started < 30
    for bad, text in (({}, "tracking_uri"), ({"tracking_uri": "file:///tmp/mlruns"}, "tracking_uri"),
                      ({"url": "http://x", "page_size": 0}, "page_size"), ({"url": "http://x", "colour": 1}, "unknown"),
                      ({"url": "http://x", "lookback_seconds": -1}, "lookback")):
        with pytest.raises(ConfigError, match=text):
            MlflowSource.from_config(bad)
    with pytest.raises(SourceError, match="watermark"):
        list(MlflowSource.from_config({"url": "http://127.0.0.1:9"}).read("{}"))
