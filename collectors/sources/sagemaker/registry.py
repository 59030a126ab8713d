"""SageMaker's model registry: packages and their approval decisions (processor 7 of the source).

Contract: ``model_packages`` reads, per package group, the packages registered after
the watermark, and again (whole) every package with an Approval action created after
it. Each is a ``MODEL_PACKAGE`` node (group, version, status, modelDataUrl,
createdBy/lastModifiedBy, metrics, approvals; its fact time is LastModifiedTime) plus,
per decision, an ``APPROVAL`` node and an ``APPROVED`` edge valid from the decision. When
a decision stops being in force (the next decision, whichever system reported it) is
derived from all of them by ``collectors.timeline``, never written here. Decisions are the
Approval actions associated with the package's artifact (else the actions whose
SourceUri is the package): status, approver (the assumed role's session name), when
(``ApprovalTime``, else the action's CreationTime) and why. A package whose status says
approved but no action records it is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, approval_id
from crossline.collectors.sources import Batch
from crossline.collectors.sources.sagemaker.common import (
    SOURCE,
    Api,
    Run,
    drop_none,
    identity,
    iso,
    person,
)
from crossline.times import coerce, stamp


# -- 7. model packages ----------------------------------------------------------------
def model_packages(api: Api, run: Run) -> Iterator[Batch]:
    # Packages decided on since the watermark are re-read whole, even if older.
    decided: set[str] = set()
    for items in api.pages(run, "list_actions", "ActionSummaries", ActionType="Approval", CreatedAfter=run.since):
        for item in items:
            if run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                uri = (item.get("Source") or {}).get("SourceUri")
                if uri:
                    decided.add(uri)
                else:
                    run.warn(f"Approval action {item.get('ActionArn')} names no package (no SourceUri)",
                             "ListActions(ActionType=Approval)")
    for groups in api.pages(run, "list_model_package_groups", "ModelPackageGroupSummaryList",
                            SortBy="CreationTime", SortOrder="Ascending"):
        for group in groups:
            run.scan("model_package_group")
            for packages in api.pages(run, "list_model_packages", "ModelPackageSummaryList",
                                      ModelPackageGroupName=group["ModelPackageGroupName"],
                                      CreationTimeAfter=run.since, SortBy="CreationTime", SortOrder="Ascending"):
                for summary in packages:
                    run.scan("model_package")
                    arn = summary["ModelPackageArn"]
                    if run.changed(summary.get("CreationTime")) or arn in decided:
                        decided.discard(arn)
                        _package(api, run, arn)
                batch = run.flush()
                if batch:
                    yield batch
    for arn in sorted(decided):  # decided on since, registered before the watermark
        run.scan("model_package")
        _package(api, run, arn)
        batch = run.flush()
        if batch:
            yield batch


def _package(api: Api, run: Run, arn: str) -> None:
    package = api.describe(run, api.client.describe_model_package, f"model package {arn}", ModelPackageName=arn)
    if package is None:
        return
    arn = package.get("ModelPackageArn", arn)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    decisions = _approvals(api, run, arn, package)
    props = drop_none({
        "group": package.get("ModelPackageGroupName"),
        "version": package.get("ModelPackageVersion"),
        "status": package.get("ModelApprovalStatus"),
        "packageStatus": package.get("ModelPackageStatus"),
        "approvalDescription": package.get("ApprovalDescription"),
        "modelDataUrl": next((c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")), None),
        "containers": [drop_none({"image": c.get("Image"), "modelDataUrl": c.get("ModelDataUrl")}) for c in containers],
        "createdBy": identity(package.get("CreatedBy")),
        "lastModifiedBy": identity(package.get("LastModifiedBy")),
        "creationTime": iso(package.get("CreationTime")),
        "lastModifiedTime": iso(package.get("LastModifiedTime")),
        "modelMetrics": package.get("ModelMetrics"),
        "customerMetadata": package.get("CustomerMetadataProperties"),
        "generatedBy": (package.get("MetadataProperties") or {}).get("GeneratedBy"),
        "approvals": [{k: v for k, v in d.items() if k != "at"} for d in decisions],
        "api": "DescribeModelPackage",
    })
    name = f"{props.get('group', '')}/{props['version']}" if "version" in props else arn
    run.node(Node(NodeId(arn), NodeKind.MODEL_PACKAGE, name, SOURCE, props))
    for decision in decisions:
        node_id = approval_id(arn, decision["at"])
        evidence = {"action": decision["action"], "api": decision["api"]}
        run.node(Node(node_id, NodeKind.APPROVAL, f"{name} {decision['status']}", SOURCE,
                      drop_none({"status": decision["status"], "approver": decision["approver"],
                                  "approverArn": decision["approverArn"], "description": decision["description"],
                                  "package": arn, "time": decision["time"], **evidence}),
                      valid_from=decision["at"], at=decision["at"]))
        run.edge(Edge(node_id, NodeId(arn), EdgeKind.APPROVED, SOURCE, {"status": decision["status"], **evidence},
                      valid_from=decision["at"], at=decision["at"]))


def _approvals(api: Api, run: Run, package_arn: str, package: dict[str, Any]) -> list[dict[str, Any]]:
    """Every approval decision on the package, oldest first: status, who, when, why."""
    artifact = api.first(run, "list_artifacts", "ArtifactSummaries", SourceUri=package_arn)
    if artifact is not None:
        action_arns = [
            a["SourceArn"]
            for items in api.pages(run, "list_associations", "AssociationSummaries",
                                   DestinationArn=artifact["ArtifactArn"], SourceType="Approval")
            for a in items
        ]
        via = "ListAssociations(package artifact)+DescribeAction"
    else:
        run.warn(f"model package {package_arn} has no ModelPackage artifact: approvals read from its actions",
                 f"ListArtifacts(SourceUri={package_arn})", "note")
        action_arns = [
            a["ActionArn"]
            for items in api.pages(run, "list_actions", "ActionSummaries", SourceUri=package_arn,
                                   ActionType="Approval")
            for a in items
        ]
        via = "ListActions(SourceUri=package)+DescribeAction"
    decisions = []
    for action_arn in action_arns:
        action = api.describe(run, api.client.describe_action, f"approval action {action_arn}",
                              ActionName=action_arn)
        if action is None:
            continue
        properties = action.get("Properties") or {}
        at = coerce(properties.get("ApprovalTime")) or coerce(action.get("CreationTime"))
        if at is None:
            run.warn(f"approval action {action_arn} has no time: not recorded", f"DescribeAction(ActionName={action_arn})")
            continue
        who = properties.get("ApprovedBy") or identity(action.get("CreatedBy"))
        if not who:
            run.warn(f"approval action {action_arn} names no approver", f"DescribeAction(ActionName={action_arn})")
        status = properties.get("ModelApprovalStatus")
        if not status:
            run.warn(f"approval action {action_arn} has no ModelApprovalStatus",
                     f"DescribeAction(ActionName={action_arn})")
        decisions.append({
            "status": status, "approver": person(who), "approverArn": who,
            "description": properties.get("ApprovalDescription") or action.get("Description"),
            "time": stamp(at), "at": at, "action": action_arn, "api": via,
        })
    if not decisions and package.get("ModelApprovalStatus"):
        run.warn(f"model package {package_arn} is {package['ModelApprovalStatus']} but no Approval action records it",
                 f"DescribeModelPackage(ModelPackageName={package_arn})")
    return sorted(decisions, key=lambda d: (d["at"], d["action"]))


__all__ = ["model_packages"]
