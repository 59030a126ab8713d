"""The bed's job runner: writes what AWS jobs would have written, inside the moto server.

Contract: ``install()`` wraps moto's Glue ``start_job_run`` and SageMaker
``create_training_job`` / ``create_processing_job`` so that, when a job is started, its
outputs appear in moto's S3 as the real job would leave them: moto runs nothing, and
the pipeline after a job (and the lineage of its outputs' content versions) needs them.
Writes go through moto's S3 backend, so versioned buckets give real VersionIds. An
output whose bucket does not exist is not written (the real job would have failed to
write it; the reader then finds nothing, as it would on AWS).

Lineage Glue itself reports is not emulated: Glue 5.0 Spark jobs with "Generate lineage
events" on send OpenLineage events to Amazon DataZone (PostLineageEvent; read back through
DataZone's lineage API), and crawlers have a LineageConfiguration for Lake Formation.
moto has no DataZone, and a team that turns it on has those events already; the bed's
Glue runs report their datasets only through their arguments.

A Glue run with a fault injected (``crossline_bed.faults``) fails and writes nothing.

What each job leaves behind (deterministic in the job's inputs, so a re-run with the
same inputs writes the same bytes):
- Glue job run: ``part-00000.parquet`` under each output it names in one of the forms
  teams use (``OUTPUT_PATH_ARGUMENTS``: ``--output_path``, ``--output_s3``,
  ``--s3_output``, ``--output_location``, ``--target_path``), and under the Glue
  Data Catalog location of a table named by ``--target_database``/``--output_database``
  with ``--target_table``/``--output_table`` (a table missing from the catalog gets
  nothing). The job's DefaultArguments count, overridden by the run's Arguments, as
  Glue merges them.
- Training job: ``{S3OutputPath}/{TrainingJobName}/output/model.tar.gz``, a real gzip'd
  tar whose ``model.json`` records the hyperparameters and input channels.
- Processing job: one ``part-00000`` file per S3 output; an output named
  ``evaluation`` gets ``evaluation.json`` in SageMaker's model-quality layout
  (``{"binary_classification_metrics": {"auc": {"value": …}, "ks": {"value": …}}}``),
  with values derived from the job's inputs: a simulation, not a computation.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from typing import Any

from crossline_bed import faults
from crossline_bed.moto_ext import wrap_after
from crossline.emitters.naming import s3_location

_MARK = "_crossline_job_runner"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()


def _put(account_id: str, uri: str, body: bytes) -> None:
    from moto.s3.models import s3_backends

    bucket, key = s3_location(uri)
    backend = s3_backends[account_id]["aws"]
    if bucket not in backend.buckets:
        return
    backend.put_object(bucket, key, body)


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}"


def simulated_metrics(inputs: list[str]) -> dict[str, float]:
    """AUC and KS an evaluation job 'measures' for these inputs (stable, plausible)."""
    seed = _digest(sorted(inputs))
    return {
        "auc": round(0.80 + seed[0] / 255 * 0.1, 3),
        "ks": round(0.35 + seed[1] / 255 * 0.1, 3),
    }


OUTPUT_PATH_ARGUMENTS = ("--output_path", "--output_s3", "--s3_output", "--output_location", "--target_path")
OUTPUT_TABLE_ARGUMENTS = (("--target_database", "--target_table"), ("--output_database", "--output_table"))


def glue_outputs(backend: Any, arguments: dict[str, str]) -> list[str]:
    """The S3 locations a Glue run with these arguments writes to."""
    outputs = [arguments[name] for name in OUTPUT_PATH_ARGUMENTS if arguments.get(name, "").startswith("s3://")]
    for database, table in OUTPUT_TABLE_ARGUMENTS:
        if arguments.get(database) and arguments.get(table):
            try:
                found = backend.get_table(arguments[database], arguments[table])
            except Exception:  # not in the catalog: the real job would fail to write; write nothing
                continue
            location = found.as_dict().get("StorageDescriptor", {}).get("Location")
            if location:
                outputs.append(location)
    return outputs


def _glue_ran(backend: Any, run_id: Any, kwargs: dict[str, Any]) -> None:
    error = faults.take_glue_failure(kwargs["name"])
    run = next(r for r in backend.jobs[kwargs["name"]].job_runs if r.job_run_id == run_id)
    if error is not None:
        faults.fail_glue_run(run, error)
        return
    # Written as before when only the run's arguments matter (the credit story's bytes).
    arguments = kwargs.get("arguments") or {}
    merged = {**(backend.jobs[kwargs["name"]].default_arguments or {}), **arguments}
    body = json.dumps({"job": kwargs.get("name"), "arguments": arguments}, sort_keys=True).encode()
    for output in glue_outputs(backend, merged):
        _put(backend.account_id, _join(output, "part-00000.parquet"), body)


def _training_created(backend: Any, job: Any, kwargs: dict[str, Any]) -> None:
    model = {
        "training_job": job.training_job_name,
        "hyperparameters": job.hyper_parameters,
        # InputDataConfig is optional (an algorithm may need no channel), and a channel
        # may read from a file system instead of S3.
        "inputs": [
            c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in job.input_data_config or []
            if "S3DataSource" in c.get("DataSource", {})
        ],
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = json.dumps(model, sort_keys=True).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    _put(backend.account_id, job.model_artifacts["S3ModelArtifacts"], buffer.getvalue())


def _processing_created(backend: Any, job: Any, kwargs: dict[str, Any]) -> None:
    inputs = [i["S3Input"]["S3Uri"] for i in job.processing_inputs or [] if "S3Input" in i]
    for output in (job.processing_output_config or {}).get("Outputs", []):
        uri = output.get("S3Output", {}).get("S3Uri")
        if not uri:
            continue
        if output.get("OutputName") == "evaluation":
            metrics = simulated_metrics(inputs)
            report = {"binary_classification_metrics": {k: {"value": v} for k, v in metrics.items()}}
            _put(backend.account_id, _join(uri, "evaluation.json"), json.dumps(report).encode())
        else:
            body = json.dumps({"job": job.processing_job_name, "inputs": sorted(inputs)}).encode()
            _put(backend.account_id, _join(uri, "part-00000"), body)


def install() -> None:
    """Wrap moto's job-starting methods in this process; calling it again changes nothing."""
    from moto.glue.models import GlueBackend
    from moto.sagemaker.models import SageMakerModelBackend

    faults.install()
    wrap_after(GlueBackend, "start_job_run", _glue_ran, _MARK)
    wrap_after(SageMakerModelBackend, "create_training_job", _training_created, _MARK)
    wrap_after(SageMakerModelBackend, "create_processing_job", _processing_created, _MARK)
