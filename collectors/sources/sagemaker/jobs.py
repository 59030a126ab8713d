"""SageMaker's training and processing jobs (processor 6 of the source).

Contract: ``training_jobs`` and ``processing_jobs`` list the jobs modified after the
watermark and describe each: ``TRAINING_JOB`` / ``PROCESSING_JOB`` nodes keyed by the
job's ARN, with image, inputs/outputs (channel or name, S3 URI), hyperparameters and
final metrics (training; a NaN or infinite value is left out with a warning), role and
times. A job gone between list and describe is skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crossline.collectors import jsonsafe
from crossline.collectors.model import Node, NodeId, NodeKind
from crossline.collectors.sources import Batch
from crossline.collectors.sources.sagemaker.common import SOURCE, Api, Run, drop_none, iso


# -- 6. jobs ------------------------------------------------------------------------
def training_jobs(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_training_jobs", "TrainingJobSummaries", LastModifiedTimeAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("training_job")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            name = item["TrainingJobName"]
            job = api.describe(run, api.client.describe_training_job, f"training job {name}", TrainingJobName=name)
            if job is None:
                continue
            algorithm = job.get("AlgorithmSpecification") or {}
            props = drop_none({
                "status": job.get("TrainingJobStatus"),
                "image": algorithm.get("TrainingImage"),
                "algorithm": algorithm.get("AlgorithmName"),
                "hyperparameters": job.get("HyperParameters"),
                "inputs": [
                    drop_none({"channel": c.get("ChannelName"),
                                "s3Uri": ((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")})
                    for c in job.get("InputDataConfig") or []
                ],
                "outputPath": (job.get("OutputDataConfig") or {}).get("S3OutputPath"),
                "modelArtifacts": (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
                "checkpoint": (job.get("CheckpointConfig") or {}).get("S3Uri"),
                "metrics": _metrics(run, name, job.get("FinalMetricDataList") or []) or None,
                "roleArn": job.get("RoleArn"),
                "creationTime": iso(job.get("CreationTime")),
                "startTime": iso(job.get("TrainingStartTime")),
                "endTime": iso(job.get("TrainingEndTime")),
                "lastModifiedTime": iso(job.get("LastModifiedTime")),
                "api": "DescribeTrainingJob",
            })
            run.node(Node(NodeId(job["TrainingJobArn"]), NodeKind.TRAINING_JOB, name, SOURCE, props))
        batch = run.flush()
        if batch:
            yield batch


def _metrics(run: Run, job: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    """Final metrics by name; a value no store keeps alike (NaN, Infinity: a training run that
    diverged) is not a measurement, and is left out with a warning rather than costing the job."""
    metrics = {}
    for metric in data:
        if "MetricName" not in metric:
            continue
        why = jsonsafe.refusal(metric.get("Value"))
        if why is not None:
            run.warn(f"training job {job}: metric {metric['MetricName']!r} left out: it {why}",
                     f"DescribeTrainingJob(TrainingJobName={job})", "hostile")
            continue
        metrics[metric["MetricName"]] = metric.get("Value")
    return metrics


def processing_jobs(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_processing_jobs", "ProcessingJobSummaries", LastModifiedTimeAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("processing_job")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            name = item["ProcessingJobName"]
            job = api.describe(run, api.client.describe_processing_job, f"processing job {name}",
                               ProcessingJobName=name)
            if job is None:
                continue
            props = drop_none({
                "status": job.get("ProcessingJobStatus"),
                "image": (job.get("AppSpecification") or {}).get("ImageUri"),
                "inputs": [
                    drop_none({"name": i.get("InputName"), "s3Uri": (i.get("S3Input") or {}).get("S3Uri")})
                    for i in job.get("ProcessingInputs") or []
                ],
                "outputs": [
                    drop_none({"name": o.get("OutputName"), "s3Uri": (o.get("S3Output") or {}).get("S3Uri")})
                    for o in (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
                ],
                "roleArn": job.get("RoleArn"),
                "creationTime": iso(job.get("CreationTime")),
                "startTime": iso(job.get("ProcessingStartTime")),
                "endTime": iso(job.get("ProcessingEndTime")),
                "lastModifiedTime": iso(job.get("LastModifiedTime")),
                "api": "DescribeProcessingJob",
            })
            run.node(Node(NodeId(job["ProcessingJobArn"]), NodeKind.PROCESSING_JOB, name, SOURCE, props))
        batch = run.flush()
        if batch:
            yield batch


__all__ = ["processing_jobs", "training_jobs"]
