"""``mlflow``: an MLflow tracking server's experiments, runs, logged models and model registry.

Contract: ``MlflowSource.read(since)`` reads the server at ``tracking_uri`` through MLflow's
own client (``mlflow-skinny``, the extra ``crossline[mlflow]``; imported on first use, so
crossline imports without it) and yields:

- per experiment (``experiments`` names limit them), an ``MLFLOW_EXPERIMENT`` node;
- per run, a batch per page of runs: an ``MLFLOW_RUN`` node (id ``mlflow_run_id``, name
  the run's name) with its params, its metrics (last value, step and time) and every
  metric's history (step, value, time), tags, status, start/end times, dataset inputs
  and logged models; ``PART_OF`` its experiment; each dataset input whose source names
  a URI the naming function can name as a ``DATASET`` node (props ``mlflowDataset``:
  name, digest, context) ``CONSUMED`` by the run; each logged model ``PRODUCED`` by it;
  the git commit MLflow records (tags ``mlflow.source.git.repoURL`` and
  ``mlflow.source.git.commit``) as a ``CODE_COMMIT`` node (the id OpenLineage's
  ``sourceCodeLocation`` gives the same commit) with a ``CODE`` edge to the run;
- per logged model, an ``MLFLOW_LOGGED_MODEL`` node;
- per registered model (``registry``), an ``MLFLOW_REGISTERED_MODEL`` node (aliases,
  tags) and its versions as ``MLFLOW_MODEL_VERSION`` nodes named ``{model}/{version}``
  (run, source, logged model, stage, the aliases pointing at it, tags, times), each
  ``PART_OF`` its model, with ``CONTRIBUTED_TO`` from its logged model (else its run).

Links to SageMaker (a run's ``sagemaker.*`` tags, a version's
``sagemaker.model_package_arn`` tag, a package's ``mlflow.run_id`` metadata) are the
reconciliation's, which keeps their rule and evidence.

Watermark: ``{"runs": <ms>}``, the newest end time (epoch ms) of a finished run read.
A read takes the runs that ended after it, less ``lookback_seconds`` (end times are the
client's clocks, not the server's, so a run that ended a little "earlier" is still
caught), and every run still running (re-read whole until it ends). Experiments,
logged models and the registry are read whole every time (they are few; records are
upserted, so reading them again changes nothing). MLflow keeps no history of aliases
or stages: a version's ``aliases`` and ``stage`` are what the server says when read,
and a later read that sees them moved updates the record. Batches before the last carry
``since``; the last carries the new watermark.

Props are redacted (``crossline.redact``) before they leave the source: params and tags
are whatever a training script logged.

Errors: the server unreachable (or the first call refused) is a ``SourceError``; one
run, history or model that cannot be read is a warning and the rest goes on (the
watermark then stays). ``max_retries`` and ``timeout`` are MLflow's HTTP retry and
timeout settings for the read (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``/``_TIMEOUT``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from crossline.collectors.model import (
    Edge,
    EdgeKind,
    Node,
    NodeId,
    NodeKind,
    commit_id,
    dataset_id,
    mlflow_experiment_id,
    mlflow_logged_model_id,
    mlflow_model_id,
    mlflow_run_id,
)
from crossline.collectors.sources import Batch, Source
from crossline.collectors.sources.mlflow_config import (
    MlflowConfig,
    drop_none,
    first_line,
    logged_model_of,
    millis,
    parse_watermark,
    source_uri,
)
from crossline.errors import ConfigError, InvalidEvent, SourceError
from crossline.redact import redact

SOURCE = "mlflow"
T = TypeVar("T")
GIT_REPO, GIT_COMMIT = "mlflow.source.git.repoURL", "mlflow.source.git.commit"


@dataclass
class MlflowReport:
    scanned: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Failed(Exception):
    """One entity could not be read: warned, the rest goes on."""


class MlflowSource(Source):
    kind = SOURCE
    config_class = MlflowConfig

    def __init__(self, config: MlflowConfig, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config
        self.report = MlflowReport()
        self._client: Any = None
        self._since: str | None = None
        self._batch = Batch()
        self._complete = True
        self._seen: set[tuple[str, ...]] = set()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MlflowSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(MlflowConfig.from_dict(values), name=name)

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from mlflow import MlflowClient
            except ImportError as err:
                raise ConfigError("the mlflow source needs MLflow's client: pip install 'crossline[mlflow]'") from err
            self._client = MlflowClient(tracking_uri=self.config.tracking_uri, registry_uri=self.config.tracking_uri)
        return self._client

    # -- reading ------------------------------------------------------------------------
    def read(self, since: str | None) -> Iterator[Batch]:
        self.report, self._complete, self._seen, self._since = MlflowReport(), True, set(), since
        self._batch = Batch(watermark=since)
        after = parse_watermark(since)
        newest = after
        with self._http_settings():
            experiments = self._experiments()
            for experiment in experiments:
                for run in self._runs(experiment, after):
                    end = run.info.end_time
                    if run.info.status not in ("RUNNING", "SCHEDULED") and isinstance(end, int):
                        newest = max(newest or end, end)
                    yield from self._ready()
                self._logged_models(experiment)
                yield from self._ready(force=True)
            if self.config.registry:
                for model in self._pages(lambda token: self.client.search_registered_models(
                        max_results=min(self.config.page_size, 1000), page_token=token), "registered models"):
                    self._registered_model(model)
                    yield from self._ready(force=True)
        last = self._take()
        last.watermark = since
        if self._complete and newest is not None and newest != after:
            last.watermark = json.dumps({"runs": newest})
        elif not self._complete:
            self._warn(f"some MLflow reads failed: the watermark stays at {since!r}", last)
        yield last

    def _ready(self, force: bool = False) -> Iterator[Batch]:
        if force or len(self._batch.nodes) >= self.config.page_size:
            batch = self._take()
            if batch.nodes or batch.edges or batch.warnings or batch.scanned:
                yield batch

    def _take(self) -> Batch:
        batch, self._batch, self._seen = self._batch, Batch(watermark=self._since), set()
        return batch

    @contextmanager
    def _http_settings(self) -> Iterator[None]:
        settings = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.config.max_retries),
                    "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.config.timeout)}
        before = {k: os.environ.get(k) for k in settings}
        os.environ.update(settings)
        try:
            yield
        finally:
            for key, value in before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from mlflow.exceptions import MlflowException

        try:
            return fn()
        except MlflowException as err:
            self._complete = False
            self._warn(f"{what}: {first_line(err)}")
            raise _Failed from err

    def _pages(self, fetch: Callable[[str | None], Any], what: str) -> Iterator[Any]:
        token: str | None = None
        while True:
            try:
                page = self._call(what, lambda: fetch(token))
            except _Failed:
                return
            yield from page
            token = getattr(page, "token", None)
            if not token:
                return

    def _experiments(self) -> list[Any]:
        from mlflow.exceptions import MlflowException

        wanted = set(self.config.experiments) if self.config.experiments is not None else None
        found, token = [], None
        while True:
            try:
                page = self.client.search_experiments(max_results=min(self.config.page_size, 1000), page_token=token)
            except MlflowException as err:
                raise SourceError(f"MLflow at {self.config.tracking_uri} cannot be read: {first_line(err)}") from err
            found.extend(e for e in page if wanted is None or e.name in wanted)
            token = page.token
            if not token:
                break
        for experiment in found:
            self._scan("experiment")
            self._node(mlflow_experiment_id(self.config.server, experiment.experiment_id), NodeKind.MLFLOW_EXPERIMENT,
                       experiment.name, drop_none({
                           "experimentId": experiment.experiment_id, "artifactLocation": experiment.artifact_location,
                           "lifecycleStage": experiment.lifecycle_stage, "tags": dict(experiment.tags or {}) or None,
                           "creationTime": millis(experiment.creation_time), "server": self.config.tracking_uri,
                           "api": "SearchExperiments",
                       }))
        if wanted is not None and wanted - {e.name for e in found}:
            self._warn(f"no experiment named {sorted(wanted - {e.name for e in found})} on {self.config.tracking_uri}")
        return found

    def _runs(self, experiment: Any, after: int | None) -> Iterator[Any]:
        filters = ["attributes.status = 'RUNNING'", "attributes.status = 'SCHEDULED'"]
        filters.insert(0, "" if after is None else f"attributes.end_time > {after - self.config.lookback_seconds * 1000}")
        seen: set[str] = set()
        for filter_string in filters if after is not None else [""]:
            pages = self._pages(lambda token, f=filter_string: self.client.search_runs(
                [experiment.experiment_id], filter_string=f, max_results=self.config.page_size,
                order_by=["attributes.start_time ASC"], page_token=token), f"runs of experiment {experiment.name}")
            for run in pages:
                if run.info.run_id in seen:
                    continue
                seen.add(run.info.run_id)
                self._scan("run")
                try:
                    self._run(experiment, run)
                except _Failed:
                    continue
                yield run

    def _run(self, experiment: Any, run: Any) -> None:
        info, data = run.info, run.data
        node = mlflow_run_id(info.run_id)
        history = {key: [[m.step, m.value, millis(m.timestamp)] for m in sorted(
                       self._call(f"metric {key} of run {info.run_id}", lambda k=key: self.client.get_metric_history(info.run_id, k)),
                       key=lambda m: (m.step, m.timestamp))]
                   for key in sorted(data.metrics)}
        metrics = {key: {"value": points[-1][1], "step": points[-1][0], "time": points[-1][2]}
                   for key, points in history.items() if points}
        inputs = []
        for dataset_input in (run.inputs.dataset_inputs if run.inputs else []) or []:
            inputs.append(self._dataset_input(node, info.run_id, dataset_input))
        models = [m.model_id for m in ((run.outputs.model_outputs if run.outputs else []) or [])]
        tags = dict(data.tags or {})
        self._node(node, NodeKind.MLFLOW_RUN, info.run_name or info.run_id, drop_none({
            "runId": info.run_id, "runName": info.run_name, "experimentId": info.experiment_id,
            "experiment": experiment.name, "status": info.status, "user": info.user_id or None,
            "startTime": millis(info.start_time), "endTime": millis(info.end_time), "artifactUri": info.artifact_uri,
            "lifecycleStage": info.lifecycle_stage, "params": dict(data.params or {}) or None,
            "metrics": metrics or None, "metricHistory": history or None, "tags": tags or None,
            "datasetInputs": inputs or None, "loggedModels": models or None, "server": self.config.tracking_uri,
            "api": "SearchRuns+GetMetricHistory",
        }))
        self._edge(node, mlflow_experiment_id(self.config.server, info.experiment_id), EdgeKind.PART_OF, {"api": "SearchRuns"})
        for model in models:
            self._edge(node, mlflow_logged_model_id(model), EdgeKind.PRODUCED, {"api": "SearchRuns (outputs)"})
        if tags.get(GIT_REPO) and tags.get(GIT_COMMIT):
            repo, commit = tags[GIT_REPO], tags[GIT_COMMIT]
            code = commit_id(repo, commit)
            self._node(code, NodeKind.CODE_COMMIT, f"{repo}@{commit}",
                       {"repoUrl": repo, "version": commit, "type": "git", "from": "mlflow"})
            self._edge(code, node, EdgeKind.CODE, {"tags": [GIT_REPO, GIT_COMMIT], "api": "SearchRuns (tags)"})

    def _dataset_input(self, run_node: NodeId, run: str, dataset_input: Any) -> dict[str, Any]:
        dataset = dataset_input.dataset
        context = next((t.value for t in dataset_input.tags or [] if t.key == "mlflow.data.context"), None)
        described = drop_none({"name": dataset.name, "digest": dataset.digest, "sourceType": dataset.source_type,
                           "source": dataset.source, "context": context})
        uri = source_uri(dataset.source)
        if uri is None:
            return described
        try:
            target = dataset_id(uri)
        except InvalidEvent as err:
            self._warn(f"run {run}: dataset input {dataset.name!r} source {uri!r} names no dataset ({err})")
            return described
        namespace, _, name = target.removeprefix("dataset:").rpartition(":")
        self._node(target, NodeKind.DATASET, name, {"namespace": namespace, "name": name,
                                                     "mlflowDataset": {k: v for k, v in described.items() if k != "source"}})
        self._edge(target, run_node, EdgeKind.CONSUMED, drop_none({"mlflowDataset": dataset.name, "digest": dataset.digest,
                                                               "context": context, "api": "SearchRuns (inputs)"}))
        return {**described, "dataset": target}

    def _logged_models(self, experiment: Any) -> None:
        fetch = getattr(self.client, "search_logged_models", None)
        if fetch is None:  # MLflow 2: no logged models
            return
        for model in self._pages(lambda token: fetch([experiment.experiment_id], max_results=min(self.config.page_size, 100),
                                                     page_token=token), f"logged models of experiment {experiment.name}"):
            self._scan("logged_model")
            node = mlflow_logged_model_id(model.model_id)
            self._node(node, NodeKind.MLFLOW_LOGGED_MODEL, model.name or model.model_id, drop_none({
                "modelId": model.model_id, "name": model.name, "experimentId": model.experiment_id,
                "sourceRunId": model.source_run_id, "status": str(getattr(model.status, "name", model.status) or "") or None,
                "modelType": model.model_type or None, "artifactLocation": model.artifact_location,
                "creationTime": millis(model.creation_timestamp), "lastUpdatedTime": millis(model.last_updated_timestamp),
                "api": "SearchLoggedModels",
            }))
            if model.source_run_id:
                self._edge(mlflow_run_id(model.source_run_id), node, EdgeKind.PRODUCED, {"api": "SearchLoggedModels"})

    def _registered_model(self, model: Any) -> None:
        self._scan("registered_model")
        server = self.config.server
        model_node = mlflow_model_id(server, model.name)
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        self._node(model_node, NodeKind.MLFLOW_REGISTERED_MODEL, model.name, drop_none({
            "name": model.name, "aliases": dict(model.aliases or {}) or None, "tags": dict(model.tags or {}) or None,
            "description": model.description or None, "creationTime": millis(model.creation_timestamp),
            "lastUpdatedTime": millis(model.last_updated_timestamp), "server": self.config.tracking_uri,
            "api": "SearchRegisteredModels",
        }))
        escaped = model.name.replace("'", "\\'")
        versions = self._pages(lambda token: self.client.search_model_versions(
            f"name = '{escaped}'", max_results=min(self.config.page_size, 200_000), page_token=token),
            f"versions of model {model.name}")
        for version in versions:
            self._scan("model_version")
            node = mlflow_model_id(server, model.name, version.version)
            logged = logged_model_of(version)
            self._node(node, NodeKind.MLFLOW_MODEL_VERSION, f"{model.name}/{version.version}", drop_none({
                "model": model.name, "version": str(version.version), "runId": version.run_id or None,
                "source": version.source, "loggedModel": logged, "status": version.status,
                "stage": version.current_stage if version.current_stage not in (None, "None") else None,
                "aliases": sorted(aliases.get(str(version.version), [])) or None,
                "tags": dict(version.tags or {}) or None, "description": version.description or None,
                "creationTime": millis(version.creation_timestamp), "lastUpdatedTime": millis(version.last_updated_timestamp),
                "api": "SearchRegisteredModels+SearchModelVersions",
            }))
            self._edge(node, model_node, EdgeKind.PART_OF, {"api": "SearchModelVersions"})
            if logged:
                self._edge(mlflow_logged_model_id(logged), node, EdgeKind.CONTRIBUTED_TO,
                           {"source": version.source, "api": "SearchModelVersions"})
            elif version.run_id:
                self._edge(mlflow_run_id(version.run_id), node, EdgeKind.CONTRIBUTED_TO,
                           {"source": version.source, "api": "SearchModelVersions"})

    # -- records ------------------------------------------------------------------------------
    def _node(self, node_id: NodeId, kind: NodeKind, name: str, props: dict[str, Any]) -> None:
        if ("n", node_id) not in self._seen:
            self._seen.add(("n", node_id))
            # secrets stop at the door: params and tags are whatever a training script logged
            self._batch.nodes.append(Node(node_id, kind, name, SOURCE, redact(props)))

    def _edge(self, src: NodeId, dst: NodeId, kind: EdgeKind, props: dict[str, Any]) -> None:
        edge = Edge(src, dst, kind, SOURCE, props)
        if ("e", *edge.key) not in self._seen:
            self._seen.add(("e", *edge.key))
            self._batch.edges.append(edge)

    def _scan(self, kind: str) -> None:
        self.report.scanned[kind] = self.report.scanned.get(kind, 0) + 1
        self._batch.scanned += 1

    def _warn(self, message: str, batch: Batch | None = None) -> None:
        self.report.warnings.append(message)
        (batch or self._batch).warnings.append(message)


__all__ = ["MlflowConfig", "MlflowSource"]
