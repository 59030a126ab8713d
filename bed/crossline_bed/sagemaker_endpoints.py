"""Endpoint fidelity for moto: UpdateEndpoint, and CreateEndpoint refusing an existing name.

Contract: ``install()`` extends moto's SageMaker in this process, idempotently:

- **UpdateEndpoint** (moto 5.2 has none): ``SageMakerModelBackend.update_endpoint`` and the
  wire method on ``SageMakerResponse``. The endpoint switches to the new
  EndpointConfigName: that config's ProductionVariants replace the old ones, its
  DataCaptureConfig becomes the endpoint's, LastModifiedTime moves to now (the bed's
  clock), EndpointStatus is InService. DeploymentConfig (blue/green, rolling) is accepted
  and shown as ``LastDeploymentConfig``; **the swap is instant on the bed**: no Updating
  status, no baking period, no traffic shifting, no rollback alarms. AWS would hold
  traffic on the old fleet until the new one is healthy; the bed has no fleet.
  RetainAllVariantProperties=true keeps, for variants whose name is in both configs, the
  old weights and instance counts and the endpoint's DataCaptureConfig, except the
  property types named in ExcludeRetainedVariantProperties (DesiredWeight,
  DesiredInstanceCount, DataCaptureConfig); RetainDeploymentConfig keeps the last
  DeploymentConfig when none is sent.
- **CreateEndpoint** for a name that exists fails with AWS's ValidationException
  ``Cannot create already existing endpoint "{arn}".`` (moto silently replaces the
  endpoint). Airflow's ``SageMakerEndpointOperator`` reads that prefix to fall back to an
  update.

Errors, as AWS words them: an unknown endpoint is ``Could not find endpoint "{arn}".``,
an unknown config ``Could not find endpoint configuration "{arn}".``, both
ValidationException. The lineage of an update (a new ModelDeployment action on the
endpoint's context) is recorded by ``sagemaker_lineage.autocreate``, which hooks
``update_endpoint`` after this module installs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from crossline_bed.moto_ext import wrap_around

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

_MARK = "_crossline_endpoints"

# VariantPropertyType values of ExcludeRetainedVariantProperties (API reference).
_WEIGHT = "DesiredWeight"
_INSTANCES = "DesiredInstanceCount"
_CAPTURE = "DataCaptureConfig"


def _validation(message: str) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)


def _endpoint(backend: SageMakerModelBackend, name: str) -> FakeEndpoint:
    from moto.sagemaker.models import FakeEndpoint

    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise _validation(f'Could not find endpoint "{arn}".')
    return endpoint


def update_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    retain_all_variant_properties: bool | None = None,
    exclude_retained_variant_properties: list[dict[str, str]] | None = None,
    deployment_config: dict[str, Any] | None = None,
    retain_deployment_config: bool | None = None,
) -> FakeEndpoint:
    """Switch ``endpoint_name`` to ``endpoint_config_name`` at once (see the module docstring)."""
    from moto.core.utils import utcnow
    from moto.sagemaker.models import FakeEndpointConfig

    endpoint = _endpoint(self, endpoint_name)
    config = self.endpoint_configs.get(endpoint_config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
        raise _validation(f'Could not find endpoint configuration "{arn}".')

    variants = endpoint._process_production_variants(config.production_variants)
    capture = config.data_capture_config
    if retain_all_variant_properties:
        excluded = {p.get("VariantPropertyType") for p in exclude_retained_variant_properties or []}
        old = {v["VariantName"]: v for v in endpoint.production_variants}
        for variant in variants:
            previous = old.get(variant["VariantName"])
            if previous is None:
                continue
            if _WEIGHT not in excluded:
                _keep(variant, previous, "CurrentWeight", "DesiredWeight")
            if _INSTANCES not in excluded:
                _keep(variant, previous, "CurrentInstanceCount", "DesiredInstanceCount")
        if _CAPTURE not in excluded:
            capture = endpoint.data_capture_config

    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = variants
    endpoint.data_capture_config = capture
    if deployment_config is not None or not retain_deployment_config:
        # moto's describe turns attribute names into response keys: LastDeploymentConfig.
        endpoint.last_deployment_config = deployment_config  # type: ignore[attr-defined]
    endpoint.endpoint_status = "InService"
    endpoint.failure_reason = None
    endpoint.last_modified_time = utcnow()
    return endpoint


setattr(update_endpoint, _MARK, True)


def _keep(variant: dict[str, Any], previous: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if key in previous:
            variant[key] = previous[key]


def _update_endpoint_response(self: Any) -> ActionResult:
    """Wire side of UpdateEndpoint: a method of moto's ``SageMakerResponse``."""
    from moto.core.responses import ActionResult

    endpoint = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties"),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_deployment_config=self._get_param("RetainDeploymentConfig"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def _refuse_existing(call: Callable[[], Any], backend: Any, arguments: dict[str, Any]) -> Any:
    name = arguments["endpoint_name"]
    if name in backend.endpoints:
        arn = backend.endpoints[name].arn
        raise _validation(f'Cannot create already existing endpoint "{arn}".')
    return call()


def install() -> None:
    """Extend moto's SageMaker endpoints in this process; calling it again changes nothing."""
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    # Only once: a second assignment would drop the lineage hook wrapped around it.
    if not getattr(getattr(SageMakerModelBackend, "update_endpoint", None), _MARK, False):
        SageMakerModelBackend.update_endpoint = update_endpoint  # type: ignore[attr-defined]
        SageMakerResponse.update_endpoint = _update_endpoint_response  # type: ignore[attr-defined]
    wrap_around(SageMakerModelBackend, "create_endpoint", _refuse_existing, _MARK)
