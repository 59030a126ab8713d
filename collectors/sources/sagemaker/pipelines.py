"""SageMaker Pipelines and Experiments (processors 9 and 10 of the source).

Contract:

9. ``pipelines`` - per pipeline (``ListPipelines``), a ``PIPELINE`` node; per execution
   (``ListPipelineExecutions``) started after the watermark, or not yet ended, a
   ``PIPELINE_EXECUTION`` node (id its ARN, name ``{pipeline}/{execution id}``) from
   ``DescribePipelineExecution``, ``ListPipelineExecutionSteps`` and
   ``ListPipelineParametersForExecution``: status, display name, failure reason,
   parameters, the experiment and trial it records into, times, and each step (name,
   status, times, attempt, failure reason, what it ran). The execution is ``RUN_OF`` its
   pipeline and the ``PARENT`` of each job a step ran (props ``step``), the way an
   OpenLineage parent run is of its children; the package a RegisterModel step
   registered is ``Produced`` by the execution (props ``step``). An execution still
   running holds the watermark before its start, so that the read after it ends reads
   it again, whole.
10. ``experiments`` - ``SM_EXPERIMENT`` and ``SM_TRIAL`` nodes (``ListExperiments``,
   ``ListTrials``; a trial ``PART_OF`` its experiment), and each trial's components
   ``PART_OF`` it (``ListTrialComponents(TrialName)``, listed for every trial each read:
   components join a trial after it is created). A trial component's own parameters,
   metrics and artifacts are read with it (processor 5, ``component_details``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.sources import Batch
from crossline.collectors.sources.sagemaker.common import SOURCE, Api, Run, drop_none, identity, iso
from crossline.emitters.naming import parse_arn, sagemaker_arn
from crossline.times import coerce

ENDED = frozenset({"Succeeded", "Failed", "Stopped"})
_JUST_BEFORE = timedelta(microseconds=1)


# -- 9. pipelines -------------------------------------------------------------------
def pipelines(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_pipelines", "PipelineSummaries", SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("pipeline")
            arn, name = item["PipelineArn"], item["PipelineName"]
            if run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                run.node(Node(NodeId(arn), NodeKind.PIPELINE, name, SOURCE, drop_none({
                    "displayName": item.get("PipelineDisplayName"),
                    "description": item.get("PipelineDescription"),
                    "roleArn": item.get("RoleArn"),
                    "creationTime": iso(item.get("CreationTime")),
                    "lastModifiedTime": iso(item.get("LastModifiedTime")),
                    "api": "ListPipelines",
                })))
            for executions in api.pages(run, "list_pipeline_executions", "PipelineExecutionSummaries",
                                        PipelineName=name, SortBy="CreationTime", SortOrder="Ascending"):
                for summary in executions:
                    run.scan("pipeline_execution")
                    status = summary.get("PipelineExecutionStatus")
                    if run.changed(summary.get("StartTime")) or status not in ENDED:
                        _execution(api, run, arn, name, summary["PipelineExecutionArn"])
                batch = run.flush()
                if batch:
                    yield batch


def _execution(api: Api, run: Run, pipeline_arn: str, pipeline: str, arn: str) -> None:
    described = api.describe(run, api.client.describe_pipeline_execution, f"pipeline execution {arn}",
                             PipelineExecutionArn=arn)
    if described is None:
        return
    status = described.get("PipelineExecutionStatus")
    started = coerce(described.get("CreationTime"))
    if status not in ENDED and started is not None:
        run.hold(started - _JUST_BEFORE)  # read it again, whole, once it has ended
    run.changed(described.get("LastModifiedTime"))
    steps = [step for items in api.pages(run, "list_pipeline_execution_steps", "PipelineExecutionSteps",
                                         PipelineExecutionArn=arn, SortOrder="Ascending") for step in items]
    parameters = {p["Name"]: p.get("Value") for items in api.pages(
        run, "list_pipeline_parameters_for_execution", "PipelineParameters", PipelineExecutionArn=arn)
        for p in items if "Name" in p}
    execution_id = arn.rsplit("/", 1)[-1]
    experiment = described.get("PipelineExperimentConfig") or {}
    recorded = []
    for step in steps:
        kind, ran = _ran(step)
        recorded.append(drop_none({
            "name": step.get("StepName"), "displayName": step.get("StepDisplayName"), "status": step.get("StepStatus"),
            "startTime": iso(step.get("StartTime")), "endTime": iso(step.get("EndTime")),
            "attempts": step.get("AttemptCount"), "failureReason": step.get("FailureReason"),
            "ran": kind, "arn": ran,
        }))
    run.node(Node(NodeId(arn), NodeKind.PIPELINE_EXECUTION, f"{pipeline}/{execution_id}", SOURCE, drop_none({
        "pipeline": pipeline,
        "pipelineArn": pipeline_arn,
        "executionId": execution_id,
        "displayName": described.get("PipelineExecutionDisplayName"),
        "description": described.get("PipelineExecutionDescription"),
        "status": status,
        "failureReason": described.get("FailureReason"),
        "parameters": parameters or None,
        "experiment": experiment.get("ExperimentName"),
        "trial": experiment.get("TrialName"),
        "steps": recorded or None,
        "createdBy": identity(described.get("CreatedBy")),
        "creationTime": iso(described.get("CreationTime")),
        "lastModifiedTime": iso(described.get("LastModifiedTime")),
        "api": "DescribePipelineExecution+ListPipelineExecutionSteps+ListPipelineParametersForExecution",
    })))
    run.edge(Edge(NodeId(arn), NodeId(pipeline_arn), EdgeKind.RUN_OF, SOURCE, {"api": "ListPipelineExecutions"}))
    for step in recorded:
        if not step.get("arn"):
            continue
        props = {"step": step["name"], "ran": step["ran"], "api": "ListPipelineExecutionSteps"}
        if step["ran"] == "RegisterModel":
            run.edge(Edge(NodeId(arn), NodeId(step["arn"]), EdgeKind.SM_PRODUCED, SOURCE, props))
        else:
            run.edge(Edge(NodeId(arn), NodeId(step["arn"]), EdgeKind.PARENT, SOURCE, props))


def _ran(step: dict[str, Any]) -> tuple[str | None, str | None]:
    """What a step ran, from its Metadata: (``TrainingJob``, its ARN), (``RegisterModel``, the package ARN), ..."""
    for kind, value in (step.get("Metadata") or {}).items():
        if isinstance(value, dict) and isinstance(value.get("Arn"), str):
            return kind, value["Arn"]
    return None, None


# -- 10. experiments ------------------------------------------------------------------
def experiments(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_experiments", "ExperimentSummaries", CreatedAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("experiment")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            source = item.get("ExperimentSource") or {}
            run.node(Node(NodeId(item["ExperimentArn"]), NodeKind.SM_EXPERIMENT, item["ExperimentName"], SOURCE, drop_none({
                "displayName": item.get("DisplayName"), "sourceArn": source.get("SourceArn"),
                "sourceType": source.get("SourceType"), "creationTime": iso(item.get("CreationTime")),
                "lastModifiedTime": iso(item.get("LastModifiedTime")), "api": "ListExperiments",
            })))
        batch = run.flush()
        if batch:
            yield batch
    for items in api.pages(run, "list_trials", "TrialSummaries", SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("trial")
            arn, name = item["TrialArn"], item["TrialName"]
            if run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                described = api.describe(run, api.client.describe_trial, f"trial {name}", TrialName=name) or {}
                experiment = described.get("ExperimentName")
                source = item.get("TrialSource") or described.get("Source") or {}
                run.node(Node(NodeId(arn), NodeKind.SM_TRIAL, name, SOURCE, drop_none({
                    "experiment": experiment, "displayName": item.get("DisplayName"),
                    "sourceArn": source.get("SourceArn"), "sourceType": source.get("SourceType"),
                    "creationTime": iso(item.get("CreationTime")), "lastModifiedTime": iso(item.get("LastModifiedTime")),
                    "api": "ListTrials+DescribeTrial",
                })))
                if experiment:
                    parts = parse_arn(arn)
                    experiment_arn = sagemaker_arn("experiment", experiment, region=parts.region, account=parts.account,
                                                   partition=parts.partition)
                    run.edge(Edge(NodeId(arn), NodeId(experiment_arn), EdgeKind.PART_OF, SOURCE, {"api": "DescribeTrial"}))
            for components in api.pages(run, "list_trial_components", "TrialComponentSummaries", TrialName=name):
                for component in components:
                    run.edge(Edge(NodeId(component["TrialComponentArn"]), NodeId(arn), EdgeKind.PART_OF, SOURCE,
                                  {"api": "ListTrialComponents(TrialName)"}))
        batch = run.flush()
        if batch:
            yield batch


def component_details(described: dict[str, Any]) -> dict[str, Any]:
    """A trial component's parameters, metrics and artifacts, as props (DescribeTrialComponent)."""
    parameters = {
        name: value.get("NumberValue", value.get("StringValue"))
        for name, value in (described.get("Parameters") or {}).items() if isinstance(value, dict)
    }
    metrics = {
        m["MetricName"]: drop_none({k: m.get(k) for k in ("Last", "Min", "Max", "Avg", "StdDev", "Count")}
                                   | {"time": iso(m.get("TimeStamp")), "sourceArn": m.get("SourceArn")})
        for m in described.get("Metrics") or [] if m.get("MetricName")
    }
    inputs = {name: drop_none({"value": a.get("Value"), "mediaType": a.get("MediaType")})
              for name, a in (described.get("InputArtifacts") or {}).items() if isinstance(a, dict)}
    outputs = {name: drop_none({"value": a.get("Value"), "mediaType": a.get("MediaType")})
               for name, a in (described.get("OutputArtifacts") or {}).items() if isinstance(a, dict)}
    return drop_none({
        "parameters": parameters or None, "metrics": metrics or None,
        "inputArtifacts": inputs or None, "outputArtifacts": outputs or None,
        "displayName": described.get("DisplayName"),
        "startTime": iso(described.get("StartTime")), "endTime": iso(described.get("EndTime")),
    })


__all__ = ["ENDED", "component_details", "experiments", "pipelines"]
