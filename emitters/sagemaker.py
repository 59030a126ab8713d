"""SageMaker and Glue API records turned into OpenLineage datasets and crossline facets.

Contract: pure functions from the dicts that boto3's Describe*/Get* calls return (the
Airflow operators keep the same dicts) to OpenLineage ``InputDataset``/``OutputDataset``
and facets. Every dataset is named by the one naming function. They raise
``InvalidEvent`` when a record cannot be turned into a valid facet; callers at the
emission boundary decide what to do with that. No network calls here: readers pass in
what they fetched (``read_content_version`` lives in ``content``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import DatasetFacet, RunFacet, symlinks_dataset

from crossline.emitters.facets import (
    CrosslineDeploymentRunFacet,
    CrosslineFeatureSnapshotDatasetFacet,
    CrosslineHyperparametersRunFacet,
    CrosslineMetric,
    CrosslineMetricsRunFacet,
    CrosslineModelPackageDatasetFacet,
    CrosslineSagemakerJobRunFacet,
)
from crossline.emitters.facets.standard import content_version
from crossline.emitters.naming import dataset_name, parse_arn
from crossline.errors import InvalidEvent

# Glue run arguments crossline reads (the job's own contract with its script).
GLUE_INPUTS_ARG = "--input_paths"
GLUE_OUTPUT_ARG = "--output_path"
GLUE_FEATURE_GROUP_ARG = "--feature_group"
GLUE_SNAPSHOT_ARG = "--snapshot_version"


def _dataset_facets(version: str | None, extra: Iterable[DatasetFacet] = ()) -> dict[str, DatasetFacet]:
    facets: dict[str, DatasetFacet] = {}
    if version:
        facets["version"] = content_version(version, None)
    for facet in extra:
        # crossline's facets carry their KEY; the standard ones crossline adds are named here.
        key = getattr(facet, "KEY", None) or ("symlinks" if isinstance(facet, symlinks_dataset.SymlinksDatasetFacet) else None)
        if key is None:
            raise InvalidEvent(f"no facet key for {type(facet).__name__}")
        facets[key] = facet
    return facets


def input_dataset(uri: str, version: str | None = None, extra: Iterable[DatasetFacet] = ()) -> InputDataset:
    ns, name = dataset_name(uri)
    return InputDataset(namespace=ns, name=name, facets=_dataset_facets(version, extra))


def output_dataset(uri: str, version: str | None = None, extra: Iterable[DatasetFacet] = ()) -> OutputDataset:
    ns, name = dataset_name(uri)
    return OutputDataset(namespace=ns, name=name, facets=_dataset_facets(version, extra))


# -- training ---------------------------------------------------------------------------
def training_inputs(desc: Mapping[str, Any]) -> list[str]:
    return [
        channel["DataSource"]["S3DataSource"]["S3Uri"]
        for channel in desc.get("InputDataConfig") or []
        if "S3DataSource" in channel.get("DataSource", {})
    ]


def training_output(desc: Mapping[str, Any]) -> str | None:
    return (desc.get("ModelArtifacts") or {}).get("S3ModelArtifacts")


def training_facets(desc: Mapping[str, Any]) -> dict[str, RunFacet]:
    resources = desc.get("ResourceConfig") or {}
    facets: dict[str, RunFacet] = {
        CrosslineSagemakerJobRunFacet.KEY: CrosslineSagemakerJobRunFacet(
            arn=desc["TrainingJobArn"],
            name=desc["TrainingJobName"],
            kind="training",
            image=(desc.get("AlgorithmSpecification") or {}).get("TrainingImage"),
            instanceType=resources.get("InstanceType"),
            instanceCount=resources.get("InstanceCount"),
        )
    }
    if desc.get("HyperParameters"):
        facets[CrosslineHyperparametersRunFacet.KEY] = CrosslineHyperparametersRunFacet(
            hyperparameters=dict(desc["HyperParameters"])
        )
    metrics = [
        CrosslineMetric(
            name=m["MetricName"], value=float(m["Value"]), kind="training",
            source=f"{desc['TrainingJobArn']}#FinalMetricDataList", timestamp=m.get("Timestamp"),
        )
        for m in desc.get("FinalMetricDataList") or []
    ]
    if metrics:
        facets[CrosslineMetricsRunFacet.KEY] = CrosslineMetricsRunFacet(metrics=metrics)
    return facets


# -- processing -------------------------------------------------------------------------
def processing_inputs(desc: Mapping[str, Any]) -> list[str]:
    return [i["S3Input"]["S3Uri"] for i in desc.get("ProcessingInputs") or [] if "S3Input" in i]


def processing_outputs(desc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(OutputName, S3Uri)`` of each S3 output."""
    outputs = (desc.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    return [(o.get("OutputName", ""), o["S3Output"]["S3Uri"]) for o in outputs if "S3Output" in o]


def processing_facets(desc: Mapping[str, Any]) -> dict[str, RunFacet]:
    cluster = (desc.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    return {
        CrosslineSagemakerJobRunFacet.KEY: CrosslineSagemakerJobRunFacet(
            arn=desc["ProcessingJobArn"],
            name=desc["ProcessingJobName"],
            kind="processing",
            image=(desc.get("AppSpecification") or {}).get("ImageUri"),
            instanceType=cluster.get("InstanceType"),
            instanceCount=cluster.get("InstanceCount"),
        )
    }


def evaluation_metrics(report: Mapping[str, Any], source: str) -> list[CrosslineMetric]:
    """Metrics of an evaluation report: any ``{name: {"value": v}}`` or ``{name: v}`` leaf.

    Covers SageMaker's model-quality layout (``binary_classification_metrics.auc.value``)
    and flat reports (``{"auc": 0.871}``); a leaf's name is its last key.
    """
    found: list[CrosslineMetric] = []

    def walk(node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                found.append(CrosslineMetric(name=key, value=float(value), kind="evaluation", source=source))
            elif isinstance(value, Mapping):
                inner = value.get("value")
                if isinstance(inner, (int, float)) and not isinstance(inner, bool):
                    found.append(CrosslineMetric(name=key, value=float(inner), kind="evaluation", source=source))
                else:
                    walk(value)

    walk(report)
    return found


# -- Glue -------------------------------------------------------------------------------
# The forms teams give a Glue job its data in, besides crossline's own: S3 paths
# (comma-separated where several), and Glue Data Catalog tables as database/table pairs.
GLUE_INPUT_PATH_ARGS = (GLUE_INPUTS_ARG, "--input_path", "--input_s3", "--s3_input", "--input_location", "--source_path")
GLUE_OUTPUT_PATH_ARGS = (GLUE_OUTPUT_ARG, "--output_s3", "--s3_output", "--output_location", "--target_path")
GLUE_INPUT_TABLE_ARGS = (("--source_database", "--source_table"), ("--input_database", "--input_table"),
                         ("--database", "--table_name"))
GLUE_OUTPUT_TABLE_ARGS = (("--target_database", "--target_table"), ("--output_database", "--output_table"))


def glue_paths(arguments: Mapping[str, str]) -> tuple[list[str], str | None]:
    """crossline's own Glue arguments: ``--input_paths`` (comma-separated) and ``--output_path``."""
    inputs = [p.strip() for p in (arguments.get(GLUE_INPUTS_ARG) or "").split(",") if p.strip()]
    return inputs, arguments.get(GLUE_OUTPUT_ARG) or None


def _paths(arguments: Mapping[str, str], names: Iterable[str]) -> list[str]:
    found: list[str] = []
    for name in names:
        for part in str(arguments.get(name) or "").split(","):
            if part.strip().lower().startswith(("s3://", "s3a://", "s3n://")) and part.strip() not in found:
                found.append(part.strip())
    return found


def _tables(arguments: Mapping[str, str], pairs: Iterable[tuple[str, str]], region: str | None,
            account: str | None) -> list[str]:
    if not (region and account):
        return []
    found = []
    for database, table in pairs:
        if arguments.get(database) and arguments.get(table):
            arn = f"arn:aws:glue:{region}:{account}:table/{arguments[database]}/{arguments[table]}"
            if arn not in found:
                found.append(arn)
    return found


def glue_datasets(arguments: Mapping[str, str], region: str | None, account: str | None) -> tuple[list[str], list[str]]:
    """Every dataset a Glue job's arguments declare, as (inputs, outputs): S3 URIs in the
    argument forms above (crossline's first), then Glue tables as their ARNs (named only
    when the region and account are known). Pass the job's DefaultArguments overridden by
    the run's Arguments, as Glue merges them."""
    inputs = _paths(arguments, GLUE_INPUT_PATH_ARGS) + _tables(arguments, GLUE_INPUT_TABLE_ARGS, region, account)
    outputs = _paths(arguments, GLUE_OUTPUT_PATH_ARGS) + _tables(arguments, GLUE_OUTPUT_TABLE_ARGS, region, account)
    return inputs, outputs


def feature_snapshot(arguments: Mapping[str, str], output_uri: str, region: str | None, account: str | None) -> CrosslineFeatureSnapshotDatasetFacet | None:
    group, version = arguments.get(GLUE_FEATURE_GROUP_ARG), arguments.get(GLUE_SNAPSHOT_ARG)
    if not (group and version):
        return None
    arn = f"arn:aws:sagemaker:{region}:{account}:feature-group/{group.lower()}" if region and account else None
    return CrosslineFeatureSnapshotDatasetFacet(
        featureGroupName=group, version=version, offlineStoreUri=output_uri, featureGroupArn=arn
    )


# -- registry and endpoints -------------------------------------------------------------
def model_package_facet(desc: Mapping[str, Any]) -> CrosslineModelPackageDatasetFacet:
    containers = (desc.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return CrosslineModelPackageDatasetFacet(
        group=desc["ModelPackageGroupName"],
        version=int(desc["ModelPackageVersion"]),
        arn=desc["ModelPackageArn"],
        approvalStatus=desc["ModelApprovalStatus"],
        modelDataUrl=containers[0].get("ModelDataUrl"),
    )


def model_package_dataset(desc: Mapping[str, Any], output: bool = True) -> InputDataset | OutputDataset:
    ns, name = dataset_name(desc["ModelPackageArn"])
    facets = {CrosslineModelPackageDatasetFacet.KEY: model_package_facet(desc)}
    cls = OutputDataset if output else InputDataset
    return cls(namespace=ns, name=name, facets=facets)


def arn_dataset(arn: str, output: bool) -> InputDataset | OutputDataset:
    ns, name = dataset_name(arn)
    return (OutputDataset if output else InputDataset)(namespace=ns, name=name)


def model_sources(model: Mapping[str, Any]) -> list[str]:
    """What a model is made of: its package ARN if it has one, else its model data URL."""
    containers = [model.get("PrimaryContainer")] if model.get("PrimaryContainer") else model.get("Containers") or []
    sources = []
    for container in containers:
        if container.get("ModelPackageName"):
            sources.append(container["ModelPackageName"])
        elif container.get("ModelDataUrl"):
            sources.append(container["ModelDataUrl"])
    return sources


def deployment_facets(
    endpoint: Mapping[str, Any], config: Mapping[str, Any], models: Mapping[str, Mapping[str, Any]]
) -> list[CrosslineDeploymentRunFacet]:
    """One deployment facet per production variant of the endpoint's config."""
    deployed = endpoint.get("LastModifiedTime") or endpoint.get("CreationTime")
    facets = []
    for variant in config.get("ProductionVariants") or []:
        model = models.get(variant["ModelName"], {})
        packages = [s for s in model_sources(model) if s.startswith("arn:")]
        facets.append(
            CrosslineDeploymentRunFacet(
                endpointName=endpoint["EndpointName"],
                endpointArn=endpoint["EndpointArn"],
                variantName=variant["VariantName"],
                modelName=variant["ModelName"],
                deployedTime=deployed,
                modelPackageArn=packages[0] if packages else None,
                endpointConfigName=config.get("EndpointConfigName"),
            )
        )
    return facets


def region_account(arn: str) -> tuple[str, str]:
    parsed = parse_arn(arn)
    return parsed.region, parsed.account
