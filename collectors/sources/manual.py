"""``manual``: facts a team keeps by hand (approvals, exclusion lists, tickets), from a CSV or a DynamoDB export.

Contract: ``paths`` names CSV files, or DynamoDB table exports in DYNAMODB_JSON format (the
folder ``.../AWSDynamoDB/{ExportId}/`` holding ``manifest-summary.json``, or a folder
above several), on disk or in S3 (``s3://bucket/prefix/``). Each row or item is one
fact with the columns (renamed by ``columns`` when a table names them otherwise):

``record_id`` (required), ``recorded_at`` (required, ISO 8601), ``recorded_by``
(required), ``subject`` (required: an ARN or a storage URI), ``fact`` (required: e.g.
``model_approval``, ``exclusion_list_approval``), ``value``, ``decided_by``,
``decided_at`` (ISO 8601), ``ticket``, ``note``; any other column is kept too.

Each fact is a ``MANUAL_FACT`` node, id ``manual_fact_id(table, record_id)`` (the table:
``table`` from the config, else the CSV's file name without its suffix, else the table
named by the export's ``tableArn``, so a CSV and an export of the same table give the
same ids), valid from ``decided_at`` (else ``recorded_at``), with every column as a
prop and its evidence: who recorded it and when, the file and line (or export and data
file) it was read from. A ``RECORDS`` edge goes from it to its subject: the SageMaker
entity when the subject is a SageMaker ARN (the node the SageMaker source keys by ARN),
else the dataset the naming function names. A fact is evidence, never a system's
record: a manual approval is not an approval decision of the registry; reconciliation
corroborates it against the system's record, and a system's record wins over it (a
conflict is reported there).

A fact's props are redacted (``crossline.redact``): a hand-kept table's notes may hold
anything. A malformed row (a required column empty, a time that does not parse, a subject that
names nothing) is a warning naming the file, the line and why, and is skipped; a
record id seen twice keeps the later row, with a warning. The rest is read.

Watermark: a JSON object, per input (file path, or export ARN), of its content's SHA-256
(for an export: its ARN and export time). An input whose fingerprint is unchanged is
not read again; a changed one is read whole (facts are upserted by id). One batch per
input, carrying the watermark with that input done.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from crossline.collectors import aws
from crossline.collectors.log import CollectWarning
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, dataset_id, manual_fact_id
from crossline.collectors.sources import Batch, Source, text_map_watermark
from crossline.emitters.naming import parse_arn, s3_location
from crossline.errors import ConfigError, InvalidEvent, SourceError, SourceInputInvalid
from crossline.redact import redact
from crossline.times import coerce, stamp

SOURCE = "manual"
FIELDS = ("record_id", "recorded_at", "recorded_by", "subject", "fact", "value", "decided_by", "decided_at", "ticket", "note")
REQUIRED = ("record_id", "recorded_at", "recorded_by", "subject", "fact")
PROPS = {  # column -> prop name
    "record_id": "recordId", "recorded_at": "recordedAt", "recorded_by": "recordedBy", "subject": "subject",
    "fact": "fact", "value": "value", "decided_by": "decidedBy", "decided_at": "decidedAt", "ticket": "ticket",
    "note": "note",
}


def _paths(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(p, str | Path) for p in items):
        raise ConfigError(f"manual source: 'paths' must be a path or a list of paths, got {value!r}")
    return tuple(str(p) for p in items)


@attrs.frozen(kw_only=True)
class ManualConfig(aws.AwsConfig):
    paths: tuple[str, ...] = attrs.field(converter=_paths)
    table: str | None = None  # the ids' table; default: the file's stem / the export's table
    columns: Mapping[str, str] = attrs.field(factory=dict, converter=dict)  # our field -> the table's column

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> ManualConfig:
        values = dict(config)
        if "path" in values:
            values.setdefault("paths", values.pop("path"))
        aws.unknown_keys(cls, values, "manual source", hint=["path(s)", "table", "columns", "region", "endpoint_url",
                                                              "profile", "max_attempts"])
        if not values.get("paths"):
            raise ConfigError("manual source: 'paths' is required (a CSV file, or a DynamoDB export folder)")
        try:
            made = cls(**values)
        except TypeError as err:
            raise ConfigError(f"manual source: {err}") from err
        aws.check_aws(made, "manual source")
        unknown = set(made.columns) - set(FIELDS)
        if unknown or not all(isinstance(v, str) and v for v in made.columns.values()):
            raise ConfigError(f"manual source: 'columns' maps our fields {list(FIELDS)} to column names; "
                              f"got {dict(made.columns)!r}")
        return made


@dataclass
class ManualReport:
    scanned: dict[str, int] = field(default_factory=lambda: {"input": 0, "row": 0, "fact": 0, "skipped": 0})
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Input:
    """One thing to read: a CSV, or one DynamoDB export (its data files)."""

    key: str  # the watermark's key: a path/URI, or the export's ARN
    fingerprint: str
    table: str
    rows: list[tuple[str, dict[str, Any]]]  # (where, row)


class ManualSource(Source):
    kind = SOURCE
    config_class = ManualConfig

    def __init__(self, config: ManualConfig, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config
        self.report = ManualReport()
        self._clients = aws.Clients(config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ManualSource:
        values = dict(config)
        name = values.pop("name", None)
        return cls(ManualConfig.from_dict(values), name=name)

    def read(self, since: str | None) -> Iterator[Batch]:
        self.report = ManualReport()
        marks = parse_watermark(since)
        for found in self._inputs():
            self.report.scanned["input"] += 1
            if marks.get(found.key) == found.fingerprint:
                continue
            batch = Batch(scanned=len(found.rows))
            self._facts(found, batch)
            marks[found.key] = found.fingerprint
            batch.watermark = json.dumps(marks, sort_keys=True, separators=(",", ":"))
            yield batch
        yield Batch(watermark=json.dumps(marks, sort_keys=True, separators=(",", ":")) if marks else since)

    def total(self, since: str | None) -> int | None:
        return len(self.config.paths)

    # -- inputs ---------------------------------------------------------------------------
    def _inputs(self) -> Iterator[_Input]:
        for spec in self.config.paths:
            if spec.startswith("s3://"):
                yield from self._s3_inputs(spec)
                continue
            path = Path(spec).expanduser()
            if path.is_file():
                yield self._file_input(str(path.resolve()), path.read_bytes())
            elif path.is_dir():
                summaries = sorted(path.rglob("manifest-summary.json"))
                if not summaries:
                    raise SourceInputInvalid(f"manual source: {path} holds no manifest-summary.json (not a DynamoDB export)")
                for summary in summaries:
                    yield self._export(str(summary.parent), lambda rel: (summary.parent / rel).read_bytes(),
                                       summary.read_bytes(), root_of=lambda key: _local_root(summary.parent, key))
            else:
                raise ConfigError(f"manual source: {spec} does not exist; give a CSV file, a DynamoDB JSON export "
                                  "folder or an s3:// URI")

    def _file_input(self, where: str, data: bytes) -> _Input:
        name = PurePosixPath(where).name
        if name.endswith((".json", ".json.gz")):  # one DYNAMODB_JSON data file on its own
            table = self.config.table or name.split(".")[0]
            return _Input(where, _sha(data), table, list(_items(where, data)))
        table = self.config.table or PurePosixPath(where).stem
        return _Input(where, _sha(data), table, list(_csv_rows(where, data)))

    def _export(self, where: str, read: Any, summary_bytes: bytes, root_of: Any) -> _Input:
        try:
            summary = json.loads(summary_bytes)
        except json.JSONDecodeError as err:
            raise SourceInputInvalid(f"manual source: {where}/manifest-summary.json is not JSON: {err}") from err
        if summary.get("outputFormat") not in (None, "DYNAMODB_JSON"):
            raise SourceInputInvalid(f"manual source: {where} is a {summary.get('outputFormat')} export; "
                              "only DYNAMODB_JSON is read")
        table_arn = str(summary.get("tableArn") or "")
        table = self.config.table or table_arn.rsplit("/", 1)[-1] or PurePosixPath(where).name
        key = str(summary.get("exportArn") or where)
        rows: list[tuple[str, dict[str, Any]]] = []
        manifest = summary.get("manifestFilesS3Key") or ""
        files = read(root_of(manifest)).decode("utf-8").splitlines() if manifest else []
        for line in files:
            if not line.strip():
                continue
            data_key = json.loads(line)["dataFileS3Key"]
            rows.extend(_items(f"{key} {data_key}", read(root_of(data_key))))
        return _Input(key, f"{key}@{summary.get('exportTime')}", table, rows)

    def _s3_inputs(self, uri: str) -> Iterator[_Input]:
        try:
            bucket, key = s3_location(uri)
        except InvalidEvent as err:
            raise ConfigError(f"manual source: {err}") from err
        s3 = self._clients("s3")

        def get(object_key: str) -> bytes:
            try:
                return s3.get_object(Bucket=bucket, Key=object_key)["Body"].read()  # type: ignore[no-any-return]
            except ClientError as err:
                raise SourceError(f"manual source: cannot read s3://{bucket}/{object_key}: {aws.error_text(err)}") from err
            except BotoCoreError as err:
                raise aws.unreachable(err, f"reading s3://{bucket}/{object_key}", "S3") from err

        if key and not key.endswith("/"):
            yield self._file_input(f"s3://{bucket}/{key}", get(key))
            return
        try:
            summaries = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
                         for o in page.get("Contents", []) if o["Key"].endswith("/manifest-summary.json")]
        except ClientError as err:
            raise SourceError(f"manual source: cannot list {uri}: {aws.error_text(err)}") from err
        except BotoCoreError as err:
            raise aws.unreachable(err, f"listing {uri}", "S3") from err
        if not summaries:
            raise SourceInputInvalid(f"manual source: {uri} holds no manifest-summary.json (not a DynamoDB export)")
        for summary_key in sorted(summaries):
            folder = summary_key.rsplit("/", 1)[0]
            # Keys in the manifests are from the bucket's root (as the export wrote them).
            yield self._export(f"s3://{bucket}/{folder}", get, get(summary_key), root_of=lambda k: k)

    # -- facts ----------------------------------------------------------------------------
    def _facts(self, found: _Input, batch: Batch) -> None:
        seen: dict[str, str] = {}
        facts: dict[NodeId, tuple[Node, Edge | None]] = {}
        for where, raw in found.rows:
            self.report.scanned["row"] += 1
            try:
                node, edge = self._fact(found, where, raw)
            except ValueError as err:
                self.report.scanned["skipped"] += 1
                self._warn(batch, where, f"{err}; skipped")
                continue
            record = str(node.props["recordId"])
            if record in seen:
                self._warn(batch, where, f"record {record} again (first at {seen[record]}); the later row is kept", "note")
            seen[record] = where
            facts[node.id] = (node, edge)
        for node, edge in facts.values():
            self.report.scanned["fact"] += 1
            batch.nodes.append(node)
            if edge is not None:
                batch.edges.append(edge)

    def _fact(self, found: _Input, where: str, raw: dict[str, Any]) -> tuple[Node, Edge | None]:
        if "_malformed" in raw:
            raise ValueError(raw["_malformed"])
        columns = {f: self.config.columns.get(f, f) for f in FIELDS}
        row = {f: _text(raw.get(columns[f])) for f in FIELDS}
        missing = [columns[f] for f in REQUIRED if not row[f]]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        recorded = coerce(row["recorded_at"])
        if recorded is None:
            raise ValueError(f"{columns['recorded_at']} is not a time: {row['recorded_at']!r}")
        decided = coerce(row["decided_at"]) if row["decided_at"] else None
        if row["decided_at"] and decided is None:
            raise ValueError(f"{columns['decided_at']} is not a time: {row['decided_at']!r}")
        subject = subject_id(row["subject"])
        if subject is None:
            raise ValueError(f"subject {row['subject']!r} is neither an ARN nor a storage URI crossline can name")
        extra = {k: v for k, v in raw.items() if k not in columns.values() and v not in (None, "")}
        props: dict[str, Any] = {PROPS[f]: row[f] for f in FIELDS if row[f]}
        props.update({
            "recordedAt": stamp(recorded),
            "decidedAt": stamp(decided),
            "subjectId": subject,
            "table": found.table,
            "readFrom": where,
            **({"extra": extra} if extra else {}),
        })
        node_id = manual_fact_id(found.table, row["record_id"])
        label = f"{row['record_id']} {row['fact']}" + (f" {row['value']}" if row["value"] else "")
        node = Node(node_id, NodeKind.MANUAL_FACT, label, SOURCE, redact({k: v for k, v in props.items() if v is not None}),
                    valid_from=decided or recorded)
        edge = Edge(node_id, subject, EdgeKind.RECORDS, SOURCE,
                    {"fact": row["fact"], "value": row["value"] or None, "recordedBy": row["recorded_by"],
                     "recordedAt": stamp(recorded), "readFrom": where},
                    valid_from=decided or recorded)
        return node, edge

    def _warn(self, batch: Batch, where: str, why: str, kind: str = "unusable") -> None:
        """A warning naming the file and line (``where``), as every source's do."""
        self.report.warnings.append(f"{where}: {why}")
        batch.warnings.append(CollectWarning(SOURCE, where, why, kind))


def subject_id(subject: str) -> NodeId | None:
    """The node a fact is about: a SageMaker entity by its ARN, else the dataset the naming function names."""
    text = subject.strip()
    if text.startswith("arn:"):
        try:
            parts = parse_arn(text)
        except InvalidEvent:
            return None
        if parts.service == "sagemaker":
            return NodeId(text)
    try:
        return dataset_id(text)
    except InvalidEvent:
        return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _local_root(folder: Path, key: str) -> Path:
    """A manifest's key (from the bucket root, ``prefix/AWSDynamoDB/{id}/...``) as a path under ``folder``."""
    marker = f"/{folder.name}/"
    _, sep, rest = f"/{key}".partition(marker)
    return Path(rest) if sep else Path(key)


def _csv_rows(where: str, data: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceInputInvalid(f"manual source: {where} is not UTF-8: {err}") from err
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return
    for row in reader:
        yield f"{where}:{reader.line_num}", {k: v for k, v in row.items() if k is not None}


def _items(where: str, data: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    """Items of a DYNAMODB_JSON data file (gzip'd or not): ``{"Item": {attr: {type: value}}}`` per line."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except OSError as err:
            raise SourceError(f"manual source: {where} is not readable gzip: {err}") from err
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)["Item"]
            yield f"{where}:{number}", {k: _attribute(v) for k, v in item.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            yield f"{where}:{number}", {"_malformed": f"not a DynamoDB JSON item ({err})"}


def _attribute(value: dict[str, Any]) -> Any:
    """DynamoDB's typed JSON to a plain value (S, N as text, BOOL, NULL, L, M, sets)."""
    (kind, inner), = value.items()
    if kind == "NULL":
        return None
    if kind == "L":
        return [_attribute(v) for v in inner]
    if kind == "M":
        return {k: _attribute(v) for k, v in inner.items()}
    return inner


def parse_watermark(since: str | None) -> dict[str, str]:
    return text_map_watermark(since, "manual", "an input -> fingerprint object")


__all__ = ["FIELDS", "ManualConfig", "ManualSource", "subject_id"]
