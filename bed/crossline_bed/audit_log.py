"""A team's hand-kept audit table, as a CSV and as a DynamoDB table export.

Contract: ``AuditRecord`` is one row of the manual audit log teams keep beside their
systems (who decided what about which subject, when, under which ticket, and who wrote
it down, when). ``write_csv(records, path)`` writes them with the header ``COLUMNS``
(UTF-8, RFC 4180 quoting, times in ISO 8601 UTC with ``Z``).

``write_dynamodb_export(records, root, ...)`` writes the same rows as
``aws dynamodb export-table-to-point-in-time --export-format DYNAMODB_JSON`` leaves them
in S3 (DynamoDB developer guide, "DynamoDB table export output format"), under
``root/{prefix}/AWSDynamoDB/{ExportId}/``:

- ``_started`` (empty), ``data/{random}.json.gz``: gzip'd JSON lines, one
  ``{"Item": {attribute: {"S": ...}}}`` per item, attributes in DynamoDB's typed JSON
  (strings ``S``; an empty field is left out, as DynamoDB stores no empty attribute);
- ``manifest-files.json``: JSON lines ``{"itemCount", "md5Checksum" (base64 MD5 of the
  file), "etag" (hex MD5), "dataFileS3Key"}``;
- ``manifest-summary.json``: ``version`` 2020-06-30, ``exportArn``, ``startTime``,
  ``endTime``, ``tableArn``, ``tableId``, ``exportTime``, ``s3Bucket``, ``s3Prefix``,
  ``s3SseAlgorithm``, ``s3SseKmsKeyId``, ``manifestFilesS3Key``, ``billedSizeBytes``,
  ``itemCount``, ``outputFormat`` DYNAMODB_JSON, ``exportType`` FULL_EXPORT;
- ``manifest-summary.checksum`` and ``manifest-files.checksum``: the hex MD5 of the
  manifest beside them (the guide names these files without showing their content;
  this is the bed's choice).

``ExportId`` is ``{export time in epoch milliseconds, 14 digits}-{8 hex}``, as AWS forms
it. It returns the export's folder. ``upload(folder, s3, bucket)`` copies a written
export (or any folder) into S3 under the same keys.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import json
import random
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AuditRecord:
    record_id: str
    recorded_at: str
    recorded_by: str
    subject: str
    fact: str
    value: str
    decided_by: str
    decided_at: str
    ticket: str
    note: str = ""


COLUMNS = tuple(f.name for f in fields(AuditRecord))


def write_csv(records: list[AuditRecord], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow(asdict(record))
    return path


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _md5(data: bytes) -> hashlib._Hash:
    return hashlib.md5(data, usedforsecurity=False)


def write_dynamodb_export(
    records: list[AuditRecord],
    root: Path,
    *,
    table_arn: str,
    bucket: str,
    prefix: str,
    export_time: datetime,
    seed: int = 0,
) -> Path:
    """Write ``records`` as a DYNAMODB_JSON full export; return the export's folder."""
    rng = random.Random(seed)
    export_id = f"{int(export_time.timestamp() * 1000):014d}-{rng.getrandbits(32):08x}"
    base = f"{prefix.strip('/')}/AWSDynamoDB/{export_id}" if prefix.strip("/") else f"AWSDynamoDB/{export_id}"
    folder = root / base
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "_started").write_bytes(b"")
    lines = [json.dumps({"Item": {k: {"S": v} for k, v in asdict(r).items() if v != ""}}, sort_keys=True) for r in records]
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    name = base64.b32encode(rng.getrandbits(130).to_bytes(17, "big")).decode().lower().rstrip("=")[:26]
    data_key = f"{base}/data/{name}.json.gz"
    (root / data_key).write_bytes(data)
    digest = _md5(data)
    files = json.dumps({
        "itemCount": len(records),
        "md5Checksum": base64.b64encode(digest.digest()).decode(),
        "etag": digest.hexdigest(),
        "dataFileS3Key": data_key,
    }) + "\n"
    summary = json.dumps({
        "version": "2020-06-30",
        "exportArn": f"{table_arn}/export/{export_id}",
        "startTime": _iso(export_time),
        "endTime": _iso(export_time),
        "tableArn": table_arn,
        "tableId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "exportTime": _iso(export_time),
        "s3Bucket": bucket,
        "s3Prefix": prefix.strip("/") or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{base}/manifest-files.json",
        "billedSizeBytes": len(data),
        "itemCount": len(records),
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }, indent=2)
    for stem, text in (("manifest-files", files), ("manifest-summary", summary)):
        (folder / f"{stem}.json").write_text(text)
        (folder / f"{stem}.checksum").write_text(_md5(text.encode()).hexdigest())
    return folder


def read_dynamodb_export(root: Path, folder: Path) -> list[dict[str, Any]]:
    """The items of an export written above (``root`` is where its keys start), as plain dicts."""
    items = []
    for line in (folder / "manifest-files.json").read_text().splitlines():
        entry = json.loads(line)
        for row in gzip.decompress((root / entry["dataFileS3Key"]).read_bytes()).decode().splitlines():
            if row.strip():
                items.append({k: v["S"] for k, v in json.loads(row)["Item"].items()})
    return items


def upload(folder: Path, root: Path, s3: Any, bucket: str) -> list[str]:
    """Copy every file under ``folder`` into ``bucket`` at its path relative to ``root``."""
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys
