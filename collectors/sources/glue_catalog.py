"""``glue-catalog``: the Glue Data Catalog's databases, tables, their S3 locations and partitions.

Contract: ``GlueCatalogSource.read(since)`` lists, through ``get_paginator``, every database
(or those ``databases`` names) and every table in it, and yields one ``Batch`` per page
of tables:

- a ``GLUE_DATABASE`` node per database (its ARN; props location, description, times);
- a ``DATASET`` node per table, named by the one naming function's Glue rule
  (``arn:aws:glue:{region}:{account}`` / ``table/{db}/{table}``, the name OpenLineage gives
  a Glue table), ``PART_OF`` its database. Props: the table's ``location``, type, columns,
  partition keys, parameters, ``versionId`` and the version history
  (``GetTableVersions``: id, update time, column count), times, and ``aliases``: the S3
  dataset its location names. ``aliases`` is the key the ``symlinks`` reconciliation
  rule reads, so a catalog table joins its location exactly as an OpenLineage
  ``symlinks`` facet does;
- per partition, the S3 ``DATASET`` its location names (props ``gluePartition``: the
  table and values), ``PART_OF`` the table.

Region and account come from the client's region and each record's ``CatalogId`` (else
``catalog_id``, else STS). A location the naming function cannot name (not S3) is kept
as a prop with a warning, and gives no alias.

Watermark: the ISO time of the newest CreateTime/UpdateTime of a database or table, or
CreationTime of a partition, seen. Glue cannot filter its lists by time, so every read
lists the whole catalog and emits what changed strictly after the watermark (a table
changed since is emitted whole with its versions and partitions; a partition created
since is emitted with its table). Batches before the last carry ``since``; the last
carries the new watermark, only if every call succeeded. Known limits: a partition
updated in place (UpdatePartition) keeps its CreationTime and is seen only from
scratch; a table or partition deleted stays in the graph.

Errors as the SageMaker source's: ``SourceError`` when Glue cannot be reached; an API
error is a warning, stops that list and holds the watermark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from crossline.collectors import aws
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id, glue_database_id
from crossline.collectors.sources import Batch, Source
from crossline.collectors.sources.sagemaker.common import Api, ListFailed, Run, SageMakerReport, drop_none, iso, parse_watermark
from crossline.emitters.naming import glue_table
from crossline.errors import ConfigError, InvalidEvent, SourceError
from crossline.times import stamp

SOURCE = "glue-catalog"


@attrs.frozen(kw_only=True)
class GlueCatalogConfig(aws.AwsConfig):
    catalog_id: str | None = None  # another account's catalog; default: the caller's
    databases: tuple[str, ...] | None = attrs.field(
        default=None, converter=lambda v: None if v is None else ((v,) if isinstance(v, str) else tuple(v)))
    partitions: bool = True
    page_size: int = 100

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> GlueCatalogConfig:
        aws.unknown_keys(cls, config, "glue-catalog source")
        try:
            made = cls(**config)
        except TypeError as err:
            raise ConfigError(f"glue-catalog source: {err}") from err
        aws.check_aws(made, "glue-catalog source")
        if isinstance(made.page_size, bool) or not isinstance(made.page_size, int) or not 1 <= made.page_size <= 100:
            raise ConfigError(f"glue-catalog source: page_size must be 1..100, not {made.page_size!r}")
        if not isinstance(made.partitions, bool):
            raise ConfigError(f"glue-catalog source: partitions must be true or false, not {made.partitions!r}")
        return made


class GlueCatalogSource(Source):
    kind = SOURCE
    config_class = GlueCatalogConfig

    def __init__(self, config: GlueCatalogConfig | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config or GlueCatalogConfig()
        self.report = SageMakerReport()
        self._clients = aws.Clients(self.config)
        self._account: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GlueCatalogSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(GlueCatalogConfig.from_dict(values), name=name)

    @property
    def client(self) -> Any:
        return self._clients("glue")

    def read(self, since: str | None) -> Iterator[Batch]:
        self.report = SageMakerReport()
        run = Run(parse_watermark(since), since, self.report, source=SOURCE)
        api = Api(lambda: self.client, self.config.page_size, service="Glue")
        try:
            yield from self._databases(api, run)
        except ListFailed:
            run.complete = False
        if not run.complete:
            run.warn(f"some Glue catalog reads failed: the watermark stays at {since!r}", "the read", "unavailable")
        last = run.batch
        last.watermark = since
        if run.complete and run.newest is not None and (run.since is None or run.newest > run.since):
            last.watermark = stamp(run.newest)
        yield last

    def total(self, since: str | None) -> int | None:
        return None  # counting tables costs a full listing: a running count instead

    # -- databases and tables ------------------------------------------------------------
    def _catalog(self) -> dict[str, str]:
        return {"CatalogId": self.config.catalog_id} if self.config.catalog_id else {}

    def _databases(self, api: Api, run: Run) -> Iterator[Batch]:
        wanted = set(self.config.databases) if self.config.databases is not None else None
        for items in api.pages(run, "get_databases", "DatabaseList", **self._catalog()):
            for database in items:
                name = database["Name"]
                if wanted is not None and name not in wanted:
                    continue
                run.scan("database")
                account = database.get("CatalogId") or self._caller_account()
                db_id = glue_database_id(self._region(), account, name)
                if run.changed(database.get("CreateTime")):
                    run.node(Node(db_id, NodeKind.GLUE_DATABASE, name, SOURCE, drop_none({
                        "catalogId": account,
                        "locationUri": database.get("LocationUri"),
                        "description": database.get("Description"),
                        "creationTime": iso(database.get("CreateTime")),
                        "api": "GetDatabases",
                    })))
                try:
                    yield from self._tables(api, run, name, account, db_id)
                except ListFailed:
                    run.complete = False  # this database stops; the others go on
        batch = run.flush()
        if batch:
            yield batch

    def _tables(self, api: Api, run: Run, database: str, account: str, db_id: NodeId) -> Iterator[Batch]:
        for tables in api.pages(run, "get_tables", "TableList", DatabaseName=database, **self._catalog()):
            for table in tables:
                run.scan("table")
                changed = run.changed(table.get("CreateTime"), table.get("UpdateTime"))
                partitions = self._partitions(api, run, database, table) if table.get("PartitionKeys") else []
                fresh = [p for p in partitions if run.changed(p.get("CreationTime"))]
                if not (changed or fresh):
                    continue
                table_id = self._table(api, run, table, account, db_id, whole=changed)
                for partition in partitions if changed else fresh:
                    self._partition(run, table_id, table, partition)
            batch = run.flush()
            if batch:
                yield batch

    def _table(self, api: Api, run: Run, table: dict[str, Any], account: str, db_id: NodeId, whole: bool) -> NodeId:
        database, name = table.get("DatabaseName", ""), table["Name"]
        namespace, dataset = glue_table(self._region(), table.get("CatalogId") or account, database, name)
        table_id = dataset_id(namespace, dataset)
        if not whole:  # only new partitions: the table's record is unchanged
            return table_id
        storage = table.get("StorageDescriptor") or {}
        location = storage.get("Location")
        alias = self._alias(run, location, f"table {database}.{name}")
        props = drop_none({
            "namespace": namespace, "name": dataset, "glueTable": f"{database}.{name}",
            "location": location,
            "aliases": [alias] if alias else None,
            "tableType": table.get("TableType"),
            "columns": [drop_none({"name": c.get("Name"), "type": c.get("Type")}) for c in storage.get("Columns") or []],
            "partitionKeys": [drop_none({"name": k.get("Name"), "type": k.get("Type")}) for k in table.get("PartitionKeys") or []],
            "parameters": table.get("Parameters") or None,
            "description": table.get("Description"),
            "versionId": table.get("VersionId"),
            "versions": self._versions(api, run, database, name),
            "creationTime": iso(table.get("CreateTime")),
            "lastModifiedTime": iso(table.get("UpdateTime")),
            "api": "GetTables+GetTableVersions",
        })
        run.node(Node(table_id, NodeKind.DATASET, dataset, SOURCE, props))
        run.edge(Edge(table_id, db_id, EdgeKind.PART_OF, SOURCE, {"api": "GetTables"}))
        return table_id

    def _versions(self, api: Api, run: Run, database: str, table: str) -> list[dict[str, Any]] | None:
        versions = []
        try:
            for items in api.pages(run, "get_table_versions", "TableVersions", DatabaseName=database, TableName=table,
                                   **self._catalog()):
                for item in items:
                    found = item.get("Table") or {}
                    versions.append(drop_none({
                        "versionId": item.get("VersionId"),
                        "updateTime": iso(found.get("UpdateTime")),
                        "columns": len((found.get("StorageDescriptor") or {}).get("Columns") or []),
                    }))
        except ListFailed:
            run.complete = False
        return sorted(versions, key=lambda v: _number(v.get("versionId"))) or None

    def _partitions(self, api: Api, run: Run, database: str, table: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.config.partitions:
            return []
        found = []
        try:
            for items in api.pages(run, "get_partitions", "Partitions", DatabaseName=database, TableName=table["Name"],
                                   **self._catalog()):
                run.scan("partition", len(items))
                found.extend(items)
        except ListFailed:
            run.complete = False
        return found

    def _partition(self, run: Run, table_id: NodeId, table: dict[str, Any], partition: dict[str, Any]) -> None:
        location = (partition.get("StorageDescriptor") or {}).get("Location")
        where = f"partition {partition.get('Values')} of {table.get('DatabaseName')}.{table['Name']}"
        alias = self._alias(run, location, where)
        if alias is None:
            return
        keys = [k.get("Name") for k in table.get("PartitionKeys") or []]
        namespace, _, name = alias.removeprefix("dataset:").rpartition(":")
        run.node(Node(alias, NodeKind.DATASET, name, SOURCE, {
            "namespace": namespace, "name": name,
            "gluePartition": drop_none({
                "table": f"{table.get('DatabaseName')}.{table['Name']}",
                "values": dict(zip(keys, partition.get("Values") or [])) or partition.get("Values"),
                "creationTime": iso(partition.get("CreationTime")),
            }),
        }))
        run.edge(Edge(alias, table_id, EdgeKind.PART_OF, SOURCE, {"api": "GetPartitions"}))

    @staticmethod
    def _alias(run: Run, location: str | None, what: str) -> NodeId | None:
        if not location:
            return None
        try:
            return dataset_id(location)
        except InvalidEvent as err:
            run.warn(f"location {location!r} names no dataset ({err}); kept as a prop, no alias", what)
            return None

    # -- where the catalog is ---------------------------------------------------------------
    def _region(self) -> str:
        return str(self.config.region or self.client.meta.region_name)

    def _caller_account(self) -> str:
        if self.config.catalog_id:
            return self.config.catalog_id
        if self._account is None:
            try:
                self._account = self._clients("sts").get_caller_identity()["Account"]
            except (ClientError, BotoCoreError) as err:
                raise SourceError(f"cannot learn the AWS account from STS: {err}") from err
        return self._account


def _number(text: Any) -> tuple[int, str]:
    return (int(text), "") if isinstance(text, str) and text.isdigit() else (0, str(text))


__all__ = ["GlueCatalogConfig", "GlueCatalogSource"]
