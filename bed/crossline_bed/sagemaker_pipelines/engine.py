"""Running a pipeline execution: the steps call SageMaker's own API, as SageMaker does.

Contract: ``start(backend, execution, pipeline, overrides)`` is called after moto has
recorded a StartPipelineExecution; it checks the definition and parameters (raising
``DefinitionError``), marks the execution ``Executing`` and runs it on a thread of the
moto server. ``run`` then, in the order ``Definition.ordered_steps`` gives:

- assumes the pipeline's RoleArn (moto's STS, in the execution's account), as SageMaker
  does, and makes every call below with that session over the server's own wire
  protocol, so the bed's other extensions (job runner, lineage, registry fixes) see the
  calls exactly as they see a user's;
- creates the experiment and trial the definition's ``PipelineExperimentConfig`` names
  (if it has one and they do not exist yet);
- per step: ``Processing`` -> CreateProcessingJob, ``Training`` -> CreateTrainingJob
  (job name ``pipelines-{execution id}-{step}-{10 random}``, the step's Arguments with
  every expression resolved, plus the tag ``sagemaker:pipeline-execution-arn``),
  waits for the job to end, and adds its trial component ``{job}-aws-{kind}`` to the
  trial; ``RegisterModel`` -> CreateModelPackage with ``MetadataProperties.GeneratedBy``
  set to the execution ARN. The step's Metadata names the job or package ARN.
- A step whose Type the bed does not run, whose arguments do not resolve, or whose call
  or job fails, is ``Failed`` with that reason; the execution is then ``Failed`` with
  ``Step failure: One or more steps failed.`` and later steps do not start.
  ``pause`` seconds separate state changes, so that pollers see ``Executing``.

State lives beside moto's FakePipelineExecution (``run_of(execution)``: a ``Run``), and
goes with it when a moto reset drops the execution. Times come from the bed's clock.
"""

from __future__ import annotations

import json
import os
import random
import string
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from crossline_bed.sagemaker_pipelines.definition import Definition, DefinitionError, Step, resolve

EXECUTION_TAG = "sagemaker:pipeline-execution-arn"
STEP_FAILURE = "Step failure: One or more steps failed."
JOB_NAME_LIMIT = 63
_JOBS = {"Processing": ("ProcessingJob", "processing-job"), "Training": ("TrainingJob", "training-job")}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class StepRecord:
    name: str
    type: str
    display_name: str | None = None
    description: str | None = None
    status: str = "Starting"
    start_time: datetime = field(default_factory=utcnow)
    end_time: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    described: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"StepName": self.name, "StartTime": self.start_time, "StepStatus": self.status,
                               "Metadata": self.metadata, "AttemptCount": 1}
        for key, value in (("StepDisplayName", self.display_name), ("StepDescription", self.description),
                           ("EndTime", self.end_time), ("FailureReason", self.failure_reason)):
            if value is not None:
                out[key] = value
        return out


@dataclass
class Run:
    """What the bed knows of one execution beyond moto's record of it."""

    definition: Definition
    parameters: dict[str, Any]
    experiment_config: dict[str, str] | None = None
    steps: list[StepRecord] = field(default_factory=list)
    failure_reason: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


# Kept beside moto's executions, not on them: moto's Search turns attributes into members.
_RUNS: "weakref.WeakKeyDictionary[Any, Run]" = weakref.WeakKeyDictionary()


def run_of(execution: Any) -> Run | None:
    return _RUNS.get(execution)


def start(backend: Any, execution: Any, pipeline: Any, overrides: list[dict[str, str]] | None, pause: float = 0.2) -> None:
    """Run ``execution`` on a thread; a definition or parameters SageMaker would refuse raise ``DefinitionError``."""
    definition = Definition.parse(execution.pipeline_definition_for_execution)
    parameters = definition.parameter_values(overrides)
    definition.ordered_steps()
    execution.pipeline_execution_status = "Executing"
    _RUNS[execution] = Run(definition, parameters)
    thread = threading.Thread(
        target=run, args=(backend.account_id, backend.region_name, execution, pipeline, pause),
        name=f"pipeline-{execution.arn.rsplit('/', 1)[1]}", daemon=True,
    )
    thread.start()


def _finish(execution: Any, status: str, reason: str | None = None) -> None:
    execution.pipeline_execution_status = status
    execution.pipeline_execution_failure_reason = reason
    execution.last_modified_time = utcnow()


def _client(account: str, region: str, role_arn: str) -> Any:
    from moto.sts.models import sts_backends

    port = os.environ.get("MOTO_PORT")
    if not port:
        raise RuntimeError("the bed runs pipeline steps only in a moto server (MOTO_PORT is not set)")
    role = sts_backends[account]["aws"].assume_role(
        region_name=region, role_session_name="SageMaker", role_arn=role_arn, policy="", duration=3600, external_id="",
    )
    return boto3.client(
        "sagemaker", endpoint_url=f"http://127.0.0.1:{port}", region_name=region,
        aws_access_key_id=role.access_key_id, aws_secret_access_key=role.secret_access_key,
        aws_session_token=role.session_token,
    )


def run(account: str, region: str, execution: Any, pipeline: Any, pause: float) -> None:
    state = run_of(execution)
    assert state is not None
    execution_id = execution.arn.rsplit("/", 1)[1]
    variables = {
        "PipelineExecutionId": execution_id, "PipelineExecutionArn": execution.arn,
        "PipelineName": pipeline.pipeline_name, "PipelineArn": pipeline.arn,
        "StartDateTime": execution.start_time.isoformat(),
    }

    def scope(kind: str, name: str) -> Any:
        if kind == "Parameters":
            if name not in state.parameters:
                raise DefinitionError(f"no parameter {name}")
            return state.parameters[name]
        if kind == "Execution":
            if name == "CurrentDateTime":
                return utcnow().isoformat()
            if name not in variables:
                raise DefinitionError(f"no execution variable {name}")
            return variables[name]
        done = {s.name: s for s in state.steps if s.status == "Succeeded"}
        if name not in done:
            raise DefinitionError(f"step {name} has not succeeded")
        return done[name].described

    try:
        sm = _client(account, region, pipeline.role_arn)
        steps = state.definition.ordered_steps()
        trial = _experiment(sm, state, scope)
    except (DefinitionError, ClientError, BotoCoreError, RuntimeError) as err:
        _finish(execution, "Failed", str(err))
        return
    for step in steps:
        time.sleep(pause)
        record = StepRecord(step.name, step.type, step.display_name, step.description)
        with state.lock:
            state.steps.append(record)
        try:
            record.status = "Executing"
            time.sleep(pause)
            _run_step(sm, step, record, execution, execution_id, scope, trial)
            record.status = "Succeeded"
        except (DefinitionError, ClientError, BotoCoreError, StepFailed) as err:
            record.status, record.failure_reason = "Failed", _reason(err)
        record.end_time = utcnow()
        if record.status == "Failed":
            _finish(execution, "Failed", STEP_FAILURE)
            return
    time.sleep(pause)
    _finish(execution, "Succeeded")


class StepFailed(Exception):
    """A step's job ended Failed or Stopped."""


def _reason(err: Exception) -> str:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"ClientError: {error.get('Code')}: {error.get('Message')}"
    return str(err)


def _experiment(sm: Any, state: Run, scope: Any) -> str | None:
    config = state.definition.experiment_config
    if not config:
        return None
    experiment = str(resolve(config.get("ExperimentName", {"Get": "Execution.PipelineName"}), scope))
    trial = str(resolve(config.get("TrialName", {"Get": "Execution.PipelineExecutionId"}), scope))
    state.experiment_config = {"ExperimentName": experiment, "TrialName": trial}
    for call, kwargs in ((sm.create_experiment, {"ExperimentName": experiment}),
                         (sm.create_trial, {"TrialName": trial, "ExperimentName": experiment})):
        try:
            call(**kwargs)
        except ClientError as err:  # it exists already: SageMaker reuses it
            if err.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceInUse"):
                raise
    return trial


def job_name(execution_id: str, step: str) -> str:
    tail = "".join(random.choices(string.ascii_letters + string.digits, k=10))
    room = JOB_NAME_LIMIT - len("pipelines-") - len(execution_id) - len(tail) - 2
    return f"pipelines-{execution_id}-{step[:room]}-{tail}"


def _run_step(sm: Any, step: Step, record: StepRecord, execution: Any, execution_id: str, scope: Any, trial: str | None) -> None:
    arguments = resolve(step.arguments, scope)
    if step.type in _JOBS:
        kind, arn_kind = _JOBS[step.type]
        name = job_name(execution_id, step.name)
        tags = [t for t in arguments.pop("Tags", []) if t.get("Key") != EXECUTION_TAG]
        tags.append({"Key": EXECUTION_TAG, "Value": execution.arn})
        create = sm.create_processing_job if kind == "ProcessingJob" else sm.create_training_job
        arn = create(**{f"{kind}Name": name}, **arguments, Tags=tags)[f"{kind}Arn"]
        record.metadata = {kind: {"Arn": arn}}
        record.described = _wait(sm, kind, name)
        if trial is not None:
            sm.associate_trial_component(TrialComponentName=f"{name}-aws-{arn_kind}", TrialName=trial)
        return
    if step.type == "RegisterModel":
        metadata = dict(arguments.pop("MetadataProperties", {}) or {})
        metadata["GeneratedBy"] = execution.arn
        arn = sm.create_model_package(**arguments, MetadataProperties=metadata)["ModelPackageArn"]
        record.metadata = {"RegisterModel": {"Arn": arn}}
        record.described = _plain(sm.describe_model_package(ModelPackageName=arn))
        return
    raise StepFailed(f"the bed does not run {step.type} steps (it runs Processing, Training and RegisterModel)")


def _wait(sm: Any, kind: str, name: str, timeout: float = 60.0) -> dict[str, Any]:
    describe = sm.describe_processing_job if kind == "ProcessingJob" else sm.describe_training_job
    deadline = time.monotonic() + timeout
    while True:
        described = describe(**{f"{kind}Name": name})
        status = described.get(f"{kind.replace('Job', '')}JobStatus")
        if status in ("Completed", "Failed", "Stopped"):
            break
        if time.monotonic() > deadline:
            raise StepFailed(f"{kind} {name} did not end within {timeout:.0f}s")
        time.sleep(0.5)
    if status != "Completed":
        raise StepFailed(f"{kind} {name} ended {status}: {described.get('FailureReason', '')}".rstrip(": "))
    return _plain(described)


def _plain(response: dict[str, Any]) -> dict[str, Any]:
    """A Describe* response as JSON values (times as ISO text), for property paths."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    result: dict[str, Any] = json.loads(json.dumps(body, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))
    return result
