"""The wire side of pipeline executions, on moto's ``SageMakerResponse``.

Contract: ``PipelineResponses`` holds the methods ``install()`` sets on moto's response
class: ListPipelineExecutionSteps (moto has none), and DescribePipelineExecution,
ListPipelineExecutions and ListPipelineParametersForExecution, which moto answers for an
execution that never ran (always Succeeded, ``PipelineExperimentConfig: {}``,
``FailureReason: ""``, a failure reason of ``"None"``, only the overridden parameters).
Each reads its parameters with moto's ``_get_param`` and returns an ``ActionResult``
serialized against botocore's output shape. Errors are AWS's: an unknown execution is a
ValidationException, as moto words it; a bad NextToken is a ValidationException.
Lists page with ``MaxResults`` (default 50, ceiling 100) and an opaque ``NextToken``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult

from crossline_bed.sagemaker_pipelines.engine import run_of

_PAGE, _CEILING = 50, 100


def _execution(response: Any, arn: str) -> Any:
    from moto.sagemaker.utils import get_pipeline_execution_from_arn

    return get_pipeline_execution_from_arn(response.sagemaker_backend.pipelines, arn)


def _page(response: Any, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    from moto.sagemaker.exceptions import ValidationError

    size = min(int(response._get_param("MaxResults") or _PAGE), _CEILING)
    token = response._get_param("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ValidationError(message=f"Invalid NextToken: {token}") from None
    if start < 0 or start > len(items):
        raise ValidationError(message=f"Invalid NextToken: {token}")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _optional(out: dict[str, Any], **values: Any) -> dict[str, Any]:
    out.update({k: v for k, v in values.items() if v not in (None, "", {})})
    return out


def describe(execution: Any, pipeline_arn: str) -> dict[str, Any]:
    state = run_of(execution)
    failed = execution.pipeline_execution_status == "Failed"
    return _optional(
        {
            "PipelineArn": pipeline_arn,
            "PipelineExecutionArn": execution.arn,
            "PipelineExecutionStatus": execution.pipeline_execution_status,
            "CreationTime": execution.creation_time,
            "LastModifiedTime": execution.last_modified_time,
            "CreatedBy": execution.created_by,
            "LastModifiedBy": execution.last_modified_by,
        },
        PipelineExecutionDisplayName=execution.pipeline_execution_display_name,
        PipelineExecutionDescription=execution.pipeline_execution_description,
        PipelineExperimentConfig=state.experiment_config if state else None,
        FailureReason=execution.pipeline_execution_failure_reason if failed else None,
        ParallelismConfiguration=execution.parallelism_configuration,
    )


class PipelineResponses:
    """Mixin of response methods; never instantiated on its own."""

    def describe_pipeline_execution(self: Any) -> ActionResult:
        from moto.sagemaker.utils import get_pipeline_from_name, get_pipeline_name_from_execution_arn

        arn = self._get_param("PipelineExecutionArn")
        execution = _execution(self, arn)
        pipeline = get_pipeline_from_name(self.sagemaker_backend.pipelines, get_pipeline_name_from_execution_arn(arn))
        return ActionResult(describe(execution, pipeline.arn))

    def list_pipeline_executions(self: Any) -> ActionResult:
        from moto.sagemaker.utils import get_pipeline_from_name

        pipeline = get_pipeline_from_name(self.sagemaker_backend.pipelines, self._get_param("PipelineName"))
        after, before = self._get_param("CreatedAfter"), self._get_param("CreatedBefore")
        executions = [
            e for e in pipeline.pipeline_executions.values()
            if (after is None or e.creation_time.timestamp() > _seconds(after))
            and (before is None or e.creation_time.timestamp() < _seconds(before))
        ]
        by_arn = self._get_param("SortBy") == "PipelineExecutionArn"
        executions.sort(key=lambda e: e.arn if by_arn else e.creation_time,
                        reverse=self._get_param("SortOrder", "Descending") == "Descending")
        summaries = [
            _optional(
                {"PipelineExecutionArn": e.arn, "StartTime": e.start_time, "PipelineExecutionStatus": e.pipeline_execution_status},
                PipelineExecutionDescription=e.pipeline_execution_description,
                PipelineExecutionDisplayName=e.pipeline_execution_display_name,
                PipelineExecutionFailureReason=e.pipeline_execution_failure_reason if e.pipeline_execution_status == "Failed" else None,
            )
            for e in executions
        ]
        page, token = _page(self, summaries)
        return ActionResult(_optional({"PipelineExecutionSummaries": page}, NextToken=token))

    def list_pipeline_execution_steps(self: Any) -> ActionResult:
        execution = _execution(self, self._get_param("PipelineExecutionArn"))
        state = run_of(execution)
        with state.lock if state else _NoLock():
            steps = [s.summary() for s in (state.steps if state else [])]
        steps.sort(key=lambda s: s["StartTime"], reverse=self._get_param("SortOrder", "Descending") == "Descending")
        page, token = _page(self, steps)
        return ActionResult(_optional({"PipelineExecutionSteps": page}, NextToken=token))

    def list_pipeline_parameters_for_execution(self: Any) -> ActionResult:
        execution = _execution(self, self._get_param("PipelineExecutionArn"))
        state = run_of(execution)
        if state is None:
            values = [{"Name": p["Name"], "Value": p["Value"]} for p in execution.pipeline_parameters or []]
        else:
            values = [{"Name": k, "Value": _text(v)} for k, v in state.parameters.items()]
        page, token = _page(self, values)
        return ActionResult(_optional({"PipelineParameters": page}, NextToken=token))


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


ACTION_METHODS = (
    "describe_pipeline_execution",
    "list_pipeline_executions",
    "list_pipeline_execution_steps",
    "list_pipeline_parameters_for_execution",
)
