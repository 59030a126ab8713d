"""Content versions of S3 datasets: what SageMaker's URI-keyed artifacts cannot tell apart.

Contract: ``read_content_version(s3, uri)`` returns the version of the data at ``uri`` now:
- an object: its S3 VersionId when the bucket is versioned, else its ETag;
- a prefix: ``sha256:`` and the first 16 hex digits of a digest over every current
  object under it, as ``key@VersionId`` (or ``key@ETag``), in key order. Two writes of
  different data to the same prefix get different versions; the same data, the same.
It returns ``None`` when nothing exists at ``uri``, and raises ``SourceError`` when S3
cannot be read, so that callers at the emission boundary decide whether to go on.
Listing goes through boto3's paginators.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from crossline.emitters.naming import s3_location
from crossline.errors import SourceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def read_content_version(s3: "S3Client", uri: str) -> str | None:
    bucket, key = s3_location(uri)
    try:
        if not uri.endswith("/"):
            try:
                head = s3.head_object(Bucket=bucket, Key=key)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
            else:
                return head.get("VersionId") or head["ETag"].strip('"')
        return _prefix_version(s3, bucket, key.rstrip("/") + "/")
    except (ClientError, BotoCoreError) as err:
        raise SourceError(f"cannot read the content version of {uri}: {err}") from err


def _prefix_version(s3: "S3Client", bucket: str, prefix: str) -> str | None:
    """One paginated ListObjectVersions: the latest version of each key (delete markers hide it)."""
    latest: dict[str, str] = {}
    deleted: set[str] = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version["IsLatest"]:
                stamp = version["VersionId"] if version["VersionId"] != "null" else version["ETag"].strip('"')
                latest[version["Key"]] = stamp
        for marker in page.get("DeleteMarkers", []):
            if marker["IsLatest"]:
                deleted.add(marker["Key"])
    for key in deleted:
        latest.pop(key, None)
    if not latest:
        return None
    digest = hashlib.sha256("".join(f"{key}@{latest[key]}\n" for key in sorted(latest)).encode())
    return f"sha256:{digest.hexdigest()[:16]}"
