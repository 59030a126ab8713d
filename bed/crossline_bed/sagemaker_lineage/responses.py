"""The wire side: lineage actions as methods of moto's ``SageMakerResponse``.

Contract: ``LineageResponses`` holds one method per lineage action, named in snake_case
as moto dispatches them (``CreateArtifact`` -> ``create_artifact``). ``install()`` in the
package copies them onto ``SageMakerResponse``. Each reads its parameters with moto's
``_get_param`` (moto parses the JSON body against botocore's input shape), calls the
``LineageBackend`` of the request's account and region, and returns an ``ActionResult``
that moto serializes against botocore's output shape. ``call_action_with_caller`` wraps
moto's dispatcher so that the backend knows who is calling (for CreatedBy, approvals).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from moto.core.responses import ActionResult

from crossline_bed.sagemaker_lineage.models import CALLER, LineageBackend, lineage_backend
from crossline_bed.sagemaker_lineage.query import query_lineage

if TYPE_CHECKING:
    from moto.sagemaker.responses import SageMakerResponse


def _backend(response: SageMakerResponse) -> LineageBackend:
    return lineage_backend(response.sagemaker_backend)


def _params(response: SageMakerResponse, *names: str) -> dict[str, Any]:
    """The named request parameters that were sent, as snake_case keywords."""
    from moto.core.utils import camelcase_to_underscores

    values = {camelcase_to_underscores(name): response._get_param(name) for name in names}
    return {key: value for key, value in values.items() if value is not None}


def caller_of(response: SageMakerResponse) -> dict[str, Any]:
    """The UserContext SageMaker records for this request's caller."""
    from moto.sts.models import sts_backends

    partition = "aws"
    sts = sts_backends[response.current_account][partition]
    principal_id, arn, _ = sts.get_caller_identity(response.access_key, response.region)
    return {"IamIdentity": {"Arn": arn, "PrincipalId": principal_id}}


def call_action_with_caller(call_action: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(call_action)
    def wrapper(self: SageMakerResponse) -> Any:
        token = CALLER.set(caller_of(self))
        try:
            return call_action(self)
        finally:
            CALLER.reset(token)

    return wrapper


class LineageResponses:
    """Mixin of response methods; never instantiated on its own."""

    # ---- artifacts ----
    def create_artifact(self: Any) -> ActionResult:
        params = _params(
            self, "ArtifactName", "Source", "ArtifactType", "Properties", "MetadataProperties", "Tags"
        )
        artifact = _backend(self).create_artifact(**params)
        return ActionResult({"ArtifactArn": artifact.arn})

    def describe_artifact(self: Any) -> ActionResult:
        return ActionResult(_backend(self).describe_artifact(self._get_param("ArtifactArn")))

    def update_artifact(self: Any) -> ActionResult:
        params = _params(self, "ArtifactArn", "ArtifactName", "Properties", "PropertiesToRemove")
        return ActionResult({"ArtifactArn": _backend(self).update_artifact(**params)})

    def delete_artifact(self: Any) -> ActionResult:
        params = _params(self, "ArtifactArn", "Source")
        return ActionResult({"ArtifactArn": _backend(self).delete_artifact(**params)})

    def list_artifacts(self: Any) -> ActionResult:
        params = _params(
            self,
            "SourceUri",
            "ArtifactType",
            "CreatedAfter",
            "CreatedBefore",
            "SortBy",
            "SortOrder",
            "NextToken",
            "MaxResults",
        )
        summaries, token = _backend(self).list_artifacts(**params)
        return ActionResult(_page("ArtifactSummaries", summaries, token))

    # ---- actions ----
    def create_action(self: Any) -> ActionResult:
        params = _params(
            self,
            "ActionName",
            "Source",
            "ActionType",
            "Description",
            "Status",
            "Properties",
            "MetadataProperties",
            "Tags",
        )
        return ActionResult({"ActionArn": _backend(self).create_action(**params).arn})

    def describe_action(self: Any) -> ActionResult:
        return ActionResult(_backend(self).describe_action(self._get_param("ActionName")))

    def update_action(self: Any) -> ActionResult:
        params = _params(
            self, "ActionName", "Description", "Status", "Properties", "PropertiesToRemove"
        )
        return ActionResult({"ActionArn": _backend(self).update_action(**params)})

    def delete_action(self: Any) -> ActionResult:
        return ActionResult({"ActionArn": _backend(self).delete_action(self._get_param("ActionName"))})

    def list_actions(self: Any) -> ActionResult:
        params = _params(
            self,
            "SourceUri",
            "ActionType",
            "CreatedAfter",
            "CreatedBefore",
            "SortBy",
            "SortOrder",
            "NextToken",
            "MaxResults",
        )
        summaries, token = _backend(self).list_actions(**params)
        return ActionResult(_page("ActionSummaries", summaries, token))

    # ---- contexts ----
    def create_context(self: Any) -> ActionResult:
        params = _params(
            self, "ContextName", "Source", "ContextType", "Description", "Properties", "Tags"
        )
        return ActionResult({"ContextArn": _backend(self).create_context(**params).arn})

    def describe_context(self: Any) -> ActionResult:
        return ActionResult(_backend(self).describe_context(self._get_param("ContextName")))

    def update_context(self: Any) -> ActionResult:
        params = _params(self, "ContextName", "Description", "Properties", "PropertiesToRemove")
        return ActionResult({"ContextArn": _backend(self).update_context(**params)})

    def delete_context(self: Any) -> ActionResult:
        return ActionResult(
            {"ContextArn": _backend(self).delete_context(self._get_param("ContextName"))}
        )

    def list_contexts(self: Any) -> ActionResult:
        params = _params(
            self,
            "SourceUri",
            "ContextType",
            "CreatedAfter",
            "CreatedBefore",
            "SortBy",
            "SortOrder",
            "NextToken",
            "MaxResults",
        )
        summaries, token = _backend(self).list_contexts(**params)
        return ActionResult(_page("ContextSummaries", summaries, token))

    # ---- associations ----
    def add_association(self: Any) -> ActionResult:
        params = _params(self, "SourceArn", "DestinationArn", "AssociationType")
        association = _backend(self).add_association(**params)
        return ActionResult(
            {"SourceArn": association.source_arn, "DestinationArn": association.destination_arn}
        )

    def delete_association(self: Any) -> ActionResult:
        source, destination = _backend(self).delete_association(
            self._get_param("SourceArn"), self._get_param("DestinationArn")
        )
        return ActionResult({"SourceArn": source, "DestinationArn": destination})

    def list_associations(self: Any) -> ActionResult:
        params = _params(
            self,
            "SourceArn",
            "DestinationArn",
            "SourceType",
            "DestinationType",
            "AssociationType",
            "CreatedAfter",
            "CreatedBefore",
            "SortBy",
            "SortOrder",
            "NextToken",
            "MaxResults",
        )
        summaries, token = _backend(self).list_associations(**params)
        return ActionResult(_page("AssociationSummaries", summaries, token))

    # ---- query ----
    def query_lineage(self: Any) -> ActionResult:
        params = _params(
            self,
            "StartArns",
            "Direction",
            "IncludeEdges",
            "Filters",
            "MaxDepth",
            "MaxResults",
            "NextToken",
        )
        return ActionResult(query_lineage(_backend(self), **params))


ACTION_METHODS = [
    name for name, value in vars(LineageResponses).items() if callable(value) and not name.startswith("_")
]


def _page(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {key: items}
    if token:
        page["NextToken"] = token
    return page
