"""The one naming function: any storage URI or AWS ARN to an OpenLineage ``(namespace, name)``.

Contract: ``dataset_name(uri_or_arn)`` is the join key of crossline. Emitters call it to
name the datasets they emit, collectors call it to match OpenLineage datasets with
SageMaker artifacts; nothing else in the project parses URIs or ARNs (``parse_arn`` is
the one ARN parser). The rules:

- S3 (``s3``, ``s3a``, ``s3n`` URIs, and ``arn:aws:s3:::{bucket}/{key}`` ARNs):
  namespace ``s3://{bucket}``, name ``{key}`` without a trailing ``/`` (as Airflow's
  provider names prefixes). OpenLineage naming spec. Credentials written into the URI
  (``s3://KEY:SECRET@bucket/...``) are not part of the name and are dropped, so they
  never reach an event, and the dataset joins its credential-free spelling.
- Glue table, ``arn:{partition}:glue:{region}:{account}:table/{db}/{table}``: namespace
  ``arn:{partition}:glue:{region}:{account}``, name ``table/{db}/{table}``. OpenLineage
  naming spec; ``glue_table()`` builds it from its parts. Other Glue resources have no
  dataset naming and are refused.
- SageMaker, ``arn:{partition}:sagemaker:{region}:{account}:{resource-type}/{resource-id}``
  (training-job, processing-job, transform-job, model-package/{group}/{version},
  model-package-group, model, endpoint, endpoint-config, feature-group, artifact, action,
  context, experiment-trial-component, ...): namespace
  ``arn:{partition}:sagemaker:{region}:{account}``, name ``{resource-type}/{resource-id}``.
  OpenLineage defines no SageMaker naming; this is ours, mirroring the Glue rule (the
  ARN up to the account is the namespace, the resource part is the name). A feature
  group is ``feature-group/{name}``. The resource id is lower-cased: SageMaker names are
  unique regardless of case and AWS spells them lower-case in the ARNs it returns, so a
  name built from a job name (``sagemaker_arn()``) and an ARN read from the API join.

Anything it cannot name is an ``InvalidEvent`` quoting the input, never a guess.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from crossline.errors import InvalidEvent
from crossline.redact import redact_text

S3_SCHEMES = frozenset({"s3", "s3a", "s3n"})

# arn:partition:service:region:account:resource. Region and account are empty for
# global services (S3, IAM's region); the account is "aws" for AWS-managed IAM policies.
_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[a-z0-9][a-z0-9-]*):"
    r"(?P<region>(?:[a-z]{2}(?:-[a-z]+)+-\d+)?):(?P<account>(?:\d{12}|aws)?):(?P<resource>.+)"
)
_RESOURCE_TYPE = re.compile(r"[a-z][a-z0-9-]*")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
_ACCOUNT = re.compile(r"\d{12}")
# Services whose resource part is not "{type}/{id}" (S3: "{bucket}/{key}").
_UNTYPED_SERVICES = frozenset({"s3"})


class DatasetName(NamedTuple):
    """An OpenLineage ``(namespace, name)``; for SageMaker entities, a node name too."""

    namespace: str
    name: str


class Arn(NamedTuple):
    """A parsed ARN. ``resource_type`` is empty for services without typed resources (S3)."""

    partition: str
    service: str
    region: str
    account: str
    resource_type: str
    resource_id: str

    @property
    def resource(self) -> str:
        """The resource part in ``{type}/{id}`` form (just the id for untyped services)."""
        if not self.resource_type:
            return self.resource_id
        return f"{self.resource_type}/{self.resource_id}"


def parse_arn(arn: str) -> Arn:
    """Split an ARN into its parts, or raise ``InvalidEvent`` saying what is wrong with it."""
    if not isinstance(arn, str):
        raise InvalidEvent(f"an ARN must be a string, not {type(arn).__name__}: {redact_text(arn)!r}")
    match = _ARN.fullmatch(arn)
    if match is None or any(ch.isspace() for ch in arn):
        raise InvalidEvent(
            f"not an ARN (arn:partition:service:region:account:resource): {redact_text(arn)!r}"
        )
    service, resource = match["service"], match["resource"]
    if service in _UNTYPED_SERVICES:
        resource_type, resource_id = "", resource
    else:
        # Typed resources are "type/id" (SageMaker, Glue) or "type:id" (Lambda, logs).
        cut = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
        if cut <= 0:
            raise InvalidEvent(f"ARN resource is not '{{type}}/{{id}}': {redact_text(arn)!r}")
        resource_type, resource_id = resource[:cut], resource[cut + 1 :]
        if not _RESOURCE_TYPE.fullmatch(resource_type):
            raise InvalidEvent(f"ARN resource type {resource_type!r} is malformed: {redact_text(arn)!r}")
    # An S3 prefix may end in "/"; no other empty segment is a resource.
    segments = (resource_id.rstrip("/") if service == "s3" else resource_id).split("/")
    if not resource_id or "" in segments:
        raise InvalidEvent(f"ARN has an empty resource id or path segment: {redact_text(arn)!r}")
    return Arn(
        match["partition"], service, match["region"], match["account"], resource_type, resource_id
    )


def dataset_name(uri: str) -> DatasetName:
    """Name any S3 URI, S3/Glue-table/SageMaker ARN as OpenLineage ``(namespace, name)``."""
    if not isinstance(uri, str):
        raise InvalidEvent(f"cannot name a {type(uri).__name__}: {redact_text(uri)!r}")
    text = uri.strip()
    if text.lower().startswith("arn:"):
        return _arn_name(parse_arn(text), text.split(":", 5)[5], uri)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in S3_SCHEMES:
        return _s3_name(_bucket(parts.netloc), parts.path, uri)
    raise InvalidEvent(f"no OpenLineage naming rule for {redact_text(uri)!r}")


def s3_location(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an S3 URI, for reading and writing it; the key keeps a trailing ``/``."""
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() not in S3_SCHEMES:
        raise InvalidEvent(f"not an S3 URI: {redact_text(uri)!r}")
    _s3_name(_bucket(parts.netloc), parts.path, uri)  # the same checks as a dataset name
    return _bucket(parts.netloc), parts.path.lstrip("/")


def glue_table(
    region: str, account: str, database: str, table: str, *, partition: str = "aws"
) -> DatasetName:
    """The OpenLineage name of a Glue Data Catalog table, from its parts."""
    return dataset_name(f"arn:{partition}:glue:{region}:{account}:table/{database}/{table}")


def sagemaker_arn(
    resource_type: str, resource_id: str, *, region: str, account: str, partition: str = "aws"
) -> str:
    """Build a SageMaker ARN from its parts (``model-package``, ``credit-xgb/73``, region, account).

    The id is lower-cased as AWS does, so the result equals the ARN the API returns.
    """
    arn = f"arn:{partition}:sagemaker:{region}:{account}:{resource_type}/{resource_id.lower()}"
    if not (_REGION.fullmatch(region) and _ACCOUNT.fullmatch(account)):
        raise InvalidEvent(f"a SageMaker ARN needs a region and a 12-digit account: {redact_text(arn)!r}")
    dataset_name(arn)  # the same checks as an ARN read from the API
    return arn


def feature_group(region: str, account: str, name: str, *, partition: str = "aws") -> DatasetName:
    """The crossline name of a SageMaker feature group, from its parts."""
    arn = sagemaker_arn("feature-group", name, region=region, account=account, partition=partition)
    return dataset_name(arn)


def _bucket(netloc: str) -> str:
    """The bucket of an S3 URI's authority: what follows any ``userinfo@``."""
    return netloc.rpartition("@")[2]


def _s3_name(bucket: str, path: str, uri: str) -> DatasetName:
    if not bucket:
        raise InvalidEvent(f"S3 URI without a bucket: {redact_text(uri)!r}")
    key = path.lstrip("/").rstrip("/")
    if not key:
        raise InvalidEvent(f"S3 URI names a bucket but no key or prefix: {redact_text(uri)!r}")
    return DatasetName(f"s3://{bucket}", key)


def _arn_name(arn: Arn, raw_resource: str, uri: str) -> DatasetName:
    if arn.service == "s3":
        bucket, _, key = arn.resource_id.partition("/")
        return _s3_name(bucket, key, uri)
    if arn.service not in ("glue", "sagemaker"):
        raise InvalidEvent(f"no OpenLineage naming rule for {arn.service} ARN {redact_text(uri)!r}")
    if not (arn.region and arn.account and arn.account != "aws"):
        raise InvalidEvent(f"{arn.service} ARN without a region or account: {redact_text(uri)!r}")
    namespace = f"arn:{arn.partition}:{arn.service}:{arn.region}:{arn.account}"
    if arn.service == "glue":
        is_table = arn.resource_type == "table" and arn.resource_id.count("/") == 1
        if raw_resource != arn.resource or not is_table:
            raise InvalidEvent(f"only Glue tables (table/{{db}}/{{table}}) are datasets: {redact_text(uri)!r}")
        return DatasetName(namespace, arn.resource)
    if not raw_resource.startswith(f"{arn.resource_type}/"):
        raise InvalidEvent(f"SageMaker ARN resource is not '{{type}}/{{id}}': {redact_text(uri)!r}")
    return DatasetName(namespace, f"{arn.resource_type}/{arn.resource_id.lower()}")
