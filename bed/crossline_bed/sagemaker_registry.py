"""Model Registry fidelity fixes for moto, so approvals look as they do on AWS.

Contract: ``install()`` changes two things in moto's SageMaker model packages:

- ``CreatedBy`` and ``LastModifiedBy`` are the request's caller (``IamIdentity`` with
  the caller's ARN, as AWS records for callers outside SageMaker Studio), not moto's
  fixed fake user profile. The approver of a package is read from ``LastModifiedBy``,
  so this is what makes "who approved" answerable on the bed. The caller is an
  assumed-role session when the approver assumed a role, e.g.
  ``arn:aws:sts::{account}:assumed-role/risk-ops/risk-ops@company.com``.
- ``UpdateModelPackage`` keeps the fields a request does not send
  (ApprovalDescription, CustomerMetadataProperties), as AWS does; moto resets them.
"""

from __future__ import annotations

from typing import Any, Callable

from crossline_bed.moto_ext import wrap_after, wrap_around
from crossline_bed.sagemaker_lineage.models import caller_context

_MARK = "_crossline_registry"


def _package(backend: Any, arn: str) -> Any:
    return backend.model_packages.get(backend.model_package_name_mapping.get(arn, arn))


def _created(backend: Any, arn: str, arguments: dict[str, Any]) -> None:
    caller = caller_context()
    package = _package(backend, arn)
    if caller and package is not None:
        package.created_by = caller
        package.last_modified_by = caller


def _update(call: Callable[[], Any], backend: Any, arguments: dict[str, Any]) -> Any:
    package = _package(backend, arguments["model_package_arn"])
    kept = {}
    if package is not None:
        if arguments.get("approval_description") is None:
            kept["approval_description"] = package.approval_description
        if arguments.get("customer_metadata_properties") is None:
            kept["customer_metadata_properties"] = package.customer_metadata_properties
    arn = call()
    if package is not None:
        for field, value in kept.items():
            setattr(package, field, value)
        caller = caller_context()
        if caller:
            package.last_modified_by = caller
    return arn


def install() -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    wrap_after(SageMakerModelBackend, "create_model_package", _created, _MARK)
    wrap_around(SageMakerModelBackend, "update_model_package", _update, _MARK)
