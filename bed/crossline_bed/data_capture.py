"""Endpoint data capture on the bed: the record SageMaker writes when an endpoint serves a request.

Contract: ``record_inference(s3, sagemaker, endpoint_name, inference_id, at, input_csv,
output_csv)`` writes, through the caller's boto3 clients (so it is a real S3 object on
the moto server), the one capture record SageMaker would write for a CSV request served
at ``at``, and returns its ``s3://`` URI. The caller has set the bed's clock to ``at``
(``MotoServer.set_clock``): the endpoint is described as it is *now*, and the variant
serving now is the one recorded. Recording a 12 March inference after the 15 March swap
would name the wrong variant, so an endpoint last modified after ``at`` is refused.

Where and what, as SageMaker writes it (developer guide, "Data capture"; the layout of
captured files):

- Key: ``{DestinationS3Uri}/{endpoint}/{variant}/{yyyy}/{mm}/{dd}/{hh}/
  {MM}-{SS}-{mmm}-{uuid}.jsonl``: the hour folder of ``at`` in UTC, and a file named for
  the minute, second and millisecond it was flushed plus a random UUID.
- One JSON line: ``{"captureData": {"endpointInput": {"observedContentType":
  "text/csv", "mode": "INPUT", "data": ..., "encoding": "CSV"}, "endpointOutput":
  {... "mode": "OUTPUT" ...}}, "eventMetadata": {"eventId": uuid, "inferenceId": ...,
  "inferenceTime": "2027-03-12T10:14:03Z"}, "eventVersion": "0"}``. The record carries
  no model ARN: mapping it to a model version means joining (endpoint, variant,
  inferenceTime) against the endpoint's deployment history.

Bed simplifications: the serving variant is the first ProductionVariant (AWS routes by
weight); every request given is captured (no InitialSamplingPercentage sampling); one
record per file (SageMaker buffers several); CSV only. CaptureOptions are honoured: a
config capturing only Input writes no ``endpointOutput``.

Errors: ``BedError`` if capture is off for the endpoint (no DataCaptureConfig, or
EnableCapture false), if the endpoint changed after ``at``, or if describing it fails.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from crossline.emitters.naming import s3_location
from crossline_bed.errors import BedError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

CSV = "text/csv"


def record_inference(
    s3: S3Client,
    sagemaker: SageMakerClient,
    endpoint_name: str,
    inference_id: str,
    at: datetime,
    input_csv: str,
    output_csv: str,
) -> str:
    """Write the capture record of one CSV inference served at ``at``; return its S3 URI."""
    at = _utc(at)
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    except ClientError as err:
        raise BedError(f"cannot describe endpoint {endpoint_name!r} to capture {inference_id!r}: {err}") from err
    if _utc(endpoint["LastModifiedTime"]) > at:
        raise BedError(
            f"endpoint {endpoint_name!r} changed at {endpoint['LastModifiedTime']:%Y-%m-%dT%H:%M:%SZ}, after "
            f"inference {inference_id!r} at {at:%Y-%m-%dT%H:%M:%SZ}: record inferences in time order"
        )
    capture = config.get("DataCaptureConfig")
    if not capture or not capture.get("EnableCapture", True):
        raise BedError(f"data capture is off for endpoint {endpoint_name!r}: no record for {inference_id!r}")
    variant = endpoint["ProductionVariants"][0]["VariantName"]

    modes = {option["CaptureMode"] for option in capture.get("CaptureOptions", [])}
    data: dict[str, Any] = {}
    if modes & {"Input", "InputAndOutput"}:
        data["endpointInput"] = _payload("INPUT", input_csv)
    if modes & {"Output", "InputAndOutput"}:
        data["endpointOutput"] = _payload("OUTPUT", output_csv)
    record = {
        "captureData": data,
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceId": inference_id,
            "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }

    bucket, prefix = s3_location(capture["DestinationS3Uri"])
    file_name = f"{at:%M-%S}-{at.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    key = "/".join(
        part.strip("/") for part in (prefix, endpoint_name, variant, f"{at:%Y/%m/%d/%H}", file_name) if part.strip("/")
    )
    body = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/jsonlines")
    except ClientError as err:
        raise BedError(f"cannot write the capture record of {inference_id!r} to s3://{bucket}/{key}: {err}") from err
    return f"s3://{bucket}/{key}"


def _payload(mode: str, data: str) -> dict[str, str]:
    return {"observedContentType": CSV, "mode": mode, "data": data, "encoding": "CSV"}


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
