"""What every SageMaker processor shares: one read's state, the API calls, and value helpers.

Contract:
- ``Run`` is one read: the batch being filled (one record per id), the newest
  CreationTime/LastModifiedTime seen (``hold`` keeps the watermark before something
  still changing, e.g. a pipeline execution still running), whether every list call
  succeeded, and the report. ``source`` is the source its records are stamped with. ``Run.changed(*times)`` says whether an entity changed strictly after the
  watermark (and remembers the newest time); ``flush()`` hands over the pending batch
  with the watermark unchanged, since only the read's last batch may move it.
- ``Api`` makes the calls: ``pages`` lists through the operation's paginator (a
  ``ClientError`` is a warning and raises ``ListFailed``, which stops that processor and
  holds the watermark); ``describe`` calls one describe method (a ``ClientError`` is a
  warning and ``None``, and holds the watermark unless the entity is gone); ``first`` is
  a list's first item. A ``BotoCoreError`` (AWS unreachable) is a ``SourceError``.
- A processor is ``fn(api, run) -> Iterator[Batch]``, one per entity kind, in the
  modules ``lineage``, ``jobs``, ``registry``, ``endpoints`` and ``pipelines``. ``Api``
  and ``Run`` also serve the Glue Data Catalog and Feature Store sources (``service``
  names the service in "unreachable" errors).
- A record's fact time (``at``, what the store merges by) is, unless the processor gives
  one or a ``valid_from``: its ``lastModifiedTime`` prop, else its ``creationTime``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from crossline.collectors import aws
from crossline.collectors.log import CollectWarning
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId
from crossline.collectors.sources import Batch
from crossline.emitters.naming import parse_arn
from crossline.errors import InvalidEvent, SourceError
from crossline.redact import redact
from crossline.times import coerce, stamp

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

SOURCE = "sagemaker"


@dataclass
class SageMakerReport:
    """What a read did: per kind, entities scanned and records emitted, and every warning."""

    scanned: Counter[str] = field(default_factory=Counter)
    emitted: Counter[str] = field(default_factory=Counter)
    warnings: list[CollectWarning] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"scanned": dict(self.scanned), "emitted": dict(self.emitted),
                "warnings": [w.as_dict() for w in self.warnings]}


class ListFailed(Exception):
    """A list call failed; the processor stops and the run holds its watermark."""


@dataclass
class Run:
    """One read: its pending batch, the newest time seen, and whether every list succeeded."""

    since: datetime | None
    since_text: str | None
    report: SageMakerReport
    source: str = SOURCE  # the source its records are stamped with (the Glue catalog and Feature Store reuse Run)
    newest: datetime | None = None
    held: datetime | None = None  # the watermark may not pass this (something seen is still changing)
    complete: bool = True
    batch: Batch = field(default_factory=Batch)
    ids: set[tuple[str, ...]] = field(default_factory=set)

    def changed(self, *times: Any) -> bool:
        """Seen, and changed strictly after the watermark."""
        stamps = [m for m in (coerce(t) for t in times) if m is not None]
        if not stamps:
            return self.since is None
        latest = max(stamps)
        if self.newest is None or latest > self.newest:
            self.newest = latest
        return self.since is None or latest > self.since

    def hold(self, moment: datetime) -> None:
        """Keep the watermark at or before ``moment``: what started then is still changing."""
        self.held = moment if self.held is None else min(self.held, moment)

    def watermark(self) -> datetime | None:
        """The newest time seen, held back by ``hold``; None when nothing was seen."""
        if self.newest is None or self.held is None:
            return self.newest
        return min(self.newest, self.held)

    def scan(self, kind: str, count: int = 1) -> None:
        self.report.scanned[kind] += count
        self.batch.scanned += count

    def warn(self, why: str, where: str, kind: str = "unusable") -> None:
        """A warning: ``where`` is the API call (``DescribeAction(ActionName=...)``) or entity it is about."""
        warning = CollectWarning(self.source, where, why, kind)
        self.report.warnings.append(warning)
        self.batch.warnings.append(warning)

    def node(self, node: Node) -> None:
        if ("n", node.id) not in self.ids:  # one record per id in a batch
            self.ids.add(("n", node.id))
            self.batch.nodes.append(_timed(replace(node, props=redact(node.props))))  # e.g. secret hyperparameters
            self.report.emitted[node.kind.value] += 1

    def edge(self, edge: Edge) -> None:
        if ("e", *edge.key) not in self.ids:
            self.ids.add(("e", *edge.key))
            self.batch.edges.append(_timed(edge))
            self.report.emitted[edge.kind.value] += 1

    def same_as(self, a: str, b: str, rule: str, evidence: dict[str, Any]) -> None:
        props = {"rule": rule, "evidence": evidence}
        self.edge(Edge(NodeId(a), NodeId(b), EdgeKind.SAME_AS, self.source, props))
        self.edge(Edge(NodeId(b), NodeId(a), EdgeKind.SAME_AS, self.source, props))

    def flush(self) -> Batch | None:
        """The pending batch (watermark unchanged), or None if it holds nothing."""
        batch = self.batch
        if not (batch.nodes or batch.edges or batch.scanned or batch.warnings):
            return None
        batch.watermark = self.since_text
        self.batch, self.ids = Batch(), set()
        return batch


def _timed(record: Any) -> Any:
    """The record with its fact time: as given, else its valid_from, else lastModifiedTime/creationTime."""
    if record.at is not None or record.valid_from is not None:
        return record
    at = coerce(record.props.get("lastModifiedTime")) or coerce(record.props.get("creationTime"))
    return replace(record, at=at) if at is not None else record


class Api:
    """The SageMaker calls processors make, with the error handling of the module docstring."""

    def __init__(self, client: Callable[[], SageMakerClient], page_size: int, service: str = "SageMaker") -> None:
        self._client = client
        self.page_size = page_size
        self.service = service  # named when it cannot be reached (the Glue catalog source reuses Api)

    @property
    def client(self) -> SageMakerClient:
        return self._client()

    def pages(self, run: Run, operation: str, key: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """The items of each page of a list call, through its paginator."""
        params = {k: v for k, v in params.items() if v is not None}
        try:
            paginator = self.client.get_paginator(operation)  # type: ignore[call-overload]
            for page in paginator.paginate(**params, PaginationConfig={"PageSize": self.page_size}):
                yield page.get(key, [])
        except ClientError as err:
            run.warn(f"failed: {aws.error_text(err)}; the watermark stays", api_call(operation, params), "unavailable")
            raise ListFailed from err
        except BotoCoreError as err:
            raise aws.unreachable(err, f"during {operation}", self.service) from err

    def describe(self, run: Run, call: Callable[..., Any], what: str, **params: Any) -> dict[str, Any] | None:
        """One describe call; an error is a warning (and holds the watermark unless the entity is gone)."""
        try:
            return call(**params)  # type: ignore[no-any-return]
        except ClientError as err:
            gone = aws.gone(err)
            if not gone:
                run.complete = False
            run.warn(f"{what}: {aws.error_text(err)}" + (" (gone since it was listed)" if gone else ""),
                     api_call(getattr(call, "__name__", "describe"), params), "note" if gone else "unavailable")
            return None
        except BotoCoreError as err:
            raise aws.unreachable(err, f"describing {what}", self.service) from err

    def first(self, run: Run, operation: str, key: str, **params: Any) -> dict[str, Any] | None:
        for items in self.pages(run, operation, key, **params):
            if items:
                return items[0]
        return None


# -- values ------------------------------------------------------------------------------
def parse_watermark(since: str | None) -> datetime | None:
    if since is None:
        return None
    moment = coerce(since) if isinstance(since, str) else None
    if moment is None:
        raise SourceError(f"sagemaker watermark is not an ISO time: {since!r}")
    return moment


def iso(moment: Any) -> str | None:
    """A time from boto3 (local zone) or a record, as the graph stores it."""
    return stamp(coerce(moment))


def identity(who: dict[str, Any] | None) -> str | None:
    """The caller of a CreatedBy/LastModifiedBy: IAM ARN, else the Studio user profile."""
    if not who:
        return None
    return (who.get("IamIdentity") or {}).get("Arn") or who.get("UserProfileName") or who.get("UserProfileArn")


def person(arn: str | None) -> str | None:
    """Who an IAM ARN is: an assumed role's session name (the person), an IAM user's name, else the ARN."""
    if not arn:
        return None
    try:
        parts = parse_arn(arn)
    except InvalidEvent:
        return arn
    if parts.resource_type in ("assumed-role", "user", "federated-user"):
        return parts.resource_id.rsplit("/", 1)[-1]
    return arn


def is_arn(text: str, resource_type: str) -> bool:
    try:
        parts = parse_arn(text)
    except InvalidEvent:
        return False
    return parts.service == "sagemaker" and parts.resource_type == resource_type


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


def short(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def api_call(operation: str, params: dict[str, Any]) -> str:
    """An API call as a warning names it: ``DescribeAction(ActionName=arn:...)``."""
    name = "".join(part.capitalize() for part in operation.split("_"))
    return f"{name}({short(params)})"
