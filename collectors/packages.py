"""A model package in either system's records: SageMaker's MODEL_PACKAGE node, or the OpenLineage dataset named from its ARN.

Contract: ``is_package(node)`` says whether a node is one (a MODEL_PACKAGE, or a DATASET
with a ``modelPackageArn`` prop or a ``crossline_modelPackage`` facet); ``package_facts``
gives its ARN, group, version and model data URL from whichever record it is: the
registry's props, else the facet, else (when only a deployment facet named it) the
group and version its ARN spells. The trace and the impact query read packages here.
"""

from __future__ import annotations

from typing import Any

from crossline.collectors.model import Node, NodeKind
from crossline.collectors.openlineage import MODEL_PACKAGE_FACET, facet
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent


def is_package(node: Node | None) -> bool:
    """A model package: SageMaker's, or the OpenLineage dataset named from its ARN."""
    if node is None:
        return False
    if node.kind is NodeKind.MODEL_PACKAGE:
        return True
    return node.kind is NodeKind.DATASET and (bool(node.props.get("modelPackageArn")) or facet(node, MODEL_PACKAGE_FACET) is not None)


def package_facts(node: Node) -> dict[str, Any]:
    """arn, group, version and modelDataUrl of a package node of either side."""
    if node.kind is NodeKind.MODEL_PACKAGE:
        p = node.props
        return {"modelPackageArn": str(node.id), "group": p.get("group"), "version": p.get("version"),
                "modelDataUrl": p.get("modelDataUrl")}
    f = facet(node, MODEL_PACKAGE_FACET) or {}
    arn = node.props.get("modelPackageArn") or f.get("arn")
    group, version = f.get("group"), f.get("version")
    if group is None and isinstance(arn, str):  # only a deployment named it: the ARN says group/version
        try:
            named, _, number = parse_arn(arn).resource_id.rpartition("/")
            group, version = named or None, int(number) if number.isdigit() else None
        except InvalidEvent:
            pass
    return {"modelPackageArn": arn, "group": group, "version": version, "modelDataUrl": f.get("modelDataUrl")}


__all__ = ["is_package", "package_facts"]
