"""Airflow OpenLineage extractors for the AWS operators of an ML pipeline.

Contract: each extractor turns one operator's finished run into an ``OperatorLineage``
(inputs, outputs, run facets, job facets), reading what the operator kept of its AWS
call or describing the resource once through the operator's own hook (so the task's
Airflow connection, endpoint and credentials apply). The provider gives:

- SageMaker training and processing: datasets only. We rebuild the datasets through the
  one naming function (the provider keeps a trailing ``/`` on prefixes), add content
  versions, the job's identity (ARN, image, instance), hyperparameters, training metrics
  (FinalMetricDataList) and evaluation metrics (an ``evaluation`` output's
  ``evaluation.json``).
- Glue, register-model-version, model, endpoint config and endpoint: nothing. We give
  them inputs, outputs and the facets of the resource they made.

Every job gets its code commit (``code_location.resolve``). Every ``OperatorLineage`` an
extractor returns is redacted (``crossline.redact``) before the provider builds its
event: URI credentials, secret-named hyperparameters and arguments. Failure policy: the
provider's ExtractorManager already catches an extractor's exception and emits the event
without lineage; inside, each optional enrichment (content versions, reading an
evaluation report, tags) is best-effort so that one unreadable object costs that fact,
not the whole event, and is logged with the reason.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from airflow.providers.openlineage.extractors.base import BaseExtractor, DefaultExtractor, OperatorLineage

from crossline.emitters import code_location, sagemaker
from crossline.emitters.content import read_content_version
from crossline.emitters.facets.standard import code_location as code_location_facet
from crossline.emitters.facets.standard import symlinks_to
from crossline.emitters.naming import s3_location
from crossline.errors import SourceError
from crossline.redact import redact_event

log = logging.getLogger(__name__)
T = TypeVar("T")


def best_effort(what: str, fn: Callable[[], T], default: T) -> T:
    try:
        return fn()
    except Exception as err:  # the emission boundary: lineage never fails a task
        log.warning("crossline: %s failed, continuing without it: %s", what, err)
        return default


def _redacting(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def extract(self: Any, *args: Any, **kwargs: Any) -> Any:
        lineage = method(self, *args, **kwargs)
        return redact_event(lineage) if lineage is not None else None

    extract.__crossline_redacting__ = True  # type: ignore[attr-defined]
    return extract


_EXTRACT_METHODS = ("_execute_extraction", "extract_on_complete", "extract_on_failure")


class _CrosslineExtractor(BaseExtractor):
    """Shared plumbing: AWS clients from the operator's connection, code location, versions."""

    operator_classes: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every extraction method a subclass defines returns redacted lineage."""
        super().__init_subclass__(**kwargs)
        for name in _EXTRACT_METHODS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__crossline_redacting__", False):
                setattr(cls, name, _redacting(method))

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return list(cls.operator_classes)

    def _execute_extraction(self) -> OperatorLineage | None:
        return OperatorLineage(job_facets=self._job_facets(tags=self._configured_tags()))

    def _configured_tags(self) -> Any:
        """The Tags the operator will give its resource: START names the same code as COMPLETE."""
        config = getattr(self.operator, "config", None)
        return config.get("Tags") if isinstance(config, dict) else None

    # -- helpers ------------------------------------------------------------------------
    def _client(self, service: str) -> Any:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        clients = self.__dict__.setdefault("_crossline_clients", {})
        if service not in clients:
            clients[service] = AwsBaseHook(
                aws_conn_id=getattr(self.operator, "aws_conn_id", "aws_default"),
                region_name=getattr(self.operator, "region_name", None),
                client_type=service,
            ).conn
        return clients[service]

    def _job_facets(self, tags: Any) -> dict[str, Any]:
        dag = getattr(self.operator, "dag", None)
        location = best_effort(
            "resolving the code location",
            lambda: code_location.resolve(tags, getattr(dag, "fileloc", None)),
            None,
        )
        if location is None:
            return {}
        facet = best_effort(
            "building the sourceCodeLocation facet",
            lambda: code_location_facet(location.repo_url, location.commit, location.path),
            None,
        )
        return {"sourceCodeLocation": facet} if facet else {}

    def _version(self, uri: str) -> str | None:
        return best_effort(f"reading the content version of {uri}", lambda: read_content_version(self._client("s3"), uri), None)

    def _sagemaker_tags(self, arn: str) -> list[dict[str, str]]:
        return best_effort(f"listing the tags of {arn}", lambda: self._client("sagemaker").list_tags(ResourceArn=arn).get("Tags", []), [])


for _name in _EXTRACT_METHODS:
    if _name in _CrosslineExtractor.__dict__:
        setattr(_CrosslineExtractor, _name, _redacting(_CrosslineExtractor.__dict__[_name]))


class GlueJobExtractor(_CrosslineExtractor):
    """GlueJobOperator: inputs and outputs from the job's arguments, run id, feature snapshot.

    The arguments are the job's contract with its script. Read: crossline's own
    (``--input_paths`` comma-separated, ``--output_path``, and for a feature job
    ``--feature_group`` and ``--snapshot_version``) and the forms teams commonly use
    (``sagemaker.GLUE_INPUT_PATH_ARGS``/``GLUE_OUTPUT_PATH_ARGS``: ``--input_path``,
    ``--output_s3``, ``--target_path``, ...; Glue Data Catalog tables as
    ``--source_database``/``--source_table``, ``--target_database``/``--target_table``,
    ...), from the job's DefaultArguments overridden by the run's Arguments, as Glue
    merges them. A catalog table is the dataset OpenLineage names for it, with a
    ``symlinks`` facet to its S3 location when the catalog gives one (so the table joins
    the data under it). Lineage Glue itself reports (Glue 5.0's "generate lineage
    events", sent to Amazon DataZone) reaches the collector through DataZone or the
    events' own transport, not through the operator; nothing here repeats it.
    """

    operator_classes = ("GlueJobOperator",)

    def _execute_extraction(self) -> OperatorLineage | None:
        args = self._arguments({})
        inputs, outputs = sagemaker.glue_datasets(args, None, None)  # tables need the account: on complete
        return OperatorLineage(
            inputs=[sagemaker.input_dataset(u) for u in inputs],
            outputs=[sagemaker.output_dataset(u) for u in outputs],
            job_facets=self._job_facets(args),
        )

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        run_id = getattr(self.operator, "_job_run_id", None)
        run: dict[str, Any] = {}
        if run_id:
            run = best_effort(
                f"reading Glue job run {run_id}",
                lambda: self._client("glue").get_job_run(JobName=self.operator.job_name, RunId=run_id)["JobRun"],
                {},
            )
        args = self._arguments(run.get("Arguments") or {})
        region, account = self._region_account()
        inputs, outputs = sagemaker.glue_datasets(args, region, account)
        output_datasets = []
        for number, uri in enumerate(outputs):
            snapshot = sagemaker.feature_snapshot(args, uri, region, account) if number == 0 and uri.startswith("s3") else None
            output_datasets.append(self._dataset(uri, output=True, extra=[snapshot] if snapshot else []))
        run_facets: dict[str, Any] = {}
        if run_id:
            from openlineage.client.facet_v2 import external_query_run

            run_facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
                externalQueryId=run_id, source=f"glue:{self.operator.job_name}"
            )
        return OperatorLineage(
            inputs=[self._dataset(u, output=False) for u in inputs],
            outputs=output_datasets,
            run_facets=run_facets,
            job_facets=self._job_facets(args),
        )

    def _arguments(self, run_arguments: dict[str, Any]) -> dict[str, Any]:
        """The job's DefaultArguments (as created, else as Glue has them), then the operator's, then the run's."""
        kwargs = getattr(self.operator, "create_job_kwargs", None) or {}
        defaults = dict(kwargs.get("DefaultArguments") or {}) if isinstance(kwargs, dict) else {}
        if not defaults and getattr(self.operator, "_job_run_id", None):
            defaults = best_effort(
                f"reading Glue job {self.operator.job_name}",
                lambda: dict(self._client("glue").get_job(JobName=self.operator.job_name)["Job"].get("DefaultArguments") or {}),
                {},
            )
        return {**defaults, **dict(getattr(self.operator, "script_args", None) or {}), **run_arguments}

    def _dataset(self, uri: str, output: bool, extra: list[Any] | None = None) -> Any:
        make = sagemaker.output_dataset if output else sagemaker.input_dataset
        if not uri.startswith("arn:aws:glue:"):
            return make(uri, self._version(uri), extra or [])
        location = best_effort(f"reading the catalog location of {uri}", lambda: self._table_location(uri), None)
        links = best_effort("naming the table's location", lambda: [symlinks_to(location, type="LOCATION")], []) if location else []
        return make(uri, None, [*(extra or []), *links])

    def _table_location(self, arn: str) -> str | None:
        database, table = arn.split(":table/", 1)[1].split("/", 1)
        found = self._client("glue").get_table(DatabaseName=database, Name=table)["Table"]
        return (found.get("StorageDescriptor") or {}).get("Location") or None

    def _region_account(self) -> tuple[str | None, str | None]:
        def lookup() -> tuple[str | None, str | None]:
            arn = self._client("sts").get_caller_identity()["Arn"]
            region = self._client("glue").meta.region_name
            return region, sagemaker.region_account(arn)[1]

        return best_effort("finding the AWS account", lookup, (None, None))


class _SageMakerJobExtractor(_CrosslineExtractor, DefaultExtractor):
    """Training and processing: we describe the job once (the operator keeps only a
    stringified copy, datetimes included) and build datasets and facets from that; if
    the job cannot be described, the provider's own lineage is used."""

    def _execute_extraction(self) -> OperatorLineage | None:
        return OperatorLineage(job_facets=self._job_facets(tags=self._configured_tags()))

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        desc = best_effort("describing the SageMaker job", self._description, None)
        if not desc:
            return super().extract_on_complete(task_instance)
        return self._lineage(desc)

    def _description(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def _lineage(self, desc: dict[str, Any]) -> OperatorLineage:
        raise NotImplementedError


class SageMakerTrainingExtractor(_SageMakerJobExtractor):
    operator_classes = ("SageMakerTrainingOperator",)

    def _description(self) -> dict[str, Any] | None:
        name = self.operator.config["TrainingJobName"]
        return self._client("sagemaker").describe_training_job(TrainingJobName=name)

    def _lineage(self, desc: dict[str, Any]) -> OperatorLineage:
        output = sagemaker.training_output(desc)
        return OperatorLineage(
            inputs=[sagemaker.input_dataset(u, self._version(u)) for u in sagemaker.training_inputs(desc)],
            outputs=[sagemaker.output_dataset(output, self._version(output))] if output else [],
            run_facets=best_effort("building the training job's facets", lambda: sagemaker.training_facets(desc), {}),
            job_facets=self._job_facets(self._sagemaker_tags(desc["TrainingJobArn"])),
        )


class SageMakerProcessingExtractor(_SageMakerJobExtractor):
    operator_classes = ("SageMakerProcessingOperator",)

    def _description(self) -> dict[str, Any] | None:
        name = self.operator.config["ProcessingJobName"]
        return self._client("sagemaker").describe_processing_job(ProcessingJobName=name)

    def _lineage(self, desc: dict[str, Any]) -> OperatorLineage:
        run_facets = best_effort("building the processing job's facets", lambda: sagemaker.processing_facets(desc), {})
        outputs = []
        metrics = []
        for name, uri in sagemaker.processing_outputs(desc):
            outputs.append(sagemaker.output_dataset(uri, self._version(uri)))
            if name == "evaluation":
                metrics += best_effort(f"reading the evaluation report under {uri}", lambda u=uri: self._evaluation(u), [])
        if metrics:
            from crossline.emitters.facets import CrosslineMetricsRunFacet

            run_facets[CrosslineMetricsRunFacet.KEY] = CrosslineMetricsRunFacet(metrics=metrics)
        return OperatorLineage(
            inputs=[sagemaker.input_dataset(u, self._version(u)) for u in sagemaker.processing_inputs(desc)],
            outputs=outputs,
            run_facets=run_facets,
            job_facets=self._job_facets(self._sagemaker_tags(desc["ProcessingJobArn"])),
        )

    def _evaluation(self, prefix: str) -> list[Any]:
        report_uri = prefix if prefix.endswith(".json") else f"{prefix.rstrip('/')}/evaluation.json"
        bucket, key = s3_location(report_uri)
        body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return sagemaker.evaluation_metrics(json.loads(body), source=report_uri)


class SageMakerRegisterModelVersionExtractor(_CrosslineExtractor):
    """The model artifact in, the model package (version, status, ARN) out."""

    operator_classes = ("SageMakerRegisterModelVersionOperator",)

    def _execute_extraction(self) -> OperatorLineage | None:
        return OperatorLineage(
            inputs=[sagemaker.input_dataset(self.operator.model_url)],
            job_facets=self._job_facets(tags=None),
        )

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        model_url = self.operator.model_url
        desc = self._registered_package(self._client("sagemaker"), model_url)
        return OperatorLineage(
            inputs=[sagemaker.input_dataset(model_url, self._version(model_url))],
            outputs=[sagemaker.model_package_dataset(desc)],
            job_facets=self._job_facets(tags=None),
        )

    def _registered_package(self, sm: Any, model_url: str) -> dict[str, Any]:
        """The newest package of the group made from this model artifact.

        The operator returns the package ARN, but the return value (an XCom) cannot be
        read from the OpenLineage listener's forked process: it has no channel to the
        task supervisor and hangs until the listener kills it.
        """
        pages = sm.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=self.operator.package_group_name, SortBy="CreationTime", SortOrder="Descending"
        )
        for page in pages:
            for summary in page["ModelPackageSummaryList"]:
                desc = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
                containers = (desc.get("InferenceSpecification") or {}).get("Containers") or []
                if any(c.get("ModelDataUrl") == model_url for c in containers):
                    return desc
        raise SourceError(f"no package of group {self.operator.package_group_name} holds {model_url}")


class SageMakerModelExtractor(_CrosslineExtractor):
    """A model: its package (or model data) in, the model out."""

    operator_classes = ("SageMakerModelOperator",)

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        model = self._client("sagemaker").describe_model(ModelName=self.operator.config["ModelName"])
        return OperatorLineage(
            inputs=[_source_dataset(s) for s in sagemaker.model_sources(model)],
            outputs=[sagemaker.arn_dataset(model["ModelArn"], output=True)],
            job_facets=self._job_facets(tags=None),
        )


class SageMakerEndpointConfigExtractor(_CrosslineExtractor):
    """An endpoint config: its variants' models in, the config out."""

    operator_classes = ("SageMakerEndpointConfigOperator",)

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        sm = self._client("sagemaker")
        config = sm.describe_endpoint_config(EndpointConfigName=self.operator.config["EndpointConfigName"])
        inputs = [
            sagemaker.arn_dataset(sm.describe_model(ModelName=v["ModelName"])["ModelArn"], output=False)
            for v in config.get("ProductionVariants") or []
        ]
        return OperatorLineage(
            inputs=inputs,
            outputs=[sagemaker.arn_dataset(config["EndpointConfigArn"], output=True)],
            job_facets=self._job_facets(tags=None),
        )


class SageMakerEndpointExtractor(_CrosslineExtractor):
    """A deployment: the endpoint config and model packages in, the endpoint out, and what serves."""

    operator_classes = ("SageMakerEndpointOperator",)

    def extract_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        sm = self._client("sagemaker")
        info = self.operator.config.get("Endpoint", self.operator.config)
        endpoint = sm.describe_endpoint(EndpointName=info["EndpointName"])
        config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        models = {
            v["ModelName"]: sm.describe_model(ModelName=v["ModelName"]) for v in config.get("ProductionVariants") or []
        }
        deployments = sagemaker.deployment_facets(endpoint, config, models)
        inputs = [sagemaker.arn_dataset(config["EndpointConfigArn"], output=False)]
        inputs += [_source_dataset(s) for m in models.values() for s in sagemaker.model_sources(m)]
        run_facets: dict[str, Any] = {}
        if deployments:
            run_facets[deployments[0].KEY] = deployments[0]
        return OperatorLineage(
            inputs=inputs,
            outputs=[sagemaker.arn_dataset(endpoint["EndpointArn"], output=True)],
            run_facets=run_facets,
            job_facets=self._job_facets(tags=None),
        )


def _source_dataset(source: str) -> Any:
    return sagemaker.arn_dataset(source, output=False) if source.startswith("arn:") else sagemaker.input_dataset(source)
