"""``feature-store``: SageMaker Feature Store's feature groups, their offline stores and Glue tables.

Contract: ``FeatureStoreSource.read(since)`` lists every feature group (``ListFeatureGroups``
through its paginator), describes each one that changed after the watermark, and yields
one ``Batch`` per page:

- a ``FEATURE_GROUP`` node, id ``dataset_id`` of its ARN (the id OpenLineage's
  ``crossline_featureSnapshot`` facet gives the same group, so both sides meet on one
  node). Props: ``arn``, record identifier and event time features, feature
  definitions, status, the offline store (``offlineStoreUri``: the resolved S3 URI the
  group writes to; the configured ``S3Uri``; the Glue table), whether an online store
  is on, times;
- the offline store as an S3 ``DATASET`` node (named by the naming function from the
  resolved URI), and ``CONTRIBUTED_TO`` feature group -> it (props ``role:
  offline-store``, the API it comes from): the group's data is that prefix;
- the Glue table Feature Store registers for it (``DataCatalogConfig``), as a ``DATASET``
  named by the naming function's Glue rule, with ``aliases`` = the offline store dataset
  (read by the ``symlinks`` reconciliation rule) and ``SameAs`` both ways with it (rule
  ``feature-store:data-catalog``, evidence the group and both names): Feature Store says
  the table is that data.

Watermark: the ISO time of the newest CreationTime/LastModifiedTime seen. Every read lists
all groups (ListFeatureGroups can filter on creation only; groups change in place) and
describes only those changed strictly after the watermark. The last batch carries the
new watermark, only if every call succeeded. A group gone between list and describe is
skipped with a warning. Errors as the SageMaker source's: ``SourceError`` when SageMaker
cannot be reached; an API error is a warning and holds the watermark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from crossline.collectors import aws
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id
from crossline.collectors.sources import Batch, Source
from crossline.collectors.sources.sagemaker.common import Api, ListFailed, Run, SageMakerReport, drop_none, iso, parse_watermark
from crossline.emitters.naming import glue_table, parse_arn
from crossline.errors import ConfigError, InvalidEvent
from crossline.times import stamp

SOURCE = "feature-store"
RULE = "feature-store:data-catalog"


@attrs.frozen(kw_only=True)
class FeatureStoreConfig(aws.AwsConfig):
    page_size: int = 100

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> FeatureStoreConfig:
        aws.unknown_keys(cls, config, "feature-store source")
        try:
            made = cls(**config)
        except TypeError as err:
            raise ConfigError(f"feature-store source: {err}") from err
        aws.check_aws(made, "feature-store source")
        if isinstance(made.page_size, bool) or not isinstance(made.page_size, int) or not 1 <= made.page_size <= 100:
            raise ConfigError(f"feature-store source: page_size must be 1..100, not {made.page_size!r}")
        return made


class FeatureStoreSource(Source):
    kind = SOURCE
    config_class = FeatureStoreConfig

    def __init__(self, config: FeatureStoreConfig | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config or FeatureStoreConfig()
        self.report = SageMakerReport()
        self._clients = aws.Clients(self.config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FeatureStoreSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(FeatureStoreConfig.from_dict(values), name=name)

    @property
    def client(self) -> Any:
        return self._clients("sagemaker")

    def read(self, since: str | None) -> Iterator[Batch]:
        self.report = SageMakerReport()
        run = Run(parse_watermark(since), since, self.report, source=SOURCE)
        api = Api(lambda: self.client, self.config.page_size)
        try:
            for items in api.pages(run, "list_feature_groups", "FeatureGroupSummaries",
                                   SortBy="CreationTime", SortOrder="Ascending"):
                for item in items:
                    run.scan("feature_group")
                    if run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                        self._group(api, run, item["FeatureGroupName"])
                batch = run.flush()
                if batch:
                    yield batch
        except ListFailed:
            run.complete = False
        if not run.complete:
            run.warn(f"some Feature Store reads failed: the watermark stays at {since!r}", "the read", "unavailable")
        last = run.batch
        last.watermark = since
        if run.complete and run.newest is not None and (run.since is None or run.newest > run.since):
            last.watermark = stamp(run.newest)
        yield last

    def _group(self, api: Api, run: Run, name: str) -> None:
        group = api.describe(run, api.client.describe_feature_group, f"feature group {name}", FeatureGroupName=name)
        if group is None:
            return
        run.changed(group.get("LastModifiedTime"))
        arn = group["FeatureGroupArn"]
        try:
            group_id = dataset_id(arn)
        except InvalidEvent as err:
            run.warn(f"its ARN {arn!r} cannot be named ({err}); skipped", f"DescribeFeatureGroup(FeatureGroupName={name})")
            return
        offline = group.get("OfflineStoreConfig") or {}
        storage = offline.get("S3StorageConfig") or {}
        catalog = offline.get("DataCatalogConfig") or {}
        store_uri = storage.get("ResolvedOutputS3Uri") or storage.get("S3Uri")
        props = drop_none({
            "featureGroupName": name,
            "arn": arn,
            "recordIdentifier": group.get("RecordIdentifierFeatureName"),
            "eventTime": group.get("EventTimeFeatureName"),
            "features": [drop_none({"name": f.get("FeatureName"), "type": f.get("FeatureType")})
                         for f in group.get("FeatureDefinitions") or []],
            "status": group.get("FeatureGroupStatus"),
            "offlineStoreUri": store_uri,
            "offlineStoreS3Uri": storage.get("S3Uri"),
            "offlineStoreStatus": (group.get("OfflineStoreStatus") or {}).get("Status"),
            "glueTable": f"{catalog['Database']}.{catalog['TableName']}" if catalog.get("Database") and catalog.get("TableName") else None,
            "onlineStore": (group.get("OnlineStoreConfig") or {}).get("EnableOnlineStore"),
            "description": group.get("Description"),
            "creationTime": iso(group.get("CreationTime")),
            "lastModifiedTime": iso(group.get("LastModifiedTime")),
            "api": "ListFeatureGroups+DescribeFeatureGroup",
        })
        run.node(Node(group_id, NodeKind.FEATURE_GROUP, name, SOURCE, props))
        if not store_uri:
            return  # online only: no data in S3 to join
        try:
            store = dataset_id(store_uri)
        except InvalidEvent as err:
            run.warn(f"offline store {store_uri!r} names no dataset ({err})", f"DescribeFeatureGroup(FeatureGroupName={name})")
            return
        namespace, _, store_name = store.removeprefix("dataset:").rpartition(":")
        run.node(Node(store, NodeKind.DATASET, store_name, SOURCE,
                      {"namespace": namespace, "name": store_name, "offlineStoreOf": arn}))
        run.edge(Edge(group_id, store, EdgeKind.CONTRIBUTED_TO, SOURCE,
                      {"role": "offline-store", "featureGroup": arn, "api": "DescribeFeatureGroup"}))
        if catalog.get("Database") and catalog.get("TableName"):
            self._table(run, arn, name, catalog, store, store_uri)

    @staticmethod
    def _table(run: Run, arn: str, name: str, catalog: dict[str, Any], store: NodeId, store_uri: str) -> None:
        parts = parse_arn(arn)
        try:
            namespace, table = glue_table(parts.region, parts.account, catalog["Database"], catalog["TableName"],
                                          partition=parts.partition)
        except InvalidEvent as err:
            run.warn(f"its Glue table {catalog} cannot be named ({err})", f"DescribeFeatureGroup(FeatureGroupName={name})")
            return
        table_id = dataset_id(namespace, table)
        run.node(Node(table_id, NodeKind.DATASET, table, SOURCE, {
            "namespace": namespace, "name": table, "glueTable": f"{catalog['Database']}.{catalog['TableName']}",
            "aliases": [store], "registeredBy": arn,
        }))
        run.same_as(table_id, store, RULE, {"featureGroup": arn, "DataCatalogConfig": dict(catalog),
                                            "ResolvedOutputS3Uri": store_uri})


__all__ = ["FeatureStoreConfig", "FeatureStoreSource"]
