"""The lineage backend: artifacts, actions, contexts and associations of one account/region.

Contract: ``lineage_backend(sagemaker_backend)`` gives the ``LineageBackend`` that lives
inside moto's per-account/region SageMaker backend (in its instance ``__dict__``), so
``/moto-api/reset`` — which empties that ``__dict__`` and re-runs ``__init__`` — clears it
with everything else. ``LineageBackend`` has one method per lineage API action; each takes
the action's parameters already parsed by moto (snake_case keywords) and returns plain
dicts shaped like the action's output, or raises an error from ``exceptions``. It never
sees HTTP. Trial components are moto's own (``DescribeTrialComponent`` keeps working);
this backend only remembers the lineage ``Type`` of those it created for jobs.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from crossline_bed.sagemaker_lineage.exceptions import (
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)

if TYPE_CHECKING:
    from moto.sagemaker.models import SageMakerModelBackend

# AWS's documented ceilings on *manually created* lineage entities (developer guide,
# "Manually Create Tracking Entities" > Limits). Entities SageMaker creates itself are
# unlimited, so auto-created ones do not count.
LIMITS = {"Action": 3000, "Artifact": 6000, "Association": 6000, "Context": 500}
MAX_PROPERTIES = 30  # Properties map, all three entity kinds (API model: max 30)
MAX_LIST_RESULTS = 100
MAX_QUERY_RESULTS = 50
MAX_QUERY_DEPTH = 10
MAX_START_ARNS = 1

ASSOCIATION_TYPES = ("ContributedTo", "AssociatedWith", "DerivedFrom", "Produced", "SameAs")
LINEAGE_TYPES = ("TrialComponent", "Artifact", "Context", "Action")

# Name patterns from the API model (ArtifactName/ActionName, ContextName), anchored.
ARTIFACT_OR_ACTION_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$")
CONTEXT_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,119}$")
ENTITY_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12}):"
    r"(?P<kind>experiment|experiment-trial-component|artifact|action|context)/(?P<id>.+)$"
)
EXPERIMENT_KINDS = ("experiment", "experiment-trial", "experiment-trial-component")

# Who is calling: set per request by the response layer (from the request's access key),
# read when an entity records CreatedBy/LastModifiedBy. ``None`` outside a request.
CALLER: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "crossline_lineage_caller", default=None
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_datetime(value: Any) -> datetime | None:
    """A timestamp parameter as an aware datetime (moto may hand us a number or a datetime)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


def caller_context() -> dict[str, Any]:
    return dict(CALLER.get() or {})


@dataclass
class LineageEntity:
    """What artifacts, actions and contexts share."""

    lineage_type: ClassVar[str]
    arn: str
    name: str | None
    entity_type: str
    source: dict[str, Any]
    properties: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    metadata_properties: dict[str, str] | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    auto_created: bool = False
    creation_time: datetime = field(default_factory=utcnow)
    last_modified_time: datetime = field(default_factory=utcnow)
    created_by: dict[str, Any] = field(default_factory=caller_context)
    last_modified_by: dict[str, Any] = field(default_factory=caller_context)

    @property
    def source_uri(self) -> str:
        return str(self.source["SourceUri"])

    def touch(self) -> None:
        self.last_modified_time = utcnow()
        self.last_modified_by = caller_context()

    def update_properties(self, properties: dict[str, str] | None, remove: list[str] | None) -> None:
        merged = {**self.properties, **(properties or {})}
        for key in remove or []:
            merged.pop(key, None)
        check_properties(merged)
        self.properties = merged


@dataclass
class Artifact(LineageEntity):
    lineage_type: ClassVar[str] = "Artifact"

    def describe(self) -> dict[str, Any]:
        return _drop_none(
            {
                "ArtifactName": self.name,
                "ArtifactArn": self.arn,
                "Source": self.source,
                "ArtifactType": self.entity_type,
                "Properties": self.properties,
                "CreationTime": self.creation_time,
                "CreatedBy": self.created_by,
                "LastModifiedTime": self.last_modified_time,
                "LastModifiedBy": self.last_modified_by,
                "MetadataProperties": self.metadata_properties,
            }
        )

    def summary(self) -> dict[str, Any]:
        return _drop_none(
            {
                "ArtifactArn": self.arn,
                "ArtifactName": self.name,
                "Source": self.source,
                "ArtifactType": self.entity_type,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
            }
        )


@dataclass
class Action(LineageEntity):
    lineage_type: ClassVar[str] = "Action"
    status: str = "Unknown"

    def describe(self) -> dict[str, Any]:
        return _drop_none(
            {
                "ActionName": self.name,
                "ActionArn": self.arn,
                "Source": self.source,
                "ActionType": self.entity_type,
                "Description": self.description,
                "Status": self.status,
                "Properties": self.properties,
                "CreationTime": self.creation_time,
                "CreatedBy": self.created_by,
                "LastModifiedTime": self.last_modified_time,
                "LastModifiedBy": self.last_modified_by,
                "MetadataProperties": self.metadata_properties,
            }
        )

    def summary(self) -> dict[str, Any]:
        return _drop_none(
            {
                "ActionArn": self.arn,
                "ActionName": self.name,
                "Source": self.source,
                "ActionType": self.entity_type,
                "Status": self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
            }
        )


@dataclass
class Context(LineageEntity):
    lineage_type: ClassVar[str] = "Context"

    def describe(self) -> dict[str, Any]:
        return _drop_none(
            {
                "ContextName": self.name,
                "ContextArn": self.arn,
                "Source": self.source,
                "ContextType": self.entity_type,
                "Description": self.description,
                "Properties": self.properties,
                "CreationTime": self.creation_time,
                "CreatedBy": self.created_by,
                "LastModifiedTime": self.last_modified_time,
                "LastModifiedBy": self.last_modified_by,
            }
        )

    def summary(self) -> dict[str, Any]:
        return _drop_none(
            {
                "ContextArn": self.arn,
                "ContextName": self.name,
                "Source": self.source,
                "ContextType": self.entity_type,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
            }
        )


@dataclass
class Association:
    source_arn: str
    destination_arn: str
    association_type: str | None
    auto_created: bool = False
    creation_time: datetime = field(default_factory=utcnow)
    created_by: dict[str, Any] = field(default_factory=caller_context)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_arn, self.destination_arn)


@dataclass(frozen=True)
class Node:
    """Any entity an association may touch, as QueryLineage and ListAssociations see it."""

    arn: str
    lineage_type: str
    entity_type: str | None
    name: str | None
    creation_time: datetime | None
    last_modified_time: datetime | None
    properties: dict[str, str]


E = TypeVar("E", bound=LineageEntity)
T = TypeVar("T")


class LineageBackend:
    """Lineage entities of one account and region; one method per API action."""

    def __init__(self, sagemaker: SageMakerModelBackend) -> None:
        self.sagemaker = sagemaker
        self.account_id: str = sagemaker.account_id
        self.region_name: str = sagemaker.region_name
        self.artifacts: dict[str, Artifact] = {}  # by ARN
        self.actions: dict[str, Action] = {}  # by name
        self.contexts: dict[str, Context] = {}  # by name
        self.associations: dict[tuple[str, str], Association] = {}
        self.trial_component_types: dict[str, str] = {}  # TC ARN -> lineage Type
        self._artifact_by_uri: dict[str, str] = {}  # SourceUri -> ARN (one per SourceUri)
        self._manual: dict[str, int] = dict.fromkeys(LIMITS, 0)  # counts against LIMITS

    # ---- ARNs -------------------------------------------------------------------
    def arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:{kind}/{resource_id}"

    # ---- Artifacts ----------------------------------------------------------------
    def create_artifact(
        self,
        source: dict[str, Any],
        artifact_type: str,
        artifact_name: str | None = None,
        properties: dict[str, str] | None = None,
        metadata_properties: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        auto_created: bool = False,
    ) -> Artifact:
        check_name(artifact_name, ARTIFACT_OR_ACTION_NAME, "artifactName")
        check_properties(properties)
        existing = self.artifact_by_source_uri(source["SourceUri"])
        if existing is not None:
            # "there can be only one artifact with a unique SourceUri"
            raise ValidationException(
                f"Artifact with SourceUri {source['SourceUri']} already exists: {existing.arn}"
            )
        self._claim("Artifact", auto_created)
        artifact = Artifact(
            arn=self.arn("artifact", uuid.uuid4().hex),
            name=artifact_name,
            entity_type=artifact_type,
            source=_drop_none(dict(source)),
            properties=dict(properties or {}),
            metadata_properties=metadata_properties,
            tags=list(tags or []),
            auto_created=auto_created,
        )
        self.artifacts[artifact.arn] = artifact
        self._artifact_by_uri[artifact.source_uri] = artifact.arn
        return artifact

    def describe_artifact(self, artifact_arn: str) -> dict[str, Any]:
        return self.get_artifact(artifact_arn).describe()

    def update_artifact(
        self,
        artifact_arn: str,
        artifact_name: str | None = None,
        properties: dict[str, str] | None = None,
        properties_to_remove: list[str] | None = None,
    ) -> str:
        artifact = self.get_artifact(artifact_arn)
        check_name(artifact_name, ARTIFACT_OR_ACTION_NAME, "artifactName")
        artifact.update_properties(properties, properties_to_remove)
        if artifact_name is not None:
            artifact.name = artifact_name
        artifact.touch()
        return artifact.arn

    def delete_artifact(
        self, artifact_arn: str | None = None, source: dict[str, Any] | None = None
    ) -> str:
        if artifact_arn:
            artifact = self.get_artifact(artifact_arn)
        elif source:
            found = self.artifact_by_source_uri(source["SourceUri"])
            if found is None:
                raise ResourceNotFound(f"Artifact with SourceUri {source['SourceUri']} does not exist")
            artifact = found
        else:
            raise ValidationException("Either ArtifactArn or Source must be specified")
        del self.artifacts[artifact.arn]
        del self._artifact_by_uri[artifact.source_uri]
        self._release("Artifact", artifact.auto_created)
        self._drop_associations_of(artifact.arn)
        return artifact.arn

    def list_artifacts(
        self,
        source_uri: str | None = None,
        artifact_type: str | None = None,
        created_after: Any = None,
        created_before: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self._list_page(
            self.artifacts.values(), source_uri, artifact_type, created_after, created_before,
            sort_by, sort_order, next_token, max_results,
        )

    def get_artifact(self, artifact_arn: str) -> Artifact:
        artifact = self.artifacts.get(artifact_arn)
        if artifact is None:
            raise ResourceNotFound(f"Artifact {artifact_arn} does not exist")
        return artifact

    def artifact_by_source_uri(self, source_uri: str) -> Artifact | None:
        arn = self._artifact_by_uri.get(source_uri)
        return self.artifacts[arn] if arn is not None else None

    # ---- Actions ------------------------------------------------------------------
    def create_action(
        self,
        action_name: str,
        source: dict[str, Any],
        action_type: str,
        description: str | None = None,
        status: str | None = None,
        properties: dict[str, str] | None = None,
        metadata_properties: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        auto_created: bool = False,
    ) -> Action:
        check_name(action_name, ARTIFACT_OR_ACTION_NAME, "actionName")
        check_properties(properties)
        if action_name in self.actions:
            raise ValidationException(f"Action {self.arn('action', action_name)} already exists")
        self._claim("Action", auto_created)
        action = Action(
            arn=self.arn("action", action_name),
            name=action_name,
            entity_type=action_type,
            source=_drop_none(dict(source)),
            description=description,
            status=status or "Unknown",
            properties=dict(properties or {}),
            metadata_properties=metadata_properties,
            tags=list(tags or []),
            auto_created=auto_created,
        )
        self.actions[action_name] = action
        return action

    def describe_action(self, action_name: str) -> dict[str, Any]:
        return self.get_action(action_name).describe()

    def update_action(
        self,
        action_name: str,
        description: str | None = None,
        status: str | None = None,
        properties: dict[str, str] | None = None,
        properties_to_remove: list[str] | None = None,
    ) -> str:
        action = self.get_action(action_name)
        action.update_properties(properties, properties_to_remove)
        if description is not None:
            action.description = description
        if status is not None:
            action.status = status
        action.touch()
        return action.arn

    def delete_action(self, action_name: str) -> str:
        action = self.get_action(action_name)
        del self.actions[action.name or ""]
        self._release("Action", action.auto_created)
        self._drop_associations_of(action.arn)
        return action.arn

    def list_actions(
        self,
        source_uri: str | None = None,
        action_type: str | None = None,
        created_after: Any = None,
        created_before: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self._list_page(
            self.actions.values(), source_uri, action_type, created_after, created_before,
            sort_by, sort_order, next_token, max_results,
        )

    def get_action(self, action_name: str) -> Action:
        action = self.actions.get(_name_from(action_name, "action"))
        if action is None:
            raise ResourceNotFound(f"Action {self.arn('action', _name_from(action_name, 'action'))} does not exist")
        return action

    # ---- Contexts -----------------------------------------------------------------
    def create_context(
        self,
        context_name: str,
        source: dict[str, Any],
        context_type: str,
        description: str | None = None,
        properties: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        auto_created: bool = False,
    ) -> Context:
        check_name(context_name, CONTEXT_NAME, "contextName")
        check_properties(properties)
        if context_name in self.contexts:
            raise ValidationException(f"Context {self.arn('context', context_name)} already exists")
        self._claim("Context", auto_created)
        context = Context(
            arn=self.arn("context", context_name),
            name=context_name,
            entity_type=context_type,
            source=_drop_none(dict(source)),
            description=description,
            properties=dict(properties or {}),
            tags=list(tags or []),
            auto_created=auto_created,
        )
        self.contexts[context_name] = context
        return context

    def describe_context(self, context_name: str) -> dict[str, Any]:
        return self.get_context(context_name).describe()

    def update_context(
        self,
        context_name: str,
        description: str | None = None,
        properties: dict[str, str] | None = None,
        properties_to_remove: list[str] | None = None,
    ) -> str:
        context = self.get_context(context_name)
        context.update_properties(properties, properties_to_remove)
        if description is not None:
            context.description = description
        context.touch()
        return context.arn

    def delete_context(self, context_name: str) -> str:
        context = self.get_context(context_name)
        del self.contexts[context.name or ""]
        self._release("Context", context.auto_created)
        self._drop_associations_of(context.arn)
        return context.arn

    def list_contexts(
        self,
        source_uri: str | None = None,
        context_type: str | None = None,
        created_after: Any = None,
        created_before: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self._list_page(
            self.contexts.values(), source_uri, context_type, created_after, created_before,
            sort_by, sort_order, next_token, max_results,
        )

    def get_context(self, context_name: str) -> Context:
        context = self.contexts.get(_name_from(context_name, "context"))
        if context is None:
            raise ResourceNotFound(
                f"Context {self.arn('context', _name_from(context_name, 'context'))} does not exist"
            )
        return context

    def context_by_source_uri(self, source_uri: str, context_type: str) -> Context | None:
        return next(
            (
                c
                for c in self.contexts.values()
                if c.source_uri == source_uri and c.entity_type == context_type
            ),
            None,
        )

    # ---- Associations -------------------------------------------------------------
    def add_association(
        self,
        source_arn: str,
        destination_arn: str,
        association_type: str | None = None,
        auto_created: bool = False,
    ) -> Association:
        source = self.node(source_arn)
        destination = self.node(destination_arn)
        if source.lineage_type in ("Experiment", "Trial", "TrialComponent") and (
            destination.lineage_type in ("Experiment", "Trial", "TrialComponent")
        ):
            raise ValidationException(
                "An association can't be created between two experiment entities"
            )
        if association_type is not None and association_type not in ASSOCIATION_TYPES:
            raise ValidationException(
                f"Value '{association_type}' at 'associationType' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(ASSOCIATION_TYPES)}]"
            )
        if (source_arn, destination_arn) in self.associations:
            raise ValidationException(
                f"Association between {source_arn} and {destination_arn} already exists"
            )
        self._claim("Association", auto_created)
        association = Association(source_arn, destination_arn, association_type, auto_created)
        self.associations[association.key] = association
        return association

    def ensure_association(self, source_arn: str, destination_arn: str, association_type: str) -> None:
        """Auto-creation's idempotent AddAssociation (SageMaker reuses what exists)."""
        if (source_arn, destination_arn) not in self.associations:
            self.add_association(source_arn, destination_arn, association_type, auto_created=True)

    def delete_association(self, source_arn: str, destination_arn: str) -> tuple[str, str]:
        association = self.associations.pop((source_arn, destination_arn), None)
        if association is None:
            raise ResourceNotFound(
                f"Association between {source_arn} and {destination_arn} does not exist"
            )
        self._release("Association", association.auto_created)
        return source_arn, destination_arn

    def list_associations(
        self,
        source_arn: str | None = None,
        destination_arn: str | None = None,
        source_type: str | None = None,
        destination_type: str | None = None,
        association_type: str | None = None,
        created_after: Any = None,
        created_before: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        after, before = as_datetime(created_after), as_datetime(created_before)
        rows: list[dict[str, Any]] = []
        for association in self.associations.values():
            if source_arn and association.source_arn != source_arn:
                continue
            if destination_arn and association.destination_arn != destination_arn:
                continue
            if association_type and association.association_type != association_type:
                continue
            if after and association.creation_time <= after:
                continue
            if before and association.creation_time >= before:
                continue
            source = self.find_node(association.source_arn)
            destination = self.find_node(association.destination_arn)
            if source_type and (source is None or source.entity_type != source_type):
                continue
            if destination_type and (destination is None or destination.entity_type != destination_type):
                continue
            rows.append(
                _drop_none(
                    {
                        "SourceArn": association.source_arn,
                        "DestinationArn": association.destination_arn,
                        "SourceType": source.entity_type if source else None,
                        "DestinationType": destination.entity_type if destination else None,
                        "AssociationType": association.association_type,
                        "SourceName": source.name if source else None,
                        "DestinationName": destination.name if destination else None,
                        "CreationTime": association.creation_time,
                        "CreatedBy": association.created_by,
                    }
                )
            )
        ordered = _sort(rows, sort_by or "CreationTime", sort_order, _association_sort_key)
        return paginate(
            ordered,
            next_token,
            max_results,
            MAX_LIST_RESULTS,
            (
                source_arn,
                destination_arn,
                source_type,
                destination_type,
                association_type,
                str(created_after),
                str(created_before),
                sort_by,
                sort_order,
            ),
        )

    # ---- Nodes (any entity an association can touch) --------------------------------
    def find_node(self, arn: str) -> Node | None:
        match = ENTITY_ARN.match(arn)
        if match is None:
            return None
        if match["account"] != self.account_id or match["region"] != self.region_name:
            return None
        kind, resource_id = match["kind"], match["id"]
        entity: LineageEntity | None = None
        if kind == "artifact":
            entity = self.artifacts.get(arn)
        elif kind == "action":
            entity = self.actions.get(resource_id)
        elif kind == "context":
            entity = self.contexts.get(resource_id)
        if entity is not None:
            return Node(
                arn=entity.arn,
                lineage_type=entity.lineage_type,
                entity_type=entity.entity_type,
                name=entity.name,
                creation_time=entity.creation_time,
                last_modified_time=entity.last_modified_time,
                properties=entity.properties,
            )
        if kind == "experiment-trial-component":
            component = self.sagemaker.trial_components.get(resource_id)
            if component is None:
                return None
            return Node(
                arn=component.arn,
                lineage_type="TrialComponent",
                entity_type=self.trial_component_types.get(component.arn),
                name=component.trial_component_name,
                creation_time=component.creation_time,
                last_modified_time=component.last_modified_time,
                properties={},
            )
        if kind == "experiment":
            experiment = self.sagemaker.experiments.get(resource_id)
            if experiment is None:
                return None
            return Node(
                arn=experiment.arn,
                lineage_type="Experiment",
                entity_type=None,
                name=experiment.experiment_name,
                creation_time=None,
                last_modified_time=None,
                properties={},
            )
        return None

    def node(self, arn: str) -> Node:
        if ENTITY_ARN.match(arn) is None:
            raise ValidationException(
                f"Value '{arn}' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:"
                "(experiment|experiment-trial-component|artifact|action|context)/.*"
            )
        found = self.find_node(arn)
        if found is None:
            raise ResourceNotFound(f"{arn} does not exist")
        return found

    def edges_into(self, arn: str) -> Iterable[Association]:
        return (a for a in self.associations.values() if a.destination_arn == arn)

    def edges_out_of(self, arn: str) -> Iterable[Association]:
        return (a for a in self.associations.values() if a.source_arn == arn)

    # ---- helpers --------------------------------------------------------------------
    def _claim(self, kind: str, auto_created: bool) -> None:
        """Count one more manually created entity of this kind, or refuse past AWS's limit."""
        if auto_created:
            return
        manual = self._manual[kind]
        if manual >= LIMITS[kind]:
            raise ResourceLimitExceeded(
                f"The account-level service limit 'Maximum number of {kind.lower()}s' is "
                f"{LIMITS[kind]} {kind}s, with current utilization of {manual} {kind}s. "
                "Please contact AWS support to request an increase for this limit."
            )
        self._manual[kind] = manual + 1

    def _release(self, kind: str, auto_created: bool) -> None:
        if not auto_created:
            self._manual[kind] -= 1

    def _drop_associations_of(self, arn: str) -> None:
        for key in [k for k in self.associations if arn in k]:
            self._release("Association", self.associations.pop(key).auto_created)

    def _list_page(
        self,
        entities: Iterable[Any],
        source_uri: str | None,
        entity_type: str | None,
        created_after: Any,
        created_before: Any,
        sort_by: str | None,
        sort_order: str | None,
        next_token: str | None,
        max_results: int | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of List{Artifacts,Actions,Contexts}: filter, sort, paginate, summarise."""
        selected = self._select(entities, source_uri, entity_type, created_after, created_before)
        ordered = _sort(selected, sort_by or "CreationTime", sort_order, _entity_sort_key)
        page, token = paginate(
            ordered,
            next_token,
            max_results,
            MAX_LIST_RESULTS,
            (source_uri, entity_type, str(created_after), str(created_before), sort_by, sort_order),
        )
        return [entity.summary() for entity in page], token

    @staticmethod
    def _select(
        entities: Iterable[E],
        source_uri: str | None,
        entity_type: str | None,
        created_after: Any,
        created_before: Any,
    ) -> list[E]:
        after, before = as_datetime(created_after), as_datetime(created_before)
        return [
            e
            for e in entities
            if (source_uri is None or e.source_uri == source_uri)
            and (entity_type is None or e.entity_type == entity_type)
            and (after is None or e.creation_time > after)
            and (before is None or e.creation_time < before)
        ]


def lineage_backend(sagemaker: SageMakerModelBackend) -> LineageBackend:
    """The lineage backend living inside this moto SageMaker backend (cleared on reset)."""
    backend = sagemaker.__dict__.get("_crossline_lineage")
    if backend is None:
        backend = LineageBackend(sagemaker)
        sagemaker.__dict__["_crossline_lineage"] = backend
    return backend


# ---- validation ---------------------------------------------------------------------
def check_name(name: str | None, pattern: re.Pattern[str], param: str) -> None:
    if name is not None and not pattern.match(name):
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at '{param}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {pattern.pattern.strip('^$')}"
        )


def check_properties(properties: dict[str, str] | None) -> None:
    if properties is not None and len(properties) > MAX_PROPERTIES:
        raise ValidationException(
            f"1 validation error detected: Value at 'properties' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PROPERTIES}"
        )


def check_range(value: int | None, param: str, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{param}' failed to satisfy "
            f"constraint: Member must have value between {low} and {high}"
        )


# ---- pagination -----------------------------------------------------------------------
def paginate(
    items: Sequence[T],
    next_token: str | None,
    max_results: int | None,
    ceiling: int,
    request_fingerprint: Any,
) -> tuple[list[T], str | None]:
    """Offset pagination with an opaque token bound to the request's filters.

    A token from a different request, or one that is not ours, is a ValidationException,
    as AWS answers for a bad NextToken.
    """
    check_range(max_results, "maxResults", 1, ceiling)
    limit = max_results or ceiling
    fingerprint = hashlib.sha256(json.dumps(request_fingerprint, default=str).encode()).hexdigest()[:16]
    offset = decode_token(next_token, fingerprint) if next_token else 0
    page = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return page, encode_token(offset + limit, fingerprint) if more else None


def encode_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, fingerprint: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(decoded["o"])
        if decoded["f"] != fingerprint or offset < 0:
            raise ValueError("token from another request")
    except (ValueError, KeyError, TypeError) as err:
        raise ValidationException("Invalid pagination token because it is malformed or expired") from err
    return offset


# ---- small helpers ----------------------------------------------------------------------
def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _name_from(name_or_arn: str, kind: str) -> str:
    prefix = f":{kind}/"
    return name_or_arn.split(prefix, 1)[1] if name_or_arn.startswith("arn:") and prefix in name_or_arn else name_or_arn


def _entity_sort_key(entity: LineageEntity, field_name: str) -> tuple[Any, ...]:
    if field_name == "Name":
        return (entity.name or "", entity.creation_time)
    return (entity.creation_time, entity.name or entity.arn)


def _sort(
    items: list[T], field_name: str, order: str | None, key: Callable[[T, str], Any]
) -> list[T]:
    # AWS's documented default order for these lists is Descending.
    return sorted(items, key=lambda item: key(item, field_name), reverse=(order != "Ascending"))


def _association_sort_key(row: dict[str, Any], field_name: str) -> tuple[Any, ...]:
    tiebreak = (row["CreationTime"], row["SourceArn"], row["DestinationArn"])
    if field_name == "CreationTime":
        return tiebreak
    return (str(row.get(field_name, "")), *tiebreak)
