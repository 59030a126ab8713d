"""SageMaker Experiments fidelity for moto: job trial components as AWS fills them, list filters.

Contract: ``install()`` extends moto's SageMaker in this process, idempotently:

- The trial component SageMaker makes for a training job (``{job}-aws-training-job``)
  or processing job (``{job}-aws-processing-job``) carries what DescribeTrialComponent
  shows on AWS, where moto shows an empty one:
  - ``Source`` ``{SourceArn: job ARN, SourceType: SageMakerTrainingJob|SageMakerProcessingJob}``;
  - ``Status`` with the job's status and AWS's message form, ``StartTime``/``EndTime``;
  - ``Parameters``: each hyperparameter (``NumberValue`` when it reads as a number, else
    ``StringValue``, as SageMaker stores them) and ``SageMaker.ImageUri``,
    ``SageMaker.InstanceType``, ``SageMaker.InstanceCount``, ``SageMaker.VolumeSizeInGB``;
  - ``InputArtifacts``: ``SageMaker.ImageUri`` and one per training channel (``Value`` its
    S3Uri, ``MediaType`` its ContentType) or processing input;
  - ``OutputArtifacts``: ``SageMaker.ModelArtifact`` (the model.tar.gz) or one per
    processing output;
  - ``Metrics``: the training job's ``FinalMetricDataList``, each a summary of one value
    (Min = Max = Last = Avg, Count 1, StdDev 0) with ``SourceArn`` the job's ARN.
- ListTrialComponents honours ``ExperimentName``, ``TrialName`` and ``SourceArn`` (only
  one of them, as AWS requires; more is a ValidationException), ``CreatedAfter``,
  ``CreatedBefore``, ``SortBy`` (Name, CreationTime) and ``SortOrder`` (default
  Descending); its summaries carry ``DisplayName``, ``TrialComponentSource``, ``Status``,
  ``StartTime``, ``EndTime``, ``CreatedBy`` and ``LastModifiedBy`` (moto gives name, ARN
  and times only, and ignores every filter but TrialName).

Metrics logged by a client go through moto's own ``sagemaker-metrics`` BatchPutMetrics,
which already summarises them (Min/Max/Last/Count/Avg/StdDev) in DescribeTrialComponent.
"""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult

from crossline_bed.moto_ext import wrap_after
from crossline_bed.sagemaker_lineage.autocreate import entity_name

_MARK = "_crossline_experiments"
# Kept beside moto's objects, not on them: moto turns every attribute into a response member.
_METRIC_SOURCE: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def _value(text: str) -> dict[str, Any]:
    try:
        return {"NumberValue": float(text)}
    except (TypeError, ValueError):
        return {"StringValue": str(text)}


def _status(status: str, secondary: str | None, reason: str | None) -> dict[str, str]:
    primary = {"Completed": "Completed", "Failed": "Failed", "Stopped": "Stopped"}.get(status, "InProgress")
    return {"PrimaryStatus": primary,
            "Message": f"Status: {status}, secondary status: {secondary or status}, failure reason: {reason or ''}."}


def _resources(config: dict[str, Any], image: str | None) -> dict[str, dict[str, Any]]:
    parameters: dict[str, dict[str, Any]] = {}
    if image:
        parameters["SageMaker.ImageUri"] = {"StringValue": image}
    if "InstanceType" in config:
        parameters["SageMaker.InstanceType"] = {"StringValue": config["InstanceType"]}
    for key in ("InstanceCount", "VolumeSizeInGB"):
        if key in config:
            parameters[f"SageMaker.{key}"] = {"NumberValue": float(config[key])}
    return parameters


def _component(backend: Any, job_name: str, kind: str) -> Any:
    return backend.trial_components.get(entity_name(job_name, f"aws-{kind}"))


def on_training_job(backend: Any, job: Any, _: dict[str, Any]) -> None:
    component = _component(backend, job.training_job_name, "training-job")
    if component is None:
        return
    image = (job.algorithm_specification or {}).get("TrainingImage")
    component.source = {"SourceArn": job.arn, "SourceType": "SageMakerTrainingJob"}
    component.status = _status(job.training_job_status, job.secondary_status, getattr(job, "failure_reason", None))
    component.start_time, component.end_time = job.training_start_time, job.training_end_time
    component.parameters = {
        **{name: _value(value) for name, value in (job.hyper_parameters or {}).items()},
        **_resources(job.resource_config or {}, image),
    }
    inputs: dict[str, dict[str, str]] = {"SageMaker.ImageUri": {"Value": image}} if image else {}
    for channel in job.input_data_config or []:
        source = channel.get("DataSource", {}).get("S3DataSource")
        if source:
            inputs[channel["ChannelName"]] = {"Value": source["S3Uri"], **({"MediaType": channel["ContentType"]} if channel.get("ContentType") else {})}
    component.input_artifacts = inputs
    component.output_artifacts = {"SageMaker.ModelArtifact": {"Value": job.model_artifacts["S3ModelArtifacts"]}}
    for metric in job.final_metric_data_list or []:
        stamp = metric.get("Timestamp") or job.training_end_time
        seconds = int(stamp.timestamp()) if isinstance(stamp, datetime) else int(stamp)
        component.metrics[metric["MetricName"]] = {
            "MetricName": metric["MetricName"], "Timestamp": seconds,
            "Values": {0: {"MetricName": metric["MetricName"], "Value": float(metric["Value"]), "Step": 0, "Timestamp": seconds}},
        }
    # moto's summaries name the component as the metrics' SourceArn; AWS names the job.
    _METRIC_SOURCE[component] = job.arn


def on_processing_job(backend: Any, job: Any, _: dict[str, Any]) -> None:
    component = _component(backend, job.processing_job_name, "processing-job")
    if component is None:
        return
    image = (job.app_specification or {}).get("ImageUri")
    component.source = {"SourceArn": job.arn, "SourceType": "SageMakerProcessingJob"}
    component.status = _status(job.processing_job_status, None, getattr(job, "failure_reason", None))
    component.start_time = getattr(job, "processing_start_time", None) or job.creation_time
    component.end_time = getattr(job, "processing_end_time", None) or job.creation_time
    # moto keeps no ProcessingResources, so only the image is known here.
    component.parameters = _resources((getattr(job, "processing_resources", None) or {}).get("ClusterConfig", {}), image)
    component.input_artifacts = {"SageMaker.ImageUri": {"Value": image}} if image else {}
    for item in job.processing_inputs or []:
        if "S3Input" in item:
            component.input_artifacts[item["InputName"]] = {"Value": item["S3Input"]["S3Uri"]}
    component.output_artifacts = {
        o["OutputName"]: {"Value": o["S3Output"]["S3Uri"]}
        for o in (job.processing_output_config or {}).get("Outputs", []) if "S3Output" in o
    }


def _metric_summaries(component: Any, original: Any) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = original(component)
    source = _METRIC_SOURCE.get(component)
    if source:
        for summary in summaries:
            summary["SourceArn"] = source
    return summaries


def _experiments_of(backend: Any, component: Any) -> set[str]:
    return {t.experiment_name for t in backend.trials.values() if component.trial_component_name in t.trial_components}


def list_trial_components(self: Any) -> ActionResult:
    """ListTrialComponents with AWS's filters, sorting and summary fields."""
    from moto.sagemaker.exceptions import ValidationError

    backend = self.sagemaker_backend
    experiment, trial, source = (self._get_param(k) for k in ("ExperimentName", "TrialName", "SourceArn"))
    if sum(v is not None for v in (experiment, trial, source)) > 1:
        raise ValidationError(message="You can specify only one of ExperimentName, TrialName and SourceArn.")
    after, before = self._get_param("CreatedAfter"), self._get_param("CreatedBefore")
    members = set(backend.trials[trial].trial_components) if trial in backend.trials else set()
    chosen = [
        c for c in backend.trial_components.values()
        if (trial is None or c.trial_component_name in members or c.trial_name == trial)
        and (experiment is None or experiment in _experiments_of(backend, c))
        and (source is None or (getattr(c, "source", None) or {}).get("SourceArn") == source)
        and (after is None or c.creation_time.timestamp() > _seconds(after))
        and (before is None or c.creation_time.timestamp() < _seconds(before))
    ]
    by_name = self._get_param("SortBy") == "Name"
    chosen.sort(key=lambda c: c.trial_component_name if by_name else c.creation_time,
                reverse=self._get_param("SortOrder", "Descending") == "Descending")
    start = int(self._get_param("NextToken") or 0)
    size = min(int(self._get_param("MaxResults") or 50), 100)
    page = chosen[start:start + size]
    summaries = []
    for c in page:
        summary = {"TrialComponentName": c.trial_component_name, "TrialComponentArn": c.arn,
                   "DisplayName": c.display_name, "CreationTime": c.creation_time,
                   "LastModifiedTime": c.last_modified_time, "CreatedBy": c.created_by, "LastModifiedBy": c.last_modified_by}
        for key, value in (("TrialComponentSource", getattr(c, "source", None)), ("Status", c.status),
                           ("StartTime", c.start_time), ("EndTime", c.end_time)):
            if value:
                summary[key] = value
        summaries.append(summary)
    answer: dict[str, Any] = {"TrialComponentSummaries": summaries}
    if start + size < len(chosen):
        answer["NextToken"] = str(start + size)
    return ActionResult(answer)


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def install() -> None:
    """Extend moto's Experiments in this process; calling it again changes nothing."""
    from moto.sagemaker.models import FakeTrialComponent, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    wrap_after(SageMakerModelBackend, "create_training_job", on_training_job, _MARK)
    wrap_after(SageMakerModelBackend, "create_processing_job", on_processing_job, _MARK)
    SageMakerResponse.list_trial_components = list_trial_components  # type: ignore[method-assign]
    original = FakeTrialComponent.gen_metrics_response_object
    if not getattr(original, _MARK, False):
        def summaries(component: Any) -> list[dict[str, Any]]:
            return _metric_summaries(component, original)

        setattr(summaries, _MARK, True)
        FakeTrialComponent.gen_metrics_response_object = summaries  # type: ignore[method-assign]
