"""Data-capture source: each inference an endpoint captured, as an INFERENCE node its variant SERVED.

Contract: ``DataCaptureSource.read(since)`` lists, with the S3 paginator, the capture files
SageMaker writes under each configured prefix (or, for a prefix that is a local folder
or ``file://`` URI, a copy of them on disk, e.g. made with ``aws s3 sync``), laid out as
``{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/{MM}-{SS}-{mmm}-{uuid}.jsonl``, reads each
JSON Lines file and yields, per record, an ``INFERENCE`` node
(``inference_id(endpoint, inferenceId)``; props inferenceTime, eventId, endpoint, variant,
the file's S3 URI and line, the captured input and output) and a ``SERVED`` edge from
``variant_id(endpoint_arn, variant)``, valid from the inference time. A record names no
model: the variant and the time are the join key to the SageMaker source's deployment
history (its SERVES edges into the same variant node). A record without an inferenceId
(the caller sent none) is keyed by its eventId. The endpoint's ARN comes from
DescribeEndpoint, once per endpoint; for an endpoint since deleted it is built with
``sagemaker_arn`` from the region and STS's account. For a local folder with ``region``
and ``account`` configured it is built from them without asking AWS (so a copy of the
capture can be read with no AWS access at all).

Watermark: a JSON object, per variant folder (``s3://bucket/prefix/endpoint/variant/``),
of the last key read there; listing resumes with ``StartAfter``. Keys are time-ordered
within a variant folder only (``v73/2027/03/16`` sorts before ``v74/2027/03/15``), so one
key for the whole prefix would skip a file written later into an earlier variant's
folder. A batch per file (per ``chunk_size`` records for a large file; only its last chunk
moves the watermark), so a crash resumes after the last whole file.

Errors: a line that gives no record is a warning naming the file and line
(``{uri}:{line}``), and is skipped: not JSON (``jsonsafe.loads``), a value no store keeps
alike (NUL, a lone surrogate, NaN, a key twice, too deep, an id too long), no
eventMetadata, no time, no id. Lines end at ``\n`` alone (a JSON string may hold
U+2028). A file gone between list and read is a warning and is passed; any other S3
error is a warning that stops that folder without moving its watermark. ``SourceError`` when S3 (or STS)
cannot be reached, or the watermark is not this source's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from crossline.collectors import aws, jsonsafe
from crossline.collectors.door import record_refusal
from crossline.collectors.log import CollectWarning
from crossline.collectors.model import Edge, EdgeKind, Node, NodeKind, inference_id, variant_id
from crossline.collectors.sources import Batch, Source, text_map_watermark
from crossline.emitters.naming import s3_location, sagemaker_arn
from crossline.errors import ConfigError, HostileInput, InvalidEvent, SourceError
from crossline.times import coerce, stamp

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

SOURCE = "data-capture"


@attrs.frozen(kw_only=True)
class DataCaptureConfig(aws.AwsConfig):
    prefixes: tuple[str, ...] = attrs.field(converter=lambda v: (v,) if isinstance(v, str) else tuple(v))
    account: str | None = None  # for endpoints since deleted; else STS says
    chunk_size: int = 1000

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> DataCaptureConfig:
        values = dict(config)
        if "prefix" in values:
            values.setdefault("prefixes", values.pop("prefix"))
        known = {a.name for a in attrs.fields(cls)}
        aws.unknown_keys(cls, values, "data-capture source",
                         hint=["prefix(es)", *sorted(known - {"prefixes"})])
        if not values.get("prefixes"):
            raise ConfigError("data-capture source: no 'prefixes' (e.g. s3://credit/datacapture/, or a local copy's folder)")
        try:
            made = cls(**values)
            for prefix in made.prefixes:
                if is_local(prefix):
                    if not _local_root(prefix).is_dir():
                        raise ConfigError(f"data-capture source: {prefix} is neither an s3:// prefix nor a folder")
                else:
                    s3_location(prefix)
        except (TypeError, InvalidEvent) as err:
            raise ConfigError(f"data-capture source: {err}") from err
        aws.check_aws(made, "data-capture source")
        if isinstance(made.chunk_size, bool) or not isinstance(made.chunk_size, int) or made.chunk_size < 1:
            raise ConfigError(f"data-capture source: chunk_size must be a positive integer, not {made.chunk_size!r}")
        return made


@dataclass
class DataCaptureReport:
    """Per read: files, records, malformed lines, endpoints and variants seen; every warning."""

    scanned: Counter[str] = field(default_factory=Counter)
    warnings: list[CollectWarning] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"scanned": dict(self.scanned), "warnings": [w.as_dict() for w in self.warnings]}


def is_local(prefix: str) -> bool:
    """A prefix that is not an S3 URI names a folder on this machine (a path or ``file://``)."""
    return "://" not in prefix or prefix.startswith("file://")


def _local_root(prefix: str) -> Path:
    return Path(prefix.removeprefix("file://")).expanduser().resolve()


@dataclass(frozen=True)
class _Folder:
    """One variant's capture folder: ``bucket`` is an S3 bucket, or a local root folder."""

    bucket: str
    key: str  # ends with "/"
    endpoint: str
    variant: str
    local: bool = False

    @property
    def uri(self) -> str:
        return file_uri(self.bucket, self.key) if self.local else f"s3://{self.bucket}/{self.key}"


def file_uri(root: str, key: str) -> str:
    return (Path(root) / key).as_uri() + ("/" if key.endswith("/") else "")


class _FolderFailed(Exception):
    """An S3 call failed for one folder: stop it, keep its watermark."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where, self.why = where, why


class _BadLine(Exception):
    """A capture line that gives no record: why, and what kind of problem (``log.KINDS``)."""

    def __init__(self, why: str, kind: str = "unusable") -> None:
        super().__init__(why)
        self.kind = kind


class DataCaptureSource(Source):
    kind = "data-capture"
    checks_records = True  # each line is read by jsonsafe and its records checked by the door (_record)
    config_class = DataCaptureConfig

    def __init__(self, config: DataCaptureConfig, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config
        self.report = DataCaptureReport()
        self._client = aws.Clients(config)
        self._endpoint_arns: dict[str, str] = {}
        self._account: str | None = config.account
        self._pending: list[str] = []  # warnings not about one file: they ride on the next batch

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DataCaptureSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(DataCaptureConfig.from_dict(values), name=name)

    @property
    def s3(self) -> S3Client:
        return self._client("s3")

    @property
    def sagemaker(self) -> SageMakerClient:
        return self._client("sagemaker")

    # -- reading ----------------------------------------------------------------------
    def read(self, since: str | None) -> Iterator[Batch]:
        self.report, self._pending = DataCaptureReport(), []
        marks = parse_watermark(since)
        for folder in self._folders():
            for key in self._keys(folder, marks.get(folder.uri)):
                try:
                    yield from self._file(folder, key, marks)
                except _FolderFailed as err:
                    self._warn(err.where, err.why, "unavailable")
                    break
        yield self._batch(marks)

    def total(self, since: str | None) -> int | None:
        """Capture files to read after ``since`` (listing only; nothing is read)."""
        marks = parse_watermark(since)
        count = 0
        for folder in self._folders():
            count += sum(1 for _ in self._keys(folder, marks.get(folder.uri)))
        return count

    def _folders(self) -> Iterator[_Folder]:
        """Every ``{prefix}/{endpoint}/{variant}/`` folder, in key order."""
        for prefix in self.config.prefixes:
            local = is_local(prefix)
            bucket, key = (str(_local_root(prefix)), "") if local else s3_location(prefix)
            base = key if not key or key.endswith("/") else f"{key}/"
            for endpoint_key in self._subfolders(bucket, base, local):
                for variant_key in self._subfolders(bucket, endpoint_key, local):
                    endpoint = endpoint_key[len(base):].rstrip("/")
                    variant = variant_key[len(endpoint_key):].rstrip("/")
                    self.report.scanned["variant"] += 1
                    yield _Folder(bucket, variant_key, endpoint, variant, local)

    def _subfolders(self, bucket: str, prefix: str, local: bool = False) -> Iterator[str]:
        if local:
            folder = Path(bucket) / prefix
            yield from sorted(f"{prefix}{p.name}/" for p in folder.iterdir() if p.is_dir())
            return
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    yield common["Prefix"]
        except ClientError as err:
            self._warn(f"S3 ListObjectsV2(s3://{bucket}/{prefix})", f"cannot list: {aws.error_text(err)}", "unavailable")
        except BotoCoreError as err:
            raise aws.unreachable(err, f"listing s3://{bucket}/{prefix}", "S3") from err

    def _keys(self, folder: _Folder, after: str | None) -> Iterator[str]:
        """Capture files of one variant folder after ``after``, oldest first (keys sort by time)."""
        if folder.local:
            root = Path(folder.bucket)
            found = (p.relative_to(root).as_posix() for p in (root / folder.key).rglob("*.jsonl") if p.is_file())
            yield from sorted(k for k in found if after is None or k > after)
            return
        params: dict[str, Any] = {"Bucket": folder.bucket, "Prefix": folder.key}
        if after:
            params["StartAfter"] = after
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(**params):
                for item in page.get("Contents", []):
                    if item["Key"].endswith(".jsonl"):
                        yield item["Key"]
        except ClientError as err:
            self._warn(f"S3 ListObjectsV2({folder.uri})", f"cannot list: {aws.error_text(err)}; its watermark stays",
                       "unavailable")
        except BotoCoreError as err:
            raise aws.unreachable(err, f"listing {folder.uri}", "S3") from err

    def _file(self, folder: _Folder, key: str, marks: dict[str, str]) -> Iterator[Batch]:
        uri = file_uri(folder.bucket, key) if folder.local else f"s3://{folder.bucket}/{key}"
        self.report.scanned["file"] += 1
        batch = self._batch(marks, scanned=1)
        try:
            if folder.local:
                body = (Path(folder.bucket) / key).read_bytes()
            else:
                body = self.s3.get_object(Bucket=folder.bucket, Key=key)["Body"].read()
        except OSError as err:
            raise _FolderFailed(uri, f"cannot read: {err}; {folder.uri} stops here until the next read") from err
        except ClientError as err:
            if aws.error_code(err) in aws.S3_GONE:
                self._warn(uri, "deleted before it could be read: skipped", "note", batch)
                marks[folder.uri] = key
                batch.watermark = dump_watermark(marks)
                yield batch
                return
            raise _FolderFailed(f"S3 GetObject({uri})", f"cannot read: {aws.error_text(err)}; {folder.uri} stops here "
                                "until the next read") from err
        except BotoCoreError as err:
            raise aws.unreachable(err, f"reading {uri}", "S3") from err
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            text = ""
            self._warn(uri, f"not UTF-8 ({err}): skipped", "unreadable", batch)
        endpoint_arn = self._endpoint_arn(folder.endpoint, folder.local) if text.strip() else ""
        # Lines end at "\n" only: JSON strings may hold U+2028 and other breaks str.splitlines splits at.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                node, edge = self._record(folder, endpoint_arn, uri, number, line)
            except _BadLine as err:
                self.report.scanned["malformed_line"] += 1
                self._warn(f"{uri}:{number}", f"record skipped: {err}", err.kind, batch)
                continue
            if len(batch.nodes) >= self.config.chunk_size:  # a large file: bounded batches, watermark held
                yield batch
                batch = self._batch(marks)
            batch.nodes.append(node)
            batch.edges.append(edge)
            self.report.scanned["record"] += 1
        marks[folder.uri] = key
        batch.watermark = dump_watermark(marks)
        yield batch

    def _record(self, folder: _Folder, endpoint_arn: str, uri: str, number: int, line: str) -> tuple[Node, Edge]:
        try:
            record = jsonsafe.loads(line, "the line")
        except HostileInput as err:
            raise _BadLine(str(err), "hostile") from err
        except InvalidEvent as err:
            raise _BadLine(str(err), "unreadable") from err
        meta = record.get("eventMetadata") if isinstance(record, dict) else None
        if not isinstance(meta, dict):
            raise _BadLine("no eventMetadata object")
        at = coerce(meta.get("inferenceTime")) if isinstance(meta.get("inferenceTime"), str) else None
        if at is None:
            raise _BadLine(f"eventMetadata.inferenceTime is not a time: {meta.get('inferenceTime')!r}")
        key = meta.get("inferenceId") or meta.get("eventId")
        if not isinstance(key, str) or not key:
            raise _BadLine("neither eventMetadata.inferenceId nor eventMetadata.eventId")
        capture = record.get("captureData") if isinstance(record.get("captureData"), dict) else {}
        node_id = inference_id(folder.endpoint, key)
        props = {
            k: v for k, v in {
                "inferenceId": meta.get("inferenceId"),
                "eventId": meta.get("eventId"),
                "keyedBy": "inferenceId" if meta.get("inferenceId") else "eventId",
                "inferenceTime": stamp(at),
                "endpoint": folder.endpoint,
                "endpointArn": endpoint_arn,
                "variant": folder.variant,
                "captureFile": uri,
                "line": number,
                "input": capture.get("endpointInput"),
                "output": capture.get("endpointOutput"),
                "eventVersion": record.get("eventVersion"),
            }.items() if v is not None
        }
        node = Node(node_id, NodeKind.INFERENCE, key, SOURCE, props, valid_from=at)
        edge = Edge(variant_id(endpoint_arn, folder.variant), node_id, EdgeKind.SERVED, SOURCE,
                    {"captureFile": uri, "line": number, "api": "S3 ListObjectsV2+GetObject (data capture)"},
                    valid_from=at)
        for made in (node, edge):
            why = record_refusal(made)
            if why is not None:
                raise _BadLine(f"its {made.kind} record cannot be stored: {why}", "hostile")
        return node, edge

    def _endpoint_arn(self, endpoint: str, local: bool = False) -> str:
        """The endpoint's ARN as SageMaker gives it; built from region and account if it is gone."""
        arn = self._endpoint_arns.get(endpoint)
        if arn is not None:
            return arn
        if local and self.config.region and self.config.account:
            try:
                arn = sagemaker_arn("endpoint", endpoint, region=self.config.region, account=self.config.account)
            except InvalidEvent as bad:
                raise ConfigError(f"data-capture source: cannot name endpoint {endpoint!r}: {bad}") from bad
            self._endpoint_arns[endpoint] = arn
            return arn
        try:
            arn = self.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
        except ClientError as err:
            try:
                region = self.config.region or self.sagemaker.meta.region_name
                arn = sagemaker_arn("endpoint", endpoint, region=region, account=self._caller_account())
            except InvalidEvent as bad:
                raise SourceError(f"cannot name endpoint {endpoint!r}: {bad}") from bad
            self._warn(f"SageMaker DescribeEndpoint(EndpointName={endpoint})",
                       f"endpoint {endpoint} cannot be described ({aws.error_text(err)}): its ARN is built as {arn}",
                       "note")
        except BotoCoreError as err:
            raise aws.unreachable(err, f"describing endpoint {endpoint}") from err
        self.report.scanned["endpoint"] += 1
        self._endpoint_arns[endpoint] = arn
        return arn

    def _caller_account(self) -> str:
        if self._account is None:
            try:
                self._account = self._client("sts").get_caller_identity()["Account"]
            except (ClientError, BotoCoreError) as err:
                raise SourceError(f"cannot learn the AWS account from STS: {err}") from err
        return self._account

    def _batch(self, marks: dict[str, str], scanned: int = 0) -> Batch:
        batch = Batch(watermark=dump_watermark(marks), scanned=scanned, warnings=self._pending)
        self._pending = []
        return batch

    def _warn(self, where: str, why: str, kind: str, batch: Batch | None = None) -> None:
        warning = CollectWarning(self.name, where, why, kind)
        self.report.warnings.append(warning)
        (batch.warnings if batch is not None else self._pending).append(warning)


def parse_watermark(since: str | None) -> dict[str, str]:
    return text_map_watermark(since, "data-capture", "a folder -> last key object")


def dump_watermark(marks: dict[str, str]) -> str | None:
    return json.dumps(marks, sort_keys=True, separators=(",", ":")) if marks else None



__all__ = ["DataCaptureConfig", "DataCaptureReport", "DataCaptureSource"]
