"""The bed throttles any AWS API at a given rate, and answers as AWS does, per protocol.

Real boto3 clients against the bed's moto server. With retries off, each throttled call
raises the error AWS sends, which botocore's retry handlers classify as throttling; with
boto3's retries the calls succeed: all of them with 10 attempts, and with the default 3
all but those throttled at every attempt.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import boto3
import pytest
import requests
from botocore import retryhandler, translate
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import create_loader
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from crossline_bed.aws import MotoServer
from crossline_bed.errors import BedError

NO_RETRY = Config(retries={"total_max_attempts": 1})
BUCKET = "throttle-bucket"


def client(aws: str, service: str, config: Config = NO_RETRY) -> Any:
    return boto3.client(service, endpoint_url=aws, region_name="us-east-1", config=config)


def outcomes(calls: int, call: Any) -> tuple[int, list[ClientError]]:
    """(successes, errors) of ``calls`` calls."""
    ok, errors = 0, []
    for _ in range(calls):
        try:
            call()
            ok += 1
        except ClientError as err:
            errors.append(err)
    return ok, errors


def botocore_says_throttling(service: str, operation: str, err: ClientError) -> bool:
    """Standard/adaptive mode's throttling check, and legacy mode's retry decision, on ``err``."""
    standard = ThrottledRetryableChecker().is_retryable(RetryContext(attempt_number=1, parsed_response=err.response))
    raw = create_loader().load_data("_retry")
    config = translate.build_retry_config(service, raw["retry"], raw.get("definitions", {}))
    legacy = retryhandler.create_checker_from_retry_config(config, operation_name=operation)

    class Http:
        status_code = err.response["ResponseMetadata"]["HTTPStatusCode"]

    return standard and bool(legacy(attempt_number=1, response=(Http(), err.response), caught_exception=None,
                                    retries_context={}))


def test_sagemaker_calls_are_throttled_at_the_rate_as_aws_answers(moto_server: MotoServer, aws: str) -> None:
    moto_server.throttle("sagemaker", 0.3, seed=7)
    calls = 300
    ok, errors = outcomes(calls, client(aws, "sagemaker").list_artifacts)

    counts = moto_server.throttle_counts()["sagemaker"]
    assert counts["calls"] == calls and counts["throttled"] == len(errors) == calls - ok
    sigma = math.sqrt(calls * 0.3 * 0.7)
    assert abs(len(errors) - 0.3 * calls) < 4 * sigma, len(errors)
    for err in errors:
        meta = err.response["ResponseMetadata"]
        assert (err.response["Error"]["Code"], meta["HTTPStatusCode"]) == ("ThrottlingException", 400)
        assert err.response["Error"]["Message"] == "Rate exceeded"
        assert meta["HTTPHeaders"]["x-amzn-errortype"] == "ThrottlingException"
    assert botocore_says_throttling("sagemaker", "ListArtifacts", errors[0])


def test_the_seed_fixes_which_calls_are_throttled(moto_server: MotoServer, aws: str) -> None:
    sagemaker = client(aws, "sagemaker")
    patterns = []
    for _ in range(2):
        moto_server.throttle("sagemaker", 0.5, seed=11)
        pattern = []
        for _ in range(40):
            try:
                sagemaker.list_contexts()
                pattern.append(False)
            except ClientError:
                pattern.append(True)
        patterns.append(pattern)
    assert patterns[0] == patterns[1] and any(patterns[0]) and not all(patterns[0])


def test_only_the_named_operations_are_throttled(moto_server: MotoServer, aws: str) -> None:
    moto_server.throttle("sagemaker", 1.0, operations=["ListActions"])
    sagemaker = client(aws, "sagemaker")
    assert sagemaker.list_artifacts()["ArtifactSummaries"] == []
    with pytest.raises(ClientError, match="ThrottlingException"):
        sagemaker.list_actions()
    assert moto_server.throttle_counts()["sagemaker"]["calls"] == 1  # ListArtifacts did not count


def test_s3_is_throttled_with_slowdown_503_on_its_rest_operations(moto_server: MotoServer, aws: str) -> None:
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"a")
    moto_server.throttle("s3", 1.0, operations=["ListObjectsV2", "PutObject"])

    ok, errors = outcomes(3, lambda: s3.list_objects_v2(Bucket=BUCKET))
    assert ok == 0
    err = errors[0]
    assert (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]) == ("SlowDown", 503)
    assert botocore_says_throttling("s3", "ListObjectsV2", err)
    with pytest.raises(ClientError, match="SlowDown"):
        s3.put_object(Bucket=BUCKET, Key="b", Body=b"b")
    # Same method and path as PutObject, told apart by its required x-amz-copy-source header.
    s3.copy_object(Bucket=BUCKET, Key="c", CopySource=f"{BUCKET}/a")
    assert s3.get_object(Bucket=BUCKET, Key="a")["Body"].read() == b"a"
    assert moto_server.throttle_counts()["s3"]["calls"] == 4


def test_query_protocol_calls_are_throttled_with_throttling_400(moto_server: MotoServer, aws: str) -> None:
    moto_server.throttle("iam", 1.0, operations=["ListRoles"])
    iam = client(aws, "iam")
    with pytest.raises(ClientError) as raised:
        iam.list_roles()
    err = raised.value
    assert (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]) == ("Throttling", 400)
    assert botocore_says_throttling("iam", "ListRoles", err)
    assert iam.list_users()["Users"] == []  # the form body was read and put back for moto


def test_boto3_default_retries_absorb_throttling(moto_server: MotoServer, aws: str) -> None:
    """Default retries (this botocore: standard mode, 3 attempts) fail a call only if all 3 are throttled."""
    moto_server.throttle("sagemaker", 0.3, seed=7)
    sagemaker = client(aws, "sagemaker", Config())
    results, errors = [], []
    for _ in range(40):
        try:
            results.append(sagemaker.list_artifacts())
        except ClientError as err:
            errors.append(err)
    retries = sum(r["ResponseMetadata"]["RetryAttempts"] for r in results)
    counts = moto_server.throttle_counts()["sagemaker"]
    assert counts["throttled"] == retries + 3 * len(errors) > 0
    assert all(e.response["ResponseMetadata"]["RetryAttempts"] == 2 for e in errors)
    assert len(results) >= 36  # 0.3 ** 3 of the calls, about 1 in 37, exhaust their attempts


def test_with_ten_attempts_every_throttled_call_succeeds(moto_server: MotoServer, aws: str) -> None:
    moto_server.throttle("sagemaker", 0.3, seed=7)
    sagemaker = client(aws, "sagemaker", Config(retries={"mode": "standard", "max_attempts": 10}))
    results = [sagemaker.list_artifacts() for _ in range(40)]
    counts = moto_server.throttle_counts()["sagemaker"]
    assert counts["throttled"] == sum(r["ResponseMetadata"]["RetryAttempts"] for r in results) > 0


def test_clearing_and_reset_stop_throttling(moto_server: MotoServer, aws: str) -> None:
    sagemaker = client(aws, "sagemaker")
    moto_server.throttle("sagemaker", 1.0)
    moto_server.clear_throttle()
    assert outcomes(5, sagemaker.list_artifacts) == (5, [])
    assert moto_server.throttle_counts() == {}
    moto_server.throttle("sagemaker", 1.0)
    moto_server.reset()
    assert outcomes(5, sagemaker.list_artifacts) == (5, [])


def test_glue_faults_and_throttles_show_side_by_side_and_delete_clears_both(moto_server: MotoServer, aws: str) -> None:
    moto_server.inject_glue_failure("job", "boom")
    moto_server.throttle("glue", 0.25, operations=["GetJobRun"], seed=3)
    state = requests.get(f"{aws}/crossline-bed/faults", timeout=10).json()
    assert state == {"faults": {"job": ["boom"]}, "throttle": [
        {"service": "glue", "operations": ["GetJobRun"], "rate": 0.25, "seed": 3, "calls": 0, "throttled": 0}]}
    moto_server.clear_faults()
    assert requests.get(f"{aws}/crossline-bed/faults", timeout=10).json() == {"faults": {}, "throttle": []}


@pytest.mark.parametrize(
    "spec",
    [{"operations": ["*"], "rate": 0.3}, {"service": "sagemaker", "rate": 1.5}, {"service": "sagemaker", "rate": "high"},
     {"service": "sagemaker", "rate": 0.3, "operations": []}, {"service": "sagemaker", "rate": 0.3, "seed": 1.5},
     {"service": "sagemaker", "rate": 0.3, "burst": 2}, "sagemaker"],
    ids=["no-service", "rate-above-1", "rate-text", "no-operations", "seed-float", "unknown-key", "not-an-object"],
)
def test_a_malformed_throttle_is_refused(aws: str, spec: Any) -> None:
    response = requests.post(f"{aws}/crossline-bed/faults", json={"throttle": spec}, timeout=10)
    assert response.status_code == 400
    assert '"throttle" must be' in response.json()["error"]
    assert requests.get(f"{aws}/crossline-bed/faults/throttle", timeout=10).json() == {"throttle": []}


def test_the_client_raises_bed_error_for_a_bad_rate(moto_server: MotoServer, aws: str) -> None:
    with pytest.raises(BedError, match="HTTP 400"):
        moto_server.throttle("sagemaker", 2.0)
