"""The one naming function: any storage URI to an OpenLineage ``(namespace, name)``.

Contract: ``dataset_name(uri)`` is the join key of crossline. Emitters call it to name
the datasets they emit, collectors call it to match OpenLineage datasets with
SageMaker artifacts; nothing else in the project parses URIs. It follows the
OpenLineage naming spec:

- S3 (``s3``, ``s3a``, ``s3n``): namespace ``s3://{bucket}``, name ``{key}`` without a
  trailing ``/`` (as Airflow's provider names prefixes).

Anything it cannot name is an ``InvalidEvent`` naming the URI, never a guess.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from crossline.errors import InvalidEvent

S3_SCHEMES = frozenset({"s3", "s3a", "s3n"})


class DatasetName(NamedTuple):
    namespace: str
    name: str


def dataset_name(uri: str) -> DatasetName:
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    if scheme in S3_SCHEMES:
        if not parts.netloc:
            raise InvalidEvent(f"S3 URI without a bucket: {uri!r}")
        key = parts.path.lstrip("/").rstrip("/")
        if not key:
            raise InvalidEvent(f"S3 URI names a bucket but no key or prefix: {uri!r}")
        return DatasetName(f"s3://{parts.netloc}", key)
    raise InvalidEvent(f"no OpenLineage naming rule for {uri!r}")
