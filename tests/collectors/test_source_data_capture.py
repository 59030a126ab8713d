"""DataCaptureSource against the moto server, reading what the bed's data capture wrote, through real boto3.

The endpoint ``credit-prod`` serves v73 from 8 March and v74 after the 15 March swap;
loan-8231 is scored on 12 March and loan-9120 on 16 March, each at its clock time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest

from crossline_bed.aws import MotoServer
from crossline_bed.data_capture import record_inference
from crossline.collectors.model import Edge, EdgeKind, Node, NodeKind, inference_id, variant_id
from crossline.collectors.sources import Batch, source_from_config
from crossline.collectors.sources.data_capture import DataCaptureSource
from crossline.collectors.sources.sagemaker import SageMakerSource
from crossline.errors import ConfigError, SourceError

REGION = "us-east-1"
SM = "arn:aws:sagemaker:us-east-1:123456789012"
ENDPOINT_ARN = f"{SM}:endpoint/credit-prod"
ROLE = "arn:aws:iam::123456789012:role/credit-ml"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
V73_VARIANT = variant_id(ENDPOINT_ARN, "credit-prod-v73")
V74_VARIANT = variant_id(ENDPOINT_ARN, "credit-prod-v74")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Read:
    nodes: list[Node]
    edges: list[Edge]
    batches: list[Batch]

    @property
    def watermark(self) -> str | None:
        return self.batches[-1].watermark

    @property
    def warnings(self) -> list[str]:
        """Each warning as ``where: why``."""
        return [str(w) for b in self.batches for w in b.warnings]

    def node(self, node_id: str) -> Node:
        [node] = [n for n in self.nodes if n.id == node_id]
        return node


def read(source: Any, since: str | None = None) -> Read:
    batches = list(source.read(since))
    return Read([n for b in batches for n in b.nodes], [e for b in batches for e in b.edges], batches)


class Bed:
    def __init__(self, moto_server: MotoServer, aws: str) -> None:
        self.moto = moto_server
        self.url = aws
        self.s3 = boto3.client("s3", endpoint_url=aws, region_name=REGION)
        self.sm = boto3.client("sagemaker", endpoint_url=aws, region_name=REGION)

    def deploy(self, version: int, at: str, package_arn: str) -> None:
        self.moto.set_clock(utc(at))
        self.sm.create_model(ModelName=f"credit-xgb-v{version}", ExecutionRoleArn=ROLE,
                             PrimaryContainer={"ModelPackageName": package_arn})
        self.sm.create_endpoint_config(
            EndpointConfigName=f"credit-prod-v{version}",
            ProductionVariants=[{"VariantName": f"credit-prod-v{version}", "ModelName": f"credit-xgb-v{version}",
                                 "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100,
                               "DestinationS3Uri": "s3://credit/datacapture/",
                               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]},
        )
        if version == 73:
            self.sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName="credit-prod-v73")
        else:
            self.sm.update_endpoint(EndpointName="credit-prod", EndpointConfigName=f"credit-prod-v{version}")

    def infer(self, inference: str, at: str, features: str, score: str) -> str:
        self.moto.set_clock(utc(at))
        return record_inference(self.s3, self.sm, "credit-prod", inference, utc(at), features, score)


@pytest.fixture
def bed(moto_server: MotoServer, aws: str) -> Bed:
    """Versions 73 and 74 of credit-xgb on credit-prod, and two scored loans."""
    bed = Bed(moto_server, aws)
    moto_server.set_clock(utc("2027-03-01T08:00:00Z"))
    bed.s3.create_bucket(Bucket="credit")
    bed.sm.create_model_package_group(ModelPackageGroupName="credit-xgb")
    packages = []
    for version in range(1, 75):
        packages.append(bed.sm.create_model_package(
            ModelPackageGroupName="credit-xgb",
            InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://credit/models/v{version}.tar.gz"}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
            ModelApprovalStatus="Approved" if version > 72 else "Rejected",
        )["ModelPackageArn"])
    bed.deploy(73, "2027-03-08T10:00:00Z", packages[72])
    bed.infer("loan-8231", "2027-03-12T10:14:03Z", "8231,41,52000,0.38,3", "0.83")
    bed.deploy(74, "2027-03-15T09:00:00Z", packages[73])
    bed.infer("loan-9120", "2027-03-16T11:02:40Z", "9120,29,31000,0.52,1", "0.22")
    yield bed
    moto_server.set_clock(None)


@pytest.fixture
def source(aws: str) -> DataCaptureSource:
    return DataCaptureSource.from_config({"prefix": "s3://credit/datacapture/", "endpoint_url": aws, "region": REGION})


def test_loan_8231_was_served_by_the_v73_variant(bed: Bed, source: DataCaptureSource) -> None:
    records = read(source)

    node = records.node(inference_id("credit-prod", "loan-8231"))
    assert node.kind is NodeKind.INFERENCE and node.name == "loan-8231"
    assert node.valid_from == utc("2027-03-12T10:14:03Z")
    assert node.props["inferenceTime"] == "2027-03-12T10:14:03+00:00"
    assert (node.props["endpoint"], node.props["variant"]) == ("credit-prod", "credit-prod-v73")
    assert node.props["captureFile"].startswith("s3://credit/datacapture/credit-prod/credit-prod-v73/2027/03/12/10/14-03-")
    assert node.props["input"]["data"] == "8231,41,52000,0.38,3"
    assert node.props["output"]["data"] == "0.83"
    assert node.props["eventId"]
    [served] = [e for e in records.edges if e.dst == node.id]
    assert (served.src, served.kind, served.valid_from) == (V73_VARIANT, EdgeKind.SERVED, utc("2027-03-12T10:14:03Z"))
    [later] = [e for e in records.edges if e.dst == inference_id("credit-prod", "loan-9120")]
    assert later.src == V74_VARIANT
    assert records.warnings == []
    assert source.report.scanned["file"] == 2 and source.report.scanned["record"] == 2


def test_variant_and_time_join_the_deployment_history_to_the_package(bed: Bed, source: DataCaptureSource) -> None:
    """No capture record names a model: the SageMaker source's SERVES intervals do."""
    captured = read(source)
    history = read(SageMakerSource.from_config({"region": REGION, "endpoint_url": bed.url}))

    def served_by(inference: str) -> str:
        [edge] = [e for e in captured.edges if e.dst == inference_id("credit-prod", inference)]
        [serves] = [
            s for s in history.edges
            if s.kind is EdgeKind.SERVES and s.dst == edge.src
            and s.valid_from <= edge.valid_from and (s.valid_to is None or edge.valid_from < s.valid_to)
        ]
        return serves.src

    assert served_by("loan-8231") == f"{SM}:model-package/credit-xgb/73"
    assert served_by("loan-9120") == f"{SM}:model-package/credit-xgb/74"


def test_reading_from_the_watermark_resumes_per_variant_folder(bed: Bed, source: DataCaptureSource) -> None:
    first = read(source)
    marks = json.loads(first.watermark)
    assert set(marks) == {
        "s3://credit/datacapture/credit-prod/credit-prod-v73/", "s3://credit/datacapture/credit-prod/credit-prod-v74/",
    }
    assert marks["s3://credit/datacapture/credit-prod/credit-prod-v73/"].startswith("datacapture/credit-prod/credit-prod-v73/2027/03/12/10/")

    again = read(source, first.watermark)
    assert (again.nodes, again.edges, again.watermark) == ([], [], first.watermark)
    assert source.total(first.watermark) == 0

    # A file flushed late into v73's folder sorts before v74's keys: a single
    # prefix-wide StartAfter would skip it, a per-folder one does not.
    late = "datacapture/credit-prod/credit-prod-v73/2027/03/15/08/59-59-999-late.jsonl"
    line = {"captureData": {}, "eventMetadata": {"eventId": "e-late", "inferenceId": "loan-8999",
                                                  "inferenceTime": "2027-03-15T08:59:59Z"}, "eventVersion": "0"}
    bed.s3.put_object(Bucket="credit", Key=late, Body=json.dumps(line).encode() + b"\n")
    bed.infer("loan-9300", "2027-03-17T09:00:00Z", "9300,50,70000,0.1,0", "0.05")
    assert source.total(first.watermark) == 2
    later = read(source, first.watermark)
    assert sorted(n.name for n in later.nodes) == ["loan-8999", "loan-9300"]
    assert {e.src for e in later.edges} == {V73_VARIANT, V74_VARIANT}
    assert read(source, later.watermark).nodes == []


def test_reading_twice_from_scratch_gives_identical_records(bed: Bed, source: DataCaptureSource) -> None:
    first, second = read(source), read(source)
    assert (first.nodes, first.edges, first.watermark) == (second.nodes, second.edges, second.watermark)


def test_a_malformed_line_is_a_warning_naming_file_and_line(bed: Bed, source: DataCaptureSource) -> None:
    key = "datacapture/credit-prod/credit-prod-v74/2027/03/16/12/00-00-000-mixed.jsonl"
    good = {"captureData": {}, "eventMetadata": {"eventId": "e-1", "inferenceId": "loan-9500",
                                                  "inferenceTime": "2027-03-16T12:00:00Z"}, "eventVersion": "0"}
    no_time = {"eventMetadata": {"eventId": "e-2", "inferenceId": "loan-9501"}}
    body = "{not json\n" + json.dumps(good) + "\n\n" + json.dumps(no_time) + "\n"
    bed.s3.put_object(Bucket="credit", Key=key, Body=body.encode())

    records = read(source)

    uri = f"s3://credit/{key}"
    assert [w for w in records.warnings if uri in w] == [
        f"{uri}:1: record skipped: the line is not JSON (Expecting property name enclosed in double quotes at column 2)",
        f"{uri}:4: record skipped: eventMetadata.inferenceTime is not a time: None",
    ]
    assert records.node(inference_id("credit-prod", "loan-9500")).props["line"] == 2
    assert sorted(n.name for n in records.nodes) == ["loan-8231", "loan-9120", "loan-9500"]
    assert source.report.scanned["malformed_line"] == 2
    # The file was read: its warnings do not hold the watermark back.
    assert json.loads(records.watermark)["s3://credit/datacapture/credit-prod/credit-prod-v74/"] == key


def test_an_endpoint_since_deleted_gets_its_arn_from_region_and_account(bed: Bed, source: DataCaptureSource) -> None:
    bed.sm.delete_endpoint(EndpointName="credit-prod")
    records = read(source)
    assert {e.src for e in records.edges} == {V73_VARIANT, V74_VARIANT}
    assert any("endpoint credit-prod cannot be described" in w for w in records.warnings)


def test_throttling_is_retried_by_crossline_for_s3_and_sagemaker_alike(aws: str) -> None:
    source = source_from_config({"type": "data-capture", "prefixes": ["s3://credit/datacapture/"],
                                 "endpoint_url": aws, "max_attempts": 5})
    assert isinstance(source, DataCaptureSource)
    assert source.s3.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert source.sagemaker.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert source._client.retry.max_attempts == 5


def test_unreachable_s3_is_a_source_error() -> None:
    source = DataCaptureSource.from_config(
        {"prefix": "s3://credit/datacapture/", "endpoint_url": "http://127.0.0.1:9", "max_attempts": 1}
    )
    with pytest.raises(SourceError, match="S3 unreachable listing s3://credit/datacapture/"):
        list(source.read(None))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "no 'prefixes'"),
        ({"prefix": "credit/datacapture"}, "neither an s3:// prefix nor a folder"),
        ({"prefix": "gs://credit/datacapture"}, "not an S3 URI"),
        ({"prefix": "s3://credit/datacapture/", "bucket": "credit"}, "unknown keys"),
        ({"prefix": "s3://credit/datacapture/", "chunk_size": 0}, "chunk_size must be a positive integer"),
    ],
)
def test_bad_config_is_a_config_error(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataCaptureSource.from_config(config)


@pytest.mark.parametrize("watermark", ["datacapture/credit-prod/x.jsonl", '["a"]', '{"s3://credit/x/": 3}'])
def test_a_foreign_watermark_is_a_source_error(source: DataCaptureSource, watermark: str) -> None:
    with pytest.raises(SourceError, match="data-capture watermark"):
        list(source.read(watermark))


def test_a_large_file_comes_in_bounded_batches_and_only_its_end_moves_the_watermark(bed: Bed, aws: str) -> None:
    key = "datacapture/credit-prod/credit-prod-v74/2027/03/16/12/00-00-000-buffered.jsonl"
    lines = [
        {"captureData": {}, "eventMetadata": {"eventId": f"e-{i}", "inferenceId": f"loan-96{i}",
                                              "inferenceTime": "2027-03-16T12:00:00Z"}, "eventVersion": "0"}
        for i in range(3)
    ]
    bed.s3.put_object(Bucket="credit", Key=key, Body="".join(json.dumps(line) + "\n" for line in lines).encode())
    source = DataCaptureSource.from_config({"prefix": "s3://credit/datacapture/", "endpoint_url": aws, "chunk_size": 1})
    before = read(source)  # everything but the buffered file, then the buffered file in three batches
    buffered = [b for b in before.batches if any(n.name.startswith("loan-96") for n in b.nodes)]
    assert [len(b.nodes) for b in buffered] == [1, 1, 1]
    folder = "s3://credit/datacapture/credit-prod/credit-prod-v74/"
    assert [json.loads(b.watermark)[folder] == key for b in buffered] == [False, False, True]


def _sync(bed: Bed, dest) -> None:  # type: ignore[no-untyped-def]
    """What `aws s3 sync s3://credit/datacapture/ dest` leaves: the same layout on disk."""
    for page in bed.s3.get_paginator("list_objects_v2").paginate(Bucket="credit", Prefix="datacapture/"):
        for item in page.get("Contents", []):
            target = dest / item["Key"].removeprefix("datacapture/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bed.s3.get_object(Bucket="credit", Key=item["Key"])["Body"].read())


def test_a_local_copy_of_the_capture_reads_like_s3_with_no_aws_at_all(bed: Bed, source: DataCaptureSource,
                                                                      tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A team that synced its capture files reads them with region and account: same inferences, same joins."""
    _sync(bed, tmp_path / "capture")
    local = DataCaptureSource.from_config({"prefixes": [f"file://{tmp_path / 'capture'}"], "region": REGION,
                                           "account": "123456789012", "endpoint_url": "http://127.0.0.1:9"})
    from_disk, from_s3 = read(local), read(source)
    assert sorted(n.id for n in from_disk.nodes) == sorted(n.id for n in from_s3.nodes)
    assert sorted((e.src, e.dst, e.valid_from) for e in from_disk.edges) == sorted(
        (e.src, e.dst, e.valid_from) for e in from_s3.edges)
    loan = from_disk.node(inference_id("credit-prod", "loan-8231"))
    assert loan.props["captureFile"].startswith(f"file://{tmp_path}/capture/credit-prod/credit-prod-v73/2027/03/12/")
    assert not from_disk.warnings
    # resumes from its watermark like the S3 reading does
    assert read(local, from_disk.watermark).nodes == []


def test_a_local_prefix_that_is_not_a_folder_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="neither an s3:// prefix nor a folder"):
        DataCaptureSource.from_config({"prefixes": [str(tmp_path / "missing")]})
