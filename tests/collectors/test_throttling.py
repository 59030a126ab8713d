"""Throttled AWS: crossline's retry reads the same graph, within a budget, and says so when it cannot.

On the story's own moto server (the ``story`` fixture: the DAG's two weeks, SageMaker,
data capture) the bed throttles 30 % of every SageMaker call, answering as AWS does
(``ThrottlingException``); collecting again gives the graph collected unthrottled, record
for record. On a bare moto server, an operation throttled every time runs out of
attempts: the read warns about that call, holds its watermark, and the next read, once
AWS answers again, gets everything.
"""

from __future__ import annotations

import time

import pytest

from crossline_bed.aws import TEST_ENV, MotoServer
from crossline.collectors import aws
from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.sources import source_from_config
from crossline.collectors.sources.sagemaker import SageMakerSource
from crossline.collectors.store import GraphStore

REGION = TEST_ENV["AWS_DEFAULT_REGION"]


def test_thirty_percent_of_sagemaker_throttled_gives_the_identical_graph(story, story_graph, make_story_sources,
                                                                          tmp_path) -> None:
    unthrottled_store, _ = story_graph
    expected = Graph(unthrottled_store).dump()
    story.aws.throttle("sagemaker", 0.3, seed=12)
    try:
        with GraphStore.open(f"sqlite:///{tmp_path / 'throttled.db'}") as store:
            started = time.perf_counter()
            report = collect(store, make_story_sources())
            seconds = time.perf_counter() - started
            counts = story.aws.throttle_counts()["sagemaker"]
            assert Graph(store).dump() == expected
    finally:
        story.aws.clear_throttle()
    assert counts["throttled"] > 20, counts  # the throttle did bite
    assert not [w for r in report.sources.values() for w in r.warnings if "Throttl" in w.why]
    assert seconds < 120


def test_clients_are_retried_by_crossline_not_by_boto3s_modes(aws: str) -> None:
    source = source_from_config({"type": "sagemaker", "region": REGION, "endpoint_url": aws, "max_attempts": 7,
                                 "retry_base": 0.01})
    assert isinstance(source, SageMakerSource)
    # botocore makes one attempt; the Retry (7 attempts, 10 ms base) decides on the others.
    assert source.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert source._clients.retry.max_attempts == 7 and source._clients.retry.base == 0.01


def test_a_call_throttled_every_time_is_a_warning_and_the_watermark_holds(moto_server: MotoServer, aws: str) -> None:
    sm = aws_client(aws)
    sm.create_model_package_group(ModelPackageGroupName="credit-xgb")
    source = source_from_config({"type": "sagemaker", "region": REGION, "endpoint_url": aws, "max_attempts": 3,
                                 "retry_base": 0.001})
    moto_server.throttle("sagemaker", 1.0, operations=["ListModelPackageGroups"], seed=1)
    try:
        batches = list(source.read(None))
        seen = moto_server.throttle_counts()["sagemaker"]["calls"]
    finally:
        moto_server.clear_throttle()
    assert seen == 3  # max_attempts, then the error surfaces
    warnings = [w for b in batches for w in b.warnings]
    throttled = [w for w in warnings if w.where.startswith("ListModelPackageGroups(")]
    assert throttled and "ThrottlingException" in throttled[0].why and throttled[0].kind == "unavailable"
    assert batches[-1].watermark is None  # held: the next read starts over
    again = list(source.read(None))
    assert not [w for b in again for w in b.warnings if w.where.startswith("ListModelPackageGroups(")]


def test_the_retry_budget_bounds_the_waiting(moto_server: MotoServer, aws: str) -> None:
    source = source_from_config({"type": "sagemaker", "region": REGION, "endpoint_url": aws, "max_attempts": 50,
                                 "retry_base": 0.05, "retry_cap": 0.05, "retry_budget": 0.2})
    assert isinstance(source, SageMakerSource)
    moto_server.throttle("sagemaker", 1.0, seed=1)
    try:
        started = time.perf_counter()
        batches = list(source.read(None))
        seconds = time.perf_counter() - started
    finally:
        moto_server.clear_throttle()
    assert source._clients.retry.slept <= 0.2
    assert seconds < 30  # 50 attempts at up to 50 ms for each of 9 lists would be far longer without the budget
    assert any("ThrottlingException" in w.why for b in batches for w in b.warnings)


@pytest.mark.parametrize("config", [{"retry_base": -1}, {"retry_cap": "x"}, {"retry_budget": True}])
def test_bad_retry_settings_are_a_config_error(config: dict) -> None:
    from crossline.errors import ConfigError

    with pytest.raises(ConfigError, match="retry_"):
        source_from_config({"type": "sagemaker", "region": REGION, **config})


def test_the_wait_doubles_from_the_base_with_full_jitter_within_the_cap() -> None:
    retry = aws.Retry(max_attempts=10, base=0.025, cap=0.1, budget=100, rng=lambda: 1.0)
    waits = [retry(**_throttled(attempt)) for attempt in range(1, 10)]
    assert waits == [0.025, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert retry(**_throttled(10)) is None  # the tenth attempt was the last
    assert (retry.retries, retry.throttled) == (9, 9)


def aws_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("sagemaker", endpoint_url=endpoint, region_name=REGION)


def _throttled(attempt: int) -> dict:
    """The kwargs botocore's needs-retry event passes for a throttled answer."""
    from botocore.awsrequest import AWSResponse
    from botocore.model import ServiceModel

    http = AWSResponse("https://x", 400, {}, None)
    parsed = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {}}
    operation = ServiceModel({"metadata": {"protocol": "json", "serviceId": "SageMaker"}, "operations": {
        "ListActions": {"name": "ListActions", "http": {"method": "POST", "requestUri": "/"}}}}).operation_model(
        "ListActions")
    return {"response": (http, parsed), "attempts": attempt, "caught_exception": None, "operation": operation,
            "request_dict": {"context": {}}}
