"""Auto-creation: the lineage SageMaker records by itself when jobs, packages and endpoints appear.

Contract: ``HOOKS`` maps a moto ``SageMakerModelBackend`` method name to a function
``hook(sagemaker_backend, result, arguments)`` that runs after moto's own method returned
``result`` for the call's ``arguments`` (see crossline_bed.moto_ext). The hooks only add lineage entities
(``auto_created=True``: they do not count against the manual-creation limits) and reuse
any artifact that already has the same SourceUri, as SageMaker does. The graph they build
is described, with the choices behind it, in the package docstring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from crossline_bed.sagemaker_lineage.models import (
    Action,
    Artifact,
    LineageBackend,
    caller_context,
    lineage_backend,
    utcnow,
)

if TYPE_CHECKING:
    from moto.sagemaker.models import (
        FakeEndpoint,
        FakeProcessingJob,
        FakeTrainingJob,
        SageMakerModelBackend,
    )

NAME_LIMIT = 120  # ArtifactName/ActionName/ContextName maximum length


def entity_name(base: str, suffix: str) -> str:
    """``{base}-{suffix}`` within the 120-character name limit (the base gives way)."""
    room = NAME_LIMIT - len(suffix) - 1
    return f"{base[:room].rstrip('-_')}-{suffix}"


def artifact_for(lineage: LineageBackend, source_uri: str, artifact_type: str) -> Artifact:
    """The one artifact for this SourceUri, created if SageMaker has not seen it yet."""
    existing = lineage.artifact_by_source_uri(source_uri)
    if existing is not None:
        return existing
    return lineage.create_artifact(
        source={"SourceUri": source_uri}, artifact_type=artifact_type, auto_created=True
    )


def job_trial_component(
    sagemaker: SageMakerModelBackend, lineage: LineageBackend, job_name: str, kind: str, job_type: str
) -> str:
    """Moto's trial component ``{job}-aws-{kind}`` for a job; returns its ARN."""
    name = entity_name(job_name, f"aws-{kind}")
    if name not in sagemaker.trial_components:
        sagemaker.create_trial_component(
            trial_component_name=name,
            trial_name=None,  # type: ignore[arg-type]
            status={"PrimaryStatus": "Completed"},
            start_time=None,
            end_time=None,
            display_name=None,
            parameters=None,
            input_artifacts=None,
            output_artifacts=None,
            metadata_properties=None,
        )
    arn = sagemaker.trial_components[name].arn
    lineage.trial_component_types[arn] = job_type
    return arn


# ---- training ---------------------------------------------------------------------------
def on_training_job(sagemaker: SageMakerModelBackend, job: FakeTrainingJob, _: dict[str, Any]) -> None:
    lineage = lineage_backend(sagemaker)
    component = job_trial_component(sagemaker, lineage, job.training_job_name, "training-job", "TrainingJob")
    image = (job.algorithm_specification or {}).get("TrainingImage")
    if image:
        lineage.ensure_association(artifact_for(lineage, image, "Image").arn, component, "ContributedTo")
    for channel in job.input_data_config or []:
        uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        if uri:
            dataset = artifact_for(lineage, uri, "DataSet")
            lineage.ensure_association(dataset.arn, component, "ContributedTo")
    model_uri = (job.model_artifacts or {}).get("S3ModelArtifacts")
    if model_uri:
        lineage.ensure_association(component, artifact_for(lineage, model_uri, "Model").arn, "Produced")
    checkpoint_uri = (job.checkpoint_config or {}).get("S3Uri")
    if checkpoint_uri:
        checkpoint = artifact_for(lineage, checkpoint_uri, "Checkpoint")
        lineage.ensure_association(component, checkpoint.arn, "Produced")


# ---- processing -------------------------------------------------------------------------
def on_processing_job(
    sagemaker: SageMakerModelBackend, job: FakeProcessingJob, _: dict[str, Any]
) -> None:
    lineage = lineage_backend(sagemaker)
    component = job_trial_component(
        sagemaker, lineage, job.processing_job_name, "processing-job", "ProcessingJob"
    )
    image = (job.app_specification or {}).get("ImageUri")
    if image:
        lineage.ensure_association(artifact_for(lineage, image, "Image").arn, component, "ContributedTo")
    for processing_input in job.processing_inputs or []:
        uri = (processing_input.get("S3Input") or {}).get("S3Uri")
        if uri:
            lineage.ensure_association(artifact_for(lineage, uri, "DataSet").arn, component, "ContributedTo")
    for output in (job.processing_output_config or {}).get("Outputs", []):
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            lineage.ensure_association(component, artifact_for(lineage, uri, "DataSet").arn, "Produced")


# ---- model registry -----------------------------------------------------------------------
def on_model_package(sagemaker: SageMakerModelBackend, package_arn: str, _: dict[str, Any]) -> None:
    lineage = lineage_backend(sagemaker)
    package = sagemaker.model_packages[package_arn]
    package_artifact = artifact_for(lineage, package_arn, "ModelPackage")
    for image, model_data in _containers(package.inference_specification):
        if image:
            lineage.ensure_association(
                artifact_for(lineage, image, "Image").arn, package_artifact.arn, "ContributedTo"
            )
        if model_data:
            lineage.ensure_association(
                artifact_for(lineage, model_data, "Model").arn, package_artifact.arn, "ContributedTo"
            )
    stamp = str(int(time.time()))
    base = package.model_package_group_name or package.model_package_name
    version = package.model_package_version
    if package.model_package_group_name:
        group = sagemaker.model_package_groups[package.model_package_group_name]
        context = lineage.context_by_source_uri(group.arn, "ModelGroup") or lineage.create_context(
            context_name=entity_name(base, f"{stamp}-aws-model-package-group"),
            source={"SourceUri": group.arn, "SourceType": "ModelPackageGroup"},
            context_type="ModelGroup",
            properties={"ModelPackageGroupName": group.model_package_group_name},
            auto_created=True,
        )
        lineage.ensure_association(package_artifact.arn, context.arn, "AssociatedWith")
    creation = lineage.create_action(
        action_name=entity_name(base, f"{version or 0}-{stamp}-aws-model-package-creation"),
        source={"SourceUri": package_arn, "SourceType": "ModelPackage"},
        action_type="ModelPackageCreation",
        status="Completed",
        properties=_without_none({"ModelApprovalStatus": package.model_approval_status}),
        auto_created=True,
    )
    lineage.ensure_association(creation.arn, package_artifact.arn, "Produced")
    if package.model_approval_status:
        record_approval(lineage, package_arn, package.model_approval_status, None)


def on_update_model_package(
    sagemaker: SageMakerModelBackend, package_arn: str, kwargs: dict[str, Any]
) -> None:
    status = kwargs.get("model_approval_status")
    if status:
        record_approval(lineage_backend(sagemaker), package_arn, status, kwargs.get("approval_description"))


def record_approval(
    lineage: LineageBackend, package_arn: str, status: str, description: str | None
) -> Action:
    """One Approval action per approval-status decision: what, who and when."""
    package_artifact = artifact_for(lineage, package_arn, "ModelPackage")
    now = utcnow()
    who = caller_context().get("IamIdentity", {}).get("Arn", "unknown")
    parts = package_arn.split(":model-package/", 1)[-1].split("/")
    base, version = parts[0], (parts[1] if len(parts) > 1 else "0")
    sequence = sum(1 for a in lineage.actions.values() if a.entity_type == "Approval")
    action = lineage.create_action(
        action_name=entity_name(base, f"{version}-{int(now.timestamp())}-{sequence}-aws-approval"),
        source={"SourceUri": package_arn, "SourceType": "ModelPackage"},
        action_type="Approval",
        status="Completed",
        description=description,
        properties=_without_none(
            {
                "ModelApprovalStatus": status,
                "ApprovalDescription": description,
                "ApprovedBy": who,
                "ApprovalTime": now.isoformat(),
            }
        ),
        auto_created=True,
    )
    lineage.ensure_association(action.arn, package_artifact.arn, "AssociatedWith")
    return action


# ---- endpoints ----------------------------------------------------------------------------
def on_endpoint(sagemaker: SageMakerModelBackend, endpoint: FakeEndpoint, _: dict[str, Any]) -> None:
    record_deployment(sagemaker, endpoint)


def on_update_endpoint(sagemaker: SageMakerModelBackend, endpoint: FakeEndpoint, _: dict[str, Any]) -> None:
    record_deployment(sagemaker, endpoint)


def record_deployment(sagemaker: SageMakerModelBackend, endpoint: FakeEndpoint) -> Action:
    """One ModelDeployment action for the endpoint's current config, on its Endpoint context.

    Called on CreateEndpoint and on every UpdateEndpoint: the endpoint's deployment
    history is its ModelDeployment actions, ordered by CreationTime.
    """
    lineage = lineage_backend(sagemaker)
    stamp = str(int(time.time()))
    context = lineage.context_by_source_uri(endpoint.arn, "Endpoint")
    if context is None:
        context = lineage.create_context(
            context_name=entity_name(endpoint.endpoint_name, f"{stamp}-aws-endpoint"),
            source={"SourceUri": endpoint.arn, "SourceType": "Endpoint"},
            context_type="Endpoint",
            properties={"EndpointConfigName": endpoint.endpoint_config_name},
            auto_created=True,
        )
    elif context.properties.get("EndpointConfigName") != endpoint.endpoint_config_name:
        lineage.update_context(
            context.arn, properties={"EndpointConfigName": endpoint.endpoint_config_name}
        )
    # Two deployments within one second (create, then an immediate update) need
    # distinct names; the first keeps the plain form.
    name = entity_name(endpoint.endpoint_name, f"{stamp}-aws-model-deployment")
    sequence = 1
    while name in lineage.actions:
        name = entity_name(endpoint.endpoint_name, f"{stamp}-{sequence}-aws-model-deployment")
        sequence += 1
    deployment = lineage.create_action(
        action_name=name,
        source={"SourceUri": endpoint.arn, "SourceType": "Endpoint"},
        action_type="ModelDeployment",
        status="Completed",
        properties={"EndpointConfigName": endpoint.endpoint_config_name},
        auto_created=True,
    )
    lineage.ensure_association(deployment.arn, context.arn, "AssociatedWith")
    config = sagemaker.endpoint_configs.get(endpoint.endpoint_config_name)
    variants = config.production_variants if config is not None else []
    for variant in variants:
        model = sagemaker._models.get(variant.get("ModelName", ""))
        if model is None:
            continue
        containers = [model.primary_container] if model.primary_container else []
        containers += list(model.containers or [])
        for container in containers:
            for uri, kind in _deployed_artifacts(sagemaker, container):
                lineage.ensure_association(
                    artifact_for(lineage, uri, kind).arn, deployment.arn, "ContributedTo"
                )
    return deployment


def _deployed_artifacts(
    sagemaker: SageMakerModelBackend, container: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    """(SourceUri, ArtifactType) of what one model container puts on the endpoint."""
    if container.get("Image"):
        yield container["Image"], "Image"
    if container.get("ModelDataUrl"):
        yield container["ModelDataUrl"], "Model"
    package_name = container.get("ModelPackageName")
    if package_name:
        package_arn = sagemaker.model_package_name_mapping.get(package_name, package_name)
        package = sagemaker.model_packages.get(package_arn)
        if package is not None:
            yield package.arn, "ModelPackage"
            for image, model_data in _containers(package.inference_specification):
                if image and not container.get("Image"):
                    yield image, "Image"
                if model_data and not container.get("ModelDataUrl"):
                    yield model_data, "Model"


def _containers(inference_specification: dict[str, Any] | None) -> Iterator[tuple[str | None, str | None]]:
    for container in (inference_specification or {}).get("Containers", []):
        yield container.get("Image"), container.get("ModelDataUrl")


def _without_none(values: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


HOOKS: dict[str, Callable[[Any, Any, dict[str, Any]], None]] = {
    "create_training_job": on_training_job,
    "create_processing_job": on_processing_job,
    "create_model_package": on_model_package,
    "update_model_package": on_update_model_package,
    "create_endpoint": on_endpoint,
    # Added to moto by crossline_bed.sagemaker_endpoints, which must be installed first.
    "update_endpoint": on_update_endpoint,
}
