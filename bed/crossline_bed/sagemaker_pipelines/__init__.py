"""SageMaker Pipelines executions that run, installed into moto (whose executions never run).

Contract: ``install()`` extends moto's SageMaker *in this process*, idempotently:

- StartPipelineExecution (moto's, which records the execution) now runs it: the
  execution is ``Executing`` while its steps run, then ``Succeeded`` or ``Failed``.
  Processing and Training steps create real (moto) jobs, RegisterModel steps register a
  model package, all through SageMaker's own API under the pipeline's role, so the job
  runner writes the outputs and the lineage emulator records the lineage it records for
  any job or package (see ``engine``).
- StartPipelineExecution refuses, with a ValidationException and no execution, a
  definition that is not JSON or whose steps depend on unknown steps or on each other in
  a cycle, and parameters the definition does not declare or leaves without a value.
- ListPipelineExecutionSteps (moto has none): each step's name, status, times, failure
  reason and Metadata ``{"ProcessingJob"|"TrainingJob": {"Arn"}}`` or
  ``{"RegisterModel": {"Arn": package ARN}}``.
- DescribePipelineExecution, ListPipelineExecutions, ListPipelineParametersForExecution:
  answers that follow the run (see ``responses``).

What SageMaker records for an execution, and so the bed (AWS developer guide, "Amazon
SageMaker Experiments Integration"; the SageMaker Python SDK's lineage classes):

- With a ``PipelineExperimentConfig`` in the definition (the SDK writes one by default):
  an experiment (default: the pipeline's name) and a trial, the "run group" (default: the
  execution id), created if missing; every job's trial component is added to that trial.
  DescribePipelineExecution names them in ``PipelineExperimentConfig``.
- Every job a step starts carries the tag ``sagemaker:pipeline-execution-arn`` (the SDK's
  ``pipeline_execution_arn()`` reads it from the job), and is named
  ``pipelines-{execution id}-{step name}-{10 random characters}``.
- A registered package's ``MetadataProperties.GeneratedBy`` is the execution ARN.
- No lineage context or action is made for the execution itself: the developer guide
  names none, so the bed makes none. The execution reaches lineage through its jobs'
  trial components (in the trial, and in QueryLineage through their artifacts) and the
  package's GeneratedBy.

Departures from AWS that we know of: steps run one after another (no parallel
branches); only Processing, Training and RegisterModel steps run (any other Type fails
its step, saying so); no step caching, retries, callbacks or conditions; execution ARNs
keep the pipeline name's case (AWS lower-cases it), so give pipelines lower-case names;
CreatedBy of an execution is moto's fake user profile.
"""

from __future__ import annotations

from typing import Any

from crossline_bed.moto_ext import wrap_after
from crossline_bed.sagemaker_pipelines import engine
from crossline_bed.sagemaker_pipelines.definition import DefinitionError
from crossline_bed.sagemaker_pipelines.responses import ACTION_METHODS, PipelineResponses

_MARK = "_crossline_pipelines"
PAUSE_SECONDS = 0.2


def _started(backend: Any, result: dict[str, str], arguments: dict[str, Any]) -> None:
    from moto.sagemaker.utils import get_pipeline_execution_from_arn, get_pipeline_from_name

    from moto.sagemaker.exceptions import ValidationError

    pipeline = get_pipeline_from_name(backend.pipelines, arguments["pipeline_name"])
    execution = get_pipeline_execution_from_arn(backend.pipelines, result["PipelineExecutionArn"])
    try:
        engine.start(backend, execution, pipeline, arguments.get("pipeline_parameters"), PAUSE_SECONDS)
    except DefinitionError as err:  # refused at the door, as SageMaker refuses it: no execution
        del pipeline.pipeline_executions[execution.arn]
        raise ValidationError(message=str(err)) from err


def install() -> None:
    """Extend moto's SageMaker pipelines in this process; calling it again changes nothing."""
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    for name in ACTION_METHODS:
        setattr(SageMakerResponse, name, getattr(PipelineResponses, name))
    wrap_after(SageMakerModelBackend, "start_pipeline_execution", _started, _MARK)
