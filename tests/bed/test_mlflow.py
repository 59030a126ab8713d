"""The bed's MLflow is the real tracking server: it takes what teams log, and stops clean.

One server of this test's own (not the session's), so that stopping it can be checked:
a run with params, metrics with steps, a dataset input and a logged model; a registered
model version with an alias; then ``stop()`` leaves no process of its group.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from crossline_bed.mlflow import MlflowServer
from crossline_bed.process import pid_alive


def _group(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and pid_alive(int(entry.name)):
                    members.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return members


def test_mlflow_server_takes_a_run_a_model_version_and_an_alias_then_stops_clean(tmp_path: Path) -> None:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    server = MlflowServer(tmp_path / "mlflow").start()
    pgid = server.pid
    assert pgid is not None and _group(pgid)
    try:
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient(server.url)
        experiment_id = client.create_experiment("bed-check")
        frame = pd.DataFrame({"amount": [10.0, 250.0, 31.5, 990.0], "label": [0, 1, 0, 1]})
        with mlflow.start_run(experiment_id=experiment_id, run_name="train-1") as run:
            mlflow.log_params({"C": "0.5", "solver": "lbfgs"})
            for step, loss in enumerate((0.69, 0.41, 0.33)):
                mlflow.log_metric("loss", loss, step=step)
            mlflow.log_input(mlflow.data.from_pandas(frame, source="s3://bed/train/part-0.csv", name="train"), context="training")
            mlflow.set_tag("sagemaker.training_job_arn", "arn:aws:sagemaker:eu-west-1:210987654321:training-job/x")
            model = LogisticRegression(C=0.5).fit(frame[["amount"]], frame["label"])
            logged = mlflow.sklearn.log_model(model, name="model", input_example=frame[["amount"]].head(1))
        version = mlflow.register_model(logged.model_uri, "bed-scorer")
        client.set_registered_model_alias("bed-scorer", "champion", version.version)

        fetched = client.get_run(run.info.run_id)
        assert fetched.data.params == {"C": "0.5", "solver": "lbfgs"}
        assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.69, 0.41, 0.33]
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]
        (dataset_input,) = fetched.inputs.dataset_inputs
        assert dataset_input.dataset.name == "train" and "s3://bed/train/part-0.csv" in dataset_input.dataset.source
        assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
        assert fetched.data.tags["sagemaker.training_job_arn"].endswith("training-job/x")
        assert client.get_logged_model(logged.model_id).source_run_id == run.info.run_id
        by_alias = client.get_model_version_by_alias("bed-scorer", "champion")
        assert by_alias.version == version.version == "1" and by_alias.run_id == run.info.run_id
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while _group(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group(pgid) == []
    server.stop()  # twice is harmless


def test_a_taken_port_is_refused_with_the_setting_that_moves_it(tmp_path: Path, mlflow_server: MlflowServer) -> None:
    from crossline_bed.errors import BedConfigError

    with pytest.raises(BedConfigError, match="CROSSLINE_MLFLOW_PORT"):
        MlflowServer(tmp_path, port=mlflow_server.port).start()
