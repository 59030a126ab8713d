"""The approval emitter: a Model Registry decision becomes an OpenLineage run event.

Contract: ``handler(event, context)`` is a Lambda handler for the EventBridge event
"SageMaker Model Package State Change". The event carries the new status but not who
decided, so the handler describes the package (DescribeModelPackage gives
``LastModifiedBy``, ``LastModifiedTime`` and ``ApprovalDescription``) and emits one
COMPLETE run event:

- job ``{namespace}`` / ``model_registry.approval.{group}``; ``namespace`` is
  ``CROSSLINE_NAMESPACE`` (default ``crossline``);
- run id: a UUID derived from (namespace, package ARN, status, decision time), so
  EventBridge's at-least-once redelivery re-sends the same run, not a new one, while two
  deployments of crossline reporting into one Marquez never share a run;
- event time: the decision time, not the time the Lambda ran;
- output: the model package dataset (one naming function) with its
  ``crossline_modelPackage`` facet, now showing the new status;
- run facet ``crossline_approval``: status, approver (Studio user profile and/or IAM
  identity), decision time, description, and the EventBridge event id and type.

Errors: an event that is not a model-package state change, or lacks the package ARN, is
``InvalidEvent``; a package that cannot be described is ``SourceError``. Both raise, so
Lambda retries and then keeps the event in its dead-letter queue: nothing is lost.
Delivery of the lineage event itself is the transport's business (configure the durable
transport the OpenLineage way). The event is redacted (``crossline.redact``) before the
client sees it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

from crossline.emitters import sagemaker
from crossline.emitters.facets import CrosslineApprovalRunFacet
from crossline.emitters.producer import PRODUCER
from crossline.errors import InvalidEvent, SourceError
from crossline.redact import redact_event
from crossline.times import stamp

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

DETAIL_TYPE = "SageMaker Model Package State Change"
RUN_NAMESPACE = uuid.UUID("5f0c4f4e-8a59-4e0b-9a0e-3b9f6d1c2a71")


def approval_run_id(namespace: str, package_arn: str, status: str, decided_at: str) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"{namespace}|{package_arn}|{status}|{decided_at}"))


def _iso(value: Any) -> str:
    """The decision time as approval run ids have always spelled it (``times.stamp``)."""
    return stamp(value) if isinstance(value, datetime) else str(value)


def approval_event(event: Mapping[str, Any], package: Mapping[str, Any], namespace: str) -> RunEvent:
    """The run event for one decision, from the EventBridge event and the described package."""
    modified_by = package.get("LastModifiedBy") or {}
    decided_at = _iso(package.get("LastModifiedTime") or package["CreationTime"])
    status = package["ModelApprovalStatus"]
    approval = CrosslineApprovalRunFacet(
        modelPackageArn=package["ModelPackageArn"],
        status=status,
        decisionTime=decided_at,
        approverUserProfileName=modified_by.get("UserProfileName"),
        approverIamArn=(modified_by.get("IamIdentity") or {}).get("Arn"),
        description=package.get("ApprovalDescription"),
        sourceEventId=event.get("id"),
        sourceEventType=event.get("detail-type"),
    )
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=decided_at,
        run=Run(runId=approval_run_id(namespace, package["ModelPackageArn"], status, decided_at), facets={approval.KEY: approval}),
        job=Job(namespace=namespace, name=f"model_registry.approval.{package['ModelPackageGroupName']}"),
        outputs=[sagemaker.model_package_dataset(package, output=True)],
        producer=PRODUCER,
    )


def package_arn_of(event: Mapping[str, Any]) -> str:
    if not isinstance(event, Mapping) or event.get("detail-type") != DETAIL_TYPE:
        kind = event.get("detail-type") if isinstance(event, Mapping) else type(event).__name__
        raise InvalidEvent(f"not a '{DETAIL_TYPE}' event: detail-type is {kind!r}")
    detail = event.get("detail") or {}
    arn = detail.get("ModelPackageArn") or next(iter(event.get("resources") or []), None)
    if not arn:
        raise InvalidEvent(f"'{DETAIL_TYPE}' event {event.get('id')!r} names no ModelPackageArn")
    return arn


def handle(
    event: Mapping[str, Any], *, sagemaker_client: Any, client: "OpenLineageClient", namespace: str
) -> RunEvent:
    arn = package_arn_of(event)
    try:
        package = sagemaker_client.describe_model_package(ModelPackageName=arn)
    except (ClientError, BotoCoreError) as err:
        raise SourceError(f"cannot describe model package {arn}: {err}") from err
    run_event = redact_event(approval_event(event, package, namespace))
    client.emit(run_event)
    return run_event


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """Lambda entry point: boto3 and the OpenLineage client configured from the environment."""
    import boto3
    from openlineage.client import OpenLineageClient

    run_event = handle(
        event,
        sagemaker_client=boto3.client("sagemaker"),
        client=OpenLineageClient(),
        namespace=os.environ.get("CROSSLINE_NAMESPACE", "crossline"),
    )
    return {"runId": run_event.run.runId, "status": run_event.run.facets[CrosslineApprovalRunFacet.KEY].status}
