"""collectors/aws.py: the AWS config, clients and error text every AWS reader and writer shares."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from crossline.collectors import aws
from crossline.collectors.sources.data_capture import DataCaptureConfig
from crossline.collectors.sources.sagemaker import SageMakerConfig
from crossline.errors import ConfigError, SourceError


def client_error(code: str, message: str, operation: str = "DescribeAction") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_error_text_is_code_and_message() -> None:
    err = client_error("ValidationException", "Could not find action 'x'")
    assert aws.error_text(err) == "ValidationException: Could not find action 'x'"
    assert aws.error_code(err) == "ValidationException"
    assert aws.error_text(ClientError({}, "ListArtifacts")) == "?: "


@pytest.mark.parametrize(
    ("code", "message", "gone"),
    [
        ("ResourceNotFound", "Endpoint config credit-prod-v73 not found", True),
        ("ValidationException", "Could not find endpoint configuration \"credit-prod-v73\".", True),
        ("ValidationException", "Model package 999 does not exist.", True),
        ("ValidationException", "1 validation error detected", False),
        ("ThrottlingException", "Rate exceeded", False),
        ("AccessDeniedException", "not authorized", False),
    ],
)
def test_gone_tells_a_deleted_entity_from_a_failed_read(code: str, message: str, gone: bool) -> None:
    assert aws.gone(client_error(code, message)) is gone


def test_unreachable_names_the_service_and_what_was_being_done() -> None:
    err = aws.unreachable(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "during list_artifacts")
    assert isinstance(err, SourceError)
    assert str(err).startswith("SageMaker unreachable during list_artifacts: Could not connect")


def test_clients_are_made_once_per_service_retried_by_one_crossline_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    clients = aws.Clients(aws.AwsConfig(region="eu-west-1", endpoint_url="http://127.0.0.1:9", max_attempts=3))
    first = clients("sagemaker")
    assert clients("sagemaker") is first and clients("s3") is not first
    assert first.meta.region_name == "eu-west-1"
    # botocore makes one attempt; the one Retry of these clients decides on the others.
    assert first.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert clients.retry.max_attempts == 3


def test_no_region_is_a_config_error_saying_where_to_set_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="no AWS region for the sagemaker client"):
        aws.Clients(aws.AwsConfig())("sagemaker")


@pytest.mark.parametrize("config_class", [SageMakerConfig, DataCaptureConfig])
def test_every_aws_config_carries_the_shared_fields(config_class: type) -> None:
    assert issubclass(config_class, aws.AwsConfig)
    extra = {"prefixes": ["s3://credit/datacapture/"]} if config_class is DataCaptureConfig else {}
    made = config_class.from_dict({"region": "eu-west-1", "endpoint_url": "http://x", "profile": "p",
                                   "max_attempts": 2, **extra})
    assert (made.region, made.endpoint_url, made.profile, made.max_attempts) == ("eu-west-1", "http://x", "p", 2)
    with pytest.raises(ConfigError, match="max_attempts must be a positive integer"):
        config_class.from_dict({"max_attempts": True, **extra})
