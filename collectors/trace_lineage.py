"""The trace where no OpenLineage run made the model: SageMaker's lineage, pipelines, MLflow, Feature Store, manual facts.

Contract: ``trace`` calls this module for what the credit story's path (the OpenLineage
run that produced the model artifact) cannot give:

- ``Context.of(package, first)``: from the trace's first step, the package's SageMaker
  artifacts, the pipeline execution that produced it (``Produced``, rule-free: the
  execution's RegisterModel step), the MLflow runs that contributed to it and the MLflow
  model versions that are it (reconciliation's ``mlflow:*`` rules), and its approval
  decisions.
- ``from_sagemaker(graph, context, second)`` -> ``(training, training_dataset, features)``
  walks, one batched ``Graph.step`` each: the model artifact the package artifact was
  made from -> the trial component that produced it -> its training job and input
  artifacts -> the job's MLflow runs, the training set's producer and datasets -> the
  producing (processing) job and its input artifacts -> the feature groups whose offline
  store those are (``feature-store:offline-prefix``), the Glue tables that alias them
  (``symlinks``) and the manual facts that record them. Hyperparameters and final
  metrics come from the training job; metrics with their steps and the code commit from
  the MLflow run; the training set's version from the MLflow dataset digest; the step
  names from the pipeline execution. Missing links are gaps. Three statements (``Graph.steps``
  chains two moves in one).
- ``manual_records(second, decision)``: the manual facts reconciliation found
  corroborating an approval decision (``manual:approval``), with who recorded each and
  when.
- ``evidence_source(node)``: the source an evidence line names for a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossline.collectors import trace as t
from crossline.collectors.model import EdgeKind, Node, NodeId, NodeKind

if TYPE_CHECKING:
    from crossline.collectors.graph import Graph, Hop

_SOURCES = ("manual", "mlflow", "feature-store", "glue-catalog", "sagemaker", "data-capture", "openlineage-file", "marquez")


def evidence_source(node: Node) -> str:
    """One source for an evidence line: the most specific system that recorded the node."""
    recorded = node.source.split(",")
    return next((s for s in _SOURCES if s in recorded), recorded[0])


@dataclass
class Context:
    package: Node
    package_artifacts: list[NodeId] = field(default_factory=list)
    executions: list[Node] = field(default_factory=list)
    mlflow_runs: list[Node] = field(default_factory=list)
    model_versions: list[Node] = field(default_factory=list)
    decisions: list[NodeId] = field(default_factory=list)
    started_by: dict[str, dict[str, Any]] = field(default_factory=dict)  # execution -> the run that started it

    @classmethod
    def of(cls, package: Node, first: Any) -> Context:
        found = cls(package)
        for hop in first.same_as(package.id):
            if hop.node is not None and hop.node.kind is NodeKind.SM_ARTIFACT:
                found.package_artifacts.append(hop.end)
            elif hop.node is not None and hop.node.kind is NodeKind.MLFLOW_MODEL_VERSION:
                found.model_versions.append(hop.node)
        for hop in first.into(package.id, EdgeKind.SM_PRODUCED):
            if hop.node is not None and hop.node.kind is NodeKind.PIPELINE_EXECUTION:
                found.executions.append(hop.node)
        for hop in first.into(package.id, EdgeKind.CONTRIBUTED_TO):
            if hop.node is not None and hop.node.kind is NodeKind.MLFLOW_RUN:
                found.mlflow_runs.append(hop.node)
        found.decisions = [h.end for h in first.into(package.id, EdgeKind.APPROVED)]
        return found

    @property
    def execution_ids(self) -> list[NodeId]:
        return [e.id for e in self.executions]

    def read_second(self, second: Any) -> None:
        """From the second step: the OpenLineage run SameAs each execution (rule
        ``external-query``), i.e. the orchestrator's task that started it."""
        for execution in self.executions:
            for hop in second.same_as(execution.id):
                if hop.node is not None and hop.node.kind is NodeKind.RUN:
                    job = str(hop.node.props.get("job") or "")
                    self.started_by[execution.id] = {"run": hop.end, "job": job.rsplit(":", 1)[-1] or None,
                                                     "rule": hop.edge.props.get("rule")}


def manual_records(second: Any, decision: NodeId) -> list[dict[str, Any]]:
    records = []
    for hop in second.same_as(decision):
        if hop.node is None or hop.node.kind is not NodeKind.MANUAL_FACT:
            continue
        props = hop.node.props
        records.append({"id": hop.end, "record": props.get("recordId"), "decidedBy": props.get("decidedBy"),
                        "decidedAt": props.get("decidedAt"), "ticket": props.get("ticket"),
                        "recordedBy": props.get("recordedBy"), "recordedAt": props.get("recordedAt"),
                        "readFrom": props.get("readFrom"), "rule": hop.edge.props.get("rule")})
    return sorted(records, key=lambda r: str(r.get("recordedAt")))


def _of_kind(hops: list[Hop], *kinds: NodeKind) -> list[Hop]:
    return [h for h in hops if h.node is not None and h.node.kind in kinds]


def _data_artifacts(hops: list[Hop]) -> list[Hop]:
    """Artifacts that are data, not the container image a job ran."""
    return [h for h in _of_kind(hops, NodeKind.SM_ARTIFACT) if h.node and h.node.props.get("ArtifactType") != "Image"]


def from_sagemaker(g: Graph, context: Context, second: Any) -> tuple[t.Answer, t.Answer, t.Answer]:
    package = context.package
    model_url = package.props.get("modelDataUrl")
    made_from = [h for a in context.package_artifacts for h in second.into(a, EdgeKind.CONTRIBUTED_TO)]
    models = [h for h in _data_artifacts(made_from) if not model_url or h.node and h.node.props.get("SourceUri") == model_url]
    if not models:
        gap = "no SageMaker lineage links the package to the model artifact it was made from"
        return t.Answer(gap=gap), t.Answer(gap=gap), t.Answer(gap=gap)
    # Steps 3 and 4, one statement: the trial component that produced the model artifact,
    # then its training job and its input artifacts.
    third_hops, fourth_hops = g.steps([h.end for h in models], [("in", {EdgeKind.SM_PRODUCED}),
                                                                 ("both", {EdgeKind.SAME_AS, EdgeKind.CONTRIBUTED_TO})])
    third, fourth = t._Steps(third_hops), t._Steps(fourth_hops)
    components = [h for m in models for h in _of_kind(third.into(m.end, EdgeKind.SM_PRODUCED), NodeKind.SM_TRIAL_COMPONENT)]
    if not components:
        gap = f"no SageMaker job is recorded as producing the model artifact {model_url}"
        return t.Answer(gap=gap), t.Answer(gap=gap), t.Answer(gap=gap)
    component = components[0]
    jobs = _of_kind(fourth.same_as(component.end), NodeKind.TRAINING_JOB)
    inputs = _data_artifacts(fourth.into(component.end, EdgeKind.CONTRIBUTED_TO))
    job = jobs[0].node if jobs else None
    # Step 5: the job's MLflow runs; what produced the training set, and the datasets it is; the runs' code.
    runs = {n.id: n for n in context.mlflow_runs}
    fifth_ids = [*([job.id] if job else []), *(h.end for h in inputs), *runs]
    fifth = t._Steps(g.step(fifth_ids, "both", {EdgeKind.SAME_AS, EdgeKind.SM_PRODUCED, EdgeKind.CODE}))
    if job is not None:
        runs.update({h.end: h.node for h in _of_kind(fifth.same_as(job.id), NodeKind.MLFLOW_RUN) if h.node})
    training = _training(context, job, component, list(runs.values()), fifth)
    training_set = inputs[0] if inputs else None
    producers = _of_kind(fifth.into(training_set.end, EdgeKind.SM_PRODUCED), NodeKind.SM_TRIAL_COMPONENT) if training_set else []
    training_dataset = _training_dataset(context, training_set, fifth, list(runs.values()), producers)
    if not producers:
        return training, training_dataset, t.Answer(gap="no SageMaker job is recorded as producing the training dataset")
    # Steps 6 and 7, one statement: the producing job and its input artifacts, then what
    # those inputs are: feature groups' offline stores, Glue tables, manual facts.
    sixth_hops, seventh_hops = g.steps([producers[0].end], [
        ("both", {EdgeKind.SAME_AS, EdgeKind.CONTRIBUTED_TO}),
        ("in", {EdgeKind.SAME_AS, EdgeKind.CONTRIBUTED_TO, EdgeKind.RECORDS})])
    sixth, seventh = t._Steps(sixth_hops), t._Steps(seventh_hops)
    producer_jobs = _of_kind(sixth.same_as(producers[0].end), NodeKind.PROCESSING_JOB, NodeKind.TRAINING_JOB)
    if producer_jobs and producer_jobs[0].node is not None:
        training_dataset.value["producedBy"] = _job_label(context, producer_jobs[0].node)
        training_dataset.evidence.append(t.Evidence("sagemaker", producer_jobs[0].end, producer_jobs[0].node.props.get("endTime"),
                                                    "the job whose trial component Produced the training set"))
    sources = _data_artifacts(sixth.into(producers[0].end, EdgeKind.CONTRIBUTED_TO))
    return training, training_dataset, _features(sources, seventh, producer_jobs)


def _job_label(context: Context, job: Node) -> str:
    for execution in context.executions:
        for step in execution.props.get("steps") or []:
            if str(step.get("arn", "")).lower() == job.id.lower():
                return str(step.get("name"))
    return job.name


def _training(context: Context, job: Node | None, component: Hop, runs: list[Node], steps: Any) -> t.Answer:
    if job is None:
        return t.Answer(gap=f"trial component {component.end} records no training job")
    props = job.props
    evidence = [t.Evidence("sagemaker", job.id, props.get("endTime"), "DescribeTrainingJob"),
                t.Evidence("sagemaker", component.end, None, "the trial component that Produced the model artifact")]
    metrics = [{"name": k, "value": v, "kind": "training", "source": "SageMaker FinalMetricDataList"}
               for k, v in sorted((props.get("metrics") or {}).items()) if isinstance(v, int | float)]
    code, recorded_runs = [], []
    for run in runs:
        run_props = run.props
        label = f"MLflow run {run.name}"
        for name, metric in sorted((run_props.get("metrics") or {}).items()):
            metrics.append({"name": name, "value": metric.get("value"), "kind": "mlflow",
                            "source": f"{label}, step {metric.get('step')}"})
        for hop in steps.into(run.id, EdgeKind.CODE):
            repo, commit = (hop.node.props if hop.node else {}).get("repoUrl"), (hop.node.props if hop.node else {}).get("version")
            if repo and commit:
                code.append({"repo": repo, "commit": commit, "from": "mlflow"})
        versions = [{"name": v.name, "aliases": v.props.get("aliases") or [], "stage": v.props.get("stage")}
                    for v in context.model_versions if v.props.get("runId") in (None, run_props.get("runId"))]
        recorded_runs.append({"runId": run_props.get("runId"), "name": run.name, "experiment": run_props.get("experiment"),
                              "modelVersions": versions})
        evidence.append(t.Evidence("mlflow", run.id, run_props.get("endTime"), f"{label}: params, metrics, code"))
    value: dict[str, Any] = {
        "trainingJobName": job.name, "trainingJobArn": job.id, "endedAt": props.get("endTime"),
        "image": props.get("image"), "hyperparameters": props.get("hyperparameters") or {},
        "metrics": metrics, "code": code, "mlflowRuns": recorded_runs,
    }
    if context.executions:
        execution = context.executions[0]
        value["pipelineExecution"] = {
            "arn": execution.id, "name": execution.name, "status": execution.props.get("status"),
            "displayName": execution.props.get("displayName"), "step": _job_label(context, job),
            "startedBy": context.started_by.get(execution.id),
        }
        evidence.append(t.Evidence("sagemaker", execution.id, execution.props.get("lastModifiedTime"),
                                   "DescribePipelineExecution+ListPipelineExecutionSteps"))
    answer = t.Answer(value=value, evidence=evidence)
    if not code:
        answer.gap = "no code commit is recorded for the training run"
    return answer


def _training_dataset(context: Context, training_set: Hop | None, steps: Any, runs: list[Node],
                      producers: list[Hop]) -> t.Answer:
    if training_set is None or training_set.node is None:
        return t.Answer(gap="the training job's trial component consumed no recorded dataset")
    uri = str(training_set.node.props.get("SourceUri") or "")
    datasets = [h for h in steps.same_as(training_set.end) if h.end.startswith("dataset:")]
    digest, via = None, None
    for hop in datasets:
        mlflow_dataset = (hop.node.props if hop.node else {}).get("mlflowDataset") or {}
        if mlflow_dataset.get("digest"):
            digest, via = mlflow_dataset["digest"], f"MLflow dataset {mlflow_dataset.get('name')} digest"
    named = datasets[0].end if datasets else None
    answer = t.Answer(
        value={"dataset": (named or uri).removeprefix("dataset:"), "version": digest, "versionFrom": via, "uri": uri},
        evidence=[t.Evidence("sagemaker", training_set.end, None, f"the training job's input artifact {uri}")]
        + [t.Evidence("mlflow", r.id, r.props.get("endTime"), "dataset input of the MLflow run") for r in runs if digest],
    )
    if digest is None:
        answer.gap = "the training dataset has no content version"
    return answer


def _features(sources: list[Hop], steps: Any, producer_jobs: list[Hop]) -> t.Answer:
    snapshots, others = [], []
    for source in sources:
        assert source.node is not None
        uri = str(source.node.props.get("SourceUri") or "")
        groups = _of_kind(steps.into(source.end, EdgeKind.CONTRIBUTED_TO), NodeKind.FEATURE_GROUP)
        tables = [h.node.props.get("glueTable") or h.node.name for h in steps.same_as(source.end)
                  if h.node is not None and h.end.startswith("dataset:arn:") and ":glue:" in h.end]
        manual = [{"record": h.node.props.get("recordId"), "fact": h.node.props.get("fact"),
                   "value": h.node.props.get("value"), "ticket": h.node.props.get("ticket"),
                   "decidedBy": h.node.props.get("decidedBy"), "recordedBy": h.node.props.get("recordedBy"),
                   "recordedAt": h.node.props.get("recordedAt"), "readFrom": h.node.props.get("readFrom")}
                  for h in _of_kind(steps.into(source.end, EdgeKind.RECORDS), NodeKind.MANUAL_FACT) if h.node]
        dataset = _dataset_name(uri)
        if groups and groups[0].node is not None:
            snapshots.append({"featureGroup": groups[0].node.name, "version": None, "dataset": dataset,
                              "contentVersion": None, "offlineStore": uri, "glueTable": tables[0] if tables else None})
        else:
            others.append({"dataset": dataset, "contentVersion": None, "manual": manual,
                           "label": "Exclusion list" if any("exclusion" in str(m["fact"]) for m in manual) else None})
    evidence = [t.Evidence("sagemaker", h.end, h.node.props.get("endTime") if h.node else None,
                           "inputs of the job that assembled the training set") for h in producer_jobs[:1]]
    evidence += [t.Evidence("manual", str(m["readFrom"]), m["recordedAt"], f"{m['record']} recorded by {m['recordedBy']}")
                 for o in others for m in o["manual"]]
    answer = t.Answer(value={"featureSnapshots": sorted(snapshots, key=lambda s: str(s["featureGroup"])), "otherInputs": others},
                      evidence=evidence)
    if not snapshots:
        answer.gap = "no feature group's offline store is recorded among the training set's inputs"
    return answer


def _dataset_name(uri: str) -> str:
    from crossline.collectors.model import dataset_id
    from crossline.errors import InvalidEvent

    try:
        return dataset_id(uri).removeprefix("dataset:")
    except InvalidEvent:
        return uri


__all__ = ["Context", "evidence_source", "from_sagemaker", "manual_records"]
