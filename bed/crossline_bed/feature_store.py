"""SageMaker Feature Store on the bed: feature groups as AWS describes them, offline stores in S3.

Contract: ``install()`` fixes and extends moto's feature groups in this process,
idempotently:

- CreateFeatureGroup keeps the caller's ``OfflineStoreConfig.DataCatalogConfig`` (moto
  overwrites it); without one, the table is ``{name, '-' as '_'}_{creation epoch}`` in
  database ``sagemaker_featurestore``, catalog ``AwsDataCatalog``, as AWS names it.
  ``S3StorageConfig.ResolvedOutputS3Uri`` is AWS's
  ``{S3Uri}/{account}/sagemaker/{region}/offline-store/{name}-{creation epoch}/data``
  (moto leaves out ``sagemaker/``). Unless ``DisableGlueTableCreation`` is true, the Glue
  Data Catalog gets the database (if missing) and an EXTERNAL_TABLE of that name,
  Parquet, located at the resolved URI, with a column per feature (Integral bigint,
  Fractional double, String string) plus ``write_time``, ``api_invocation_time``
  (timestamp) and ``is_deleted`` (boolean), the columns Feature Store adds to each record.
  A group with no OfflineStoreConfig gets no table.
- DescribeFeatureGroup adds what moto leaves out: ``OfflineStoreStatus`` (Active),
  ``LastModifiedTime`` and the required ``NextToken``; an unknown group is AWS's
  ResourceNotFound. (moto keeps neither Description nor OnlineStoreConfig from the
  request, so neither is shown.)
- ListFeatureGroups (moto has none): NameContains, FeatureGroupStatusEquals,
  OfflineStoreStatusEquals, CreationTimeAfter/Before, SortBy (Name, FeatureGroupStatus,
  OfflineStoreStatus, CreationTime; default CreationTime), SortOrder (default
  Descending), MaxResults (default 10, ceiling 100) and NextToken.

``write_offline_records(s3, sagemaker, group, records, written_at)`` is what Feature
Store's offline ingestion leaves in S3 (developer guide, "offline store data format",
Glue table format): real Parquet files under the group's resolved URI, partitioned by
each record's event time, ``year=YYYY/month=MM/day=DD/hour=HH/``, each named
``{latest event time in the file, YYYYMMDDTHHMMSSZ}_{16 random alphanumerics}.parquet``,
every row with the three added columns. It returns the ``s3://`` URIs it wrote. Event
times are ISO 8601 strings in the group's EventTimeFeatureName.
"""

from __future__ import annotations

import copy
import io
import random
import string
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Callable

from moto.core.responses import ActionResult

from crossline.emitters.naming import s3_location
from crossline_bed.moto_ext import wrap_around

_MARK = "_crossline_feature_store"
GLUE_TYPES = {"Integral": "bigint", "Fractional": "double", "String": "string"}
ADDED_COLUMNS = (("write_time", "timestamp"), ("api_invocation_time", "timestamp"), ("is_deleted", "boolean"))


def _create(call: Callable[[], Any], backend: Any, arguments: dict[str, Any]) -> Any:
    asked = copy.deepcopy(arguments.get("offline_store_config"))
    arn = call()
    group = backend.feature_groups[arn]
    epoch = int(group.creation_time.timestamp())
    group.last_modified_time = group.creation_time
    if not asked:
        group.offline_store_config = None
        return arn
    storage = dict(asked["S3StorageConfig"])
    storage["ResolvedOutputS3Uri"] = (
        f"{storage['S3Uri'].rstrip('/')}/{backend.account_id}/sagemaker/{backend.region_name}"
        f"/offline-store/{group.feature_group_name}-{epoch}/data"
    )
    catalog = asked.get("DataCatalogConfig") or {
        "TableName": f"{group.feature_group_name.replace('-', '_')}_{epoch}", "Database": "sagemaker_featurestore",
    }
    catalog = {"Catalog": "AwsDataCatalog", **catalog}
    group.offline_store_config = {**asked, "S3StorageConfig": storage, "DataCatalogConfig": catalog}
    if not asked.get("DisableGlueTableCreation"):
        _glue_table(backend, group, catalog, storage["ResolvedOutputS3Uri"])
    return arn


def _glue_table(backend: Any, group: Any, catalog: dict[str, str], location: str) -> None:
    from moto.glue.models import glue_backends

    glue = glue_backends[backend.account_id][backend.region_name]
    if catalog["Database"] not in glue.databases:
        glue.create_database(catalog["Database"], {"Name": catalog["Database"]}, [])
    columns = [{"Name": f["FeatureName"], "Type": GLUE_TYPES.get(f["FeatureType"], "string")} for f in group.feature_definitions]
    columns += [{"Name": name, "Type": kind} for name, kind in ADDED_COLUMNS]
    glue.create_table(catalog["Database"], catalog["TableName"], {
        "Name": catalog["TableName"],
        "Description": f"Offline store of feature group {group.feature_group_name}",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet"},
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
        },
    }, [])


def _group(response: Any, name_or_arn: str) -> Any:
    from moto.sagemaker.exceptions import ResourceNotFound

    backend = response.sagemaker_backend
    for group in backend.feature_groups.values():
        if name_or_arn in (group.feature_group_name, group.arn):
            return group
    raise ResourceNotFound(message=f"Resource Not Found: FeatureGroup {name_or_arn} does not exist.")


def describe_feature_group(self: Any) -> ActionResult:
    group = _group(self, self._get_param("FeatureGroupName"))
    answer = group.describe()
    answer["NextToken"] = ""
    answer["LastModifiedTime"] = getattr(group, "last_modified_time", group.creation_time)
    if not answer.get("OfflineStoreConfig"):
        answer.pop("OfflineStoreConfig", None)
    else:
        answer["OfflineStoreStatus"] = {"Status": "Active"}
    return ActionResult(answer)


def list_feature_groups(self: Any) -> ActionResult:
    from moto.sagemaker.exceptions import ValidationError

    contains = self._get_param("NameContains")
    status, offline = self._get_param("FeatureGroupStatusEquals"), self._get_param("OfflineStoreStatusEquals")
    after, before = self._get_param("CreationTimeAfter"), self._get_param("CreationTimeBefore")
    rows = []
    for group in self.sagemaker_backend.feature_groups.values():
        row = {"FeatureGroupName": group.feature_group_name, "FeatureGroupArn": group.arn,
               "CreationTime": group.creation_time, "FeatureGroupStatus": "Created"}
        if group.offline_store_config:
            row["OfflineStoreStatus"] = {"Status": "Active"}
        stamp = group.creation_time.timestamp()
        if ((contains is None or contains in group.feature_group_name)
                and (status is None or status == row["FeatureGroupStatus"])
                and (offline is None or offline == row.get("OfflineStoreStatus", {}).get("Status"))
                and (after is None or stamp > _seconds(after)) and (before is None or stamp < _seconds(before))):
            rows.append(row)
    sort_by = self._get_param("SortBy") or "CreationTime"
    keys = {"Name": lambda r: r["FeatureGroupName"], "FeatureGroupStatus": lambda r: r["FeatureGroupStatus"],
            "OfflineStoreStatus": lambda r: r.get("OfflineStoreStatus", {}).get("Status", ""),
            "CreationTime": lambda r: r["CreationTime"]}
    if sort_by not in keys:
        raise ValidationError(message=f"Invalid SortBy: {sort_by}")
    rows.sort(key=keys[sort_by], reverse=(self._get_param("SortOrder") or "Descending") == "Descending")
    token = self._get_param("NextToken")
    start = int(token) if token and token.isdigit() else 0
    size = min(int(self._get_param("MaxResults") or 10), 100)
    answer: dict[str, Any] = {"FeatureGroupSummaries": rows[start:start + size]}
    if start + size < len(rows):
        answer["NextToken"] = str(start + size)
    return ActionResult(answer)


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def install() -> None:
    """Fix and extend moto's feature groups in this process; calling it again changes nothing."""
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    wrap_around(SageMakerModelBackend, "create_feature_group", _create, _MARK)
    SageMakerResponse.describe_feature_group = describe_feature_group  # type: ignore[method-assign]
    SageMakerResponse.list_feature_groups = list_feature_groups  # type: ignore[attr-defined]


# ---- the offline store's files, written through a client as Feature Store would --------
def _when(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def write_offline_records(
    s3: Any, sagemaker: Any, group: str, records: list[dict[str, Any]], written_at: datetime,
) -> list[str]:
    """Write ``records`` into ``group``'s offline store as Feature Store does; return the URIs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    described = sagemaker.describe_feature_group(FeatureGroupName=group)
    base = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"].rstrip("/")
    event_key = described["EventTimeFeatureName"]
    hours: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        at = _when(str(record[event_key]))
        hours[at.replace(minute=0, second=0, microsecond=0)].append(record)
    written = []
    for hour, rows in sorted(hours.items()):
        latest = max(_when(str(r[event_key])) for r in rows)
        table = pa.Table.from_pylist([
            {**r, "write_time": written_at, "api_invocation_time": written_at, "is_deleted": False} for r in rows
        ])
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        suffix = "".join(random.choices(string.ascii_letters + string.digits, k=16))
        uri = (f"{base}/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/"
               f"{latest:%Y%m%dT%H%M%SZ}_{suffix}.parquet")
        bucket, key = s3_location(uri)
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        written.append(uri)
    return written
