"""GlueCatalogSource and FeatureStoreSource against the moto server (with the bed's Feature Store), through real boto3."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest

from crossline.collectors.model import EdgeKind, NodeKind, dataset_id, glue_database_id
from crossline.collectors.sources import source_from_config
from crossline.collectors.sources.feature_store import FeatureStoreSource
from crossline.collectors.sources.glue_catalog import GlueCatalogSource
from crossline.errors import ConfigError, SourceError

REGION, ACCOUNT = "us-east-1", "123456789012"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read(config: dict, since: str | None = None):  # type: ignore[no-untyped-def]
    source = source_from_config(config)
    batches = list(source.read(since))
    return (source, batches, {n.id: n for b in batches for n in b.nodes}, [e for b in batches for e in b.edges],
            [w for b in batches for w in b.warnings])


@pytest.fixture
def catalog(moto_server, aws: str):  # type: ignore[no-untyped-def]
    moto_server.set_clock(utc("2027-04-01T08:00:00Z"))
    glue = boto3.client("glue", endpoint_url=aws, region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "raw"})
    glue.create_table(DatabaseName="raw", TableInput={
        "Name": "events", "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "string"}], "Location": "s3://raw-bucket/events/"}})
    glue.create_partition(DatabaseName="raw", TableName="events", PartitionInput={
        "Values": ["2027-04-01"], "StorageDescriptor": {"Location": "s3://raw-bucket/events/dt=2027-04-01/"}})
    glue.create_table(DatabaseName="raw", TableInput={
        "Name": "on_hdfs", "StorageDescriptor": {"Location": "hdfs://namenode/warehouse/on_hdfs"}})
    return moto_server, glue, {"type": "glue-catalog", "endpoint_url": aws, "region": REGION}


def test_tables_are_named_by_the_glue_rule_with_their_location_as_an_alias(catalog) -> None:
    _, _, config = catalog
    source, batches, nodes, edges, warnings = read(config)
    table = nodes[dataset_id(f"{GLUE}:table/raw/events")]
    assert table.kind is NodeKind.DATASET and table.props["glueTable"] == "raw.events"
    assert table.props["aliases"] == ["dataset:s3://raw-bucket:events"]
    assert table.props["partitionKeys"] == [{"name": "dt", "type": "string"}]
    partition = nodes["dataset:s3://raw-bucket:events/dt=2027-04-01"]
    assert partition.props["gluePartition"]["values"] == {"dt": "2027-04-01"}
    assert {(e.src, e.dst, e.kind) for e in edges} >= {
        (table.id, glue_database_id(REGION, ACCOUNT, "raw"), EdgeKind.PART_OF),
        (partition.id, table.id, EdgeKind.PART_OF),
    }
    (warning,) = warnings  # a location the naming function cannot name: kept, warned, no alias
    assert warning.source == "glue-catalog" and "raw.on_hdfs" in warning.where and "hdfs://" in warning.why
    assert "aliases" not in nodes[dataset_id(f"{GLUE}:table/raw/on_hdfs")].props
    assert batches[-1].watermark is not None and all(b.watermark is None for b in batches[:-1])


def test_a_second_read_gives_only_what_changed(catalog) -> None:
    moto, glue, config = catalog
    _, batches, _, _, _ = read(config)
    mark = batches[-1].watermark
    _, _, nodes, _, _ = read(config, mark)
    assert nodes == {}
    moto.set_clock(utc("2027-04-02T08:00:00Z"))
    glue.create_partition(DatabaseName="raw", TableName="events", PartitionInput={
        "Values": ["2027-04-02"], "StorageDescriptor": {"Location": "s3://raw-bucket/events/dt=2027-04-02/"}})
    _, later, nodes, edges, _ = read(config, mark)
    assert set(nodes) == {"dataset:s3://raw-bucket:events/dt=2027-04-02"}
    assert [(e.src, e.dst) for e in edges] == [("dataset:s3://raw-bucket:events/dt=2027-04-02", dataset_id(f"{GLUE}:table/raw/events"))]
    assert later[-1].watermark > mark


def test_glue_unreachable_is_a_source_error_and_bad_configs_are_refused() -> None:
    with pytest.raises(SourceError, match="Glue unreachable"):
        list(GlueCatalogSource.from_config({"endpoint_url": "http://127.0.0.1:9", "region": REGION, "max_attempts": 1}).read(None))
    for bad, text in (({"page_size": 0}, "page_size"), ({"partitions": "yes"}, "partitions"), ({"colour": 1}, "unknown")):
        with pytest.raises(ConfigError, match=text):
            GlueCatalogSource.from_config(bad)


@pytest.fixture
def groups(moto_server, aws: str):  # type: ignore[no-untyped-def]
    moto_server.set_clock(utc("2027-04-01T08:00:00Z"))
    sm = boto3.client("sagemaker", endpoint_url=aws, region_name=REGION)
    features = [{"FeatureName": "id", "FeatureType": "String"}, {"FeatureName": "t", "FeatureType": "String"}]
    sm.create_feature_group(FeatureGroupName="accounts", RecordIdentifierFeatureName="id", EventTimeFeatureName="t",
                            FeatureDefinitions=features, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://features/offline"},
                                                "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": "fs", "TableName": "accounts"}})
    sm.create_feature_group(FeatureGroupName="behaviour", RecordIdentifierFeatureName="id", EventTimeFeatureName="t",
                            FeatureDefinitions=features, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://features/offline"}})
    return moto_server, sm, {"type": "feature-store", "endpoint_url": aws, "region": REGION}


def test_feature_groups_their_offline_store_and_registered_table(groups) -> None:
    _, sm, config = groups
    _, batches, nodes, edges, warnings = read(config)
    assert warnings == []
    described = sm.describe_feature_group(FeatureGroupName="accounts")
    store_uri = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
    group = nodes[dataset_id(described["FeatureGroupArn"])]
    assert group.kind is NodeKind.FEATURE_GROUP and group.props["offlineStoreUri"] == store_uri
    assert group.props["glueTable"] == "fs.accounts"
    store, table = dataset_id(store_uri), dataset_id(f"{GLUE}:table/fs/accounts")
    assert nodes[table].props["aliases"] == [store]
    kinds = {(e.src, e.dst, e.kind): e for e in edges}
    assert (group.id, store, EdgeKind.CONTRIBUTED_TO) in kinds
    same = kinds[(table, store, EdgeKind.SAME_AS)]
    assert same.props["rule"] == "feature-store:data-catalog" and same.props["evidence"]["ResolvedOutputS3Uri"] == store_uri
    # no DataCatalogConfig given: the table Feature Store names itself, in sagemaker_featurestore
    behaviour = nodes[dataset_id(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/behaviour")]
    assert behaviour.props["glueTable"].startswith("sagemaker_featurestore.behaviour_")
    _, again, nodes, _, _ = read(config, batches[-1].watermark)
    assert nodes == {} and again[-1].watermark == batches[-1].watermark


def test_feature_store_bad_configs_are_refused() -> None:
    for bad, text in (({"page_size": 101}, "page_size"), ({"max_attempts": 0}, "max_attempts"), ({"x": 1}, "unknown")):
        with pytest.raises(ConfigError, match=text):
            FeatureStoreSource.from_config(bad)
