"""Reading SageMaker under throttling, boto3's standard vs adaptive retry: ``.venv/bin/python benchmarks/throttle.py``.

Starts a moto server with the bed's extensions (the SageMaker lineage emulator and the
throttle injector, ``crossline_bed.faults``) and builds a modest SageMaker world through
boto3: 200 artifacts, 50 actions, 10 contexts, 50 associations, 3 training jobs and a
model package group of 5 packages (plus what the emulator creates for them). Then it
reads the world the way the SageMaker collector does, one call after another: every
list through a paginator (page size 100), a describe per action, context, trial
component, training job and package, the associations and actions of each package.

Each read runs with a boto3 client in retry mode ``standard`` and ``adaptive``
(``max_attempts`` 10), and with a client as crossline's collectors make it (``crossline``:
``crossline.collectors.aws.Clients``, its own ``Retry``), with 0 % and 30 % of every
SageMaker call throttled (seeded, so every mode meets the same sequence of answers, and
the backoff jitter seeded too). It prints, side by
side: wall time, API calls and the attempts the server saw, throttled answers, time
spent sleeping in retry backoff and time spent waiting in adaptive mode's client-side
token bucket (both measured by timing botocore's own code), and the slowdown against
the same mode at 0 %. The issue's target is at most 3x at 30 %. ``--throttling-base 0.05``
adds standard mode with botocore's backoff base for throttling errors (1 s) patched to
50 ms: an experiment, to show how much of the slowdown that base is.

Not a timed test: run it to compare retry settings or changes on one machine.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.retries import bucket, standard

from crossline.collectors.aws import AwsConfig, Clients
from crossline_bed.aws import TEST_ENV, MotoServer

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7"
PAGE = {"PageSize": 100}
SEED = 7


# -- the world --------------------------------------------------------------------------------
def build_world(sm: Any, artifacts: int, actions: int, contexts: int, associations: int, jobs: int,
                packages: int) -> None:
    artifact_arns = [
        sm.create_artifact(ArtifactName=f"data-{i}", ArtifactType="DataSet",
                           Source={"SourceUri": f"s3://bench-data/part-{i:04d}.parquet"})["ArtifactArn"]
        for i in range(artifacts)
    ]
    action_arns = [
        sm.create_action(ActionName=f"step-{i}", ActionType="ModelDeployment" if i % 2 else "Approval",
                         Status="Completed", Source={"SourceUri": f"s3://bench-steps/{i}"},
                         Properties={"step": str(i)})["ActionArn"]
        for i in range(actions)
    ]
    for i in range(contexts):
        sm.create_context(ContextName=f"endpoint-{i}", ContextType="Endpoint",
                          Source={"SourceUri": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/e-{i}"})
    for i in range(min(associations, artifacts)):  # each from an artifact of its own: pairs are unique
        sm.add_association(SourceArn=artifact_arns[i], DestinationArn=action_arns[i % len(action_arns)],
                           AssociationType="ContributedTo")
    for i in range(jobs):
        sm.create_training_job(
            TrainingJobName=f"bench-train-{i}",
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://bench-data/train-{i}/"}}}],
            OutputDataConfig={"S3OutputPath": "s3://bench-models/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
    sm.create_model_package_group(ModelPackageGroupName="bench-models")
    for i in range(packages):
        sm.create_model_package(
            ModelPackageGroupName="bench-models",
            InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://bench-models/m{i}/model.tar.gz"}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
            ModelApprovalStatus="PendingManualApproval",
        )


# -- the read, as the collector makes it ------------------------------------------------------
def pages(sm: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    for page in sm.get_paginator(operation).paginate(**params, PaginationConfig=PAGE):
        yield from page.get(key, [])


def read_world(sm: Any) -> int:
    """The collector's calls over the world; returns how many items it read."""
    seen = sum(1 for _ in pages(sm, "list_artifacts", "ArtifactSummaries", SortBy="CreationTime", SortOrder="Ascending"))
    for action in pages(sm, "list_actions", "ActionSummaries", SortBy="CreationTime", SortOrder="Ascending"):
        sm.describe_action(ActionName=action["ActionArn"])
        seen += 1
    for context in pages(sm, "list_contexts", "ContextSummaries", SortBy="CreationTime", SortOrder="Ascending"):
        sm.describe_context(ContextName=context["ContextName"])
        seen += 1
    seen += sum(1 for _ in pages(sm, "list_associations", "AssociationSummaries"))
    for component in pages(sm, "list_trial_components", "TrialComponentSummaries"):
        sm.describe_trial_component(TrialComponentName=component["TrialComponentName"])
        seen += 1
    for job in pages(sm, "list_training_jobs", "TrainingJobSummaries"):
        sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
        seen += 1
    seen += sum(1 for _ in pages(sm, "list_processing_jobs", "ProcessingJobSummaries"))
    for group in pages(sm, "list_model_package_groups", "ModelPackageGroupSummaryList"):
        for package in pages(sm, "list_model_packages", "ModelPackageSummaryList",
                             ModelPackageGroupName=group["ModelPackageGroupName"]):
            arn = package["ModelPackageArn"]
            sm.describe_model_package(ModelPackageName=arn)
            seen += 1 + sum(1 for _ in pages(sm, "list_associations", "AssociationSummaries", DestinationArn=arn))
            seen += sum(1 for _ in pages(sm, "list_actions", "ActionSummaries", SourceUri=arn))
    seen += sum(1 for _ in pages(sm, "list_endpoints", "Endpoints"))
    return seen


# -- measuring ---------------------------------------------------------------------------------
@dataclass
class Clocks:
    """Seconds spent in botocore's retry backoff and in adaptive mode's token bucket."""

    backoff: float = 0.0
    bucket: float = 0.0


@contextmanager
def clocked() -> Iterator[Clocks]:
    clocks = Clocks()
    delay, acquire = standard.RetryPolicy.compute_retry_delay, bucket.TokenBucket.acquire

    def timed_delay(self: Any, context: Any) -> float:
        seconds = delay(self, context)
        clocks.backoff += seconds  # the retry handler sleeps exactly this long
        return seconds

    def timed_acquire(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return acquire(self, *args, **kwargs)
        finally:
            clocks.bucket += time.perf_counter() - start

    standard.RetryPolicy.compute_retry_delay = timed_delay  # type: ignore[method-assign]
    bucket.TokenBucket.acquire = timed_acquire  # type: ignore[method-assign]
    try:
        yield clocks
    finally:
        standard.RetryPolicy.compute_retry_delay = delay  # type: ignore[method-assign]
        bucket.TokenBucket.acquire = acquire  # type: ignore[method-assign]


@dataclass
class Result:
    mode: str
    rate: float
    seconds: float
    calls: int
    attempts: int
    throttled: int
    backoff: float
    bucket: float
    items: int


@contextmanager
def throttling_base(seconds: float | None) -> Iterator[None]:
    """An experiment, not a setting boto3 offers: botocore's backoff base for throttling errors."""
    if seconds is None:
        yield
        return
    original = standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG
    standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = {**original, "throttling_base_scale": seconds}
    try:
        yield
    finally:
        standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = original


def measure(server: MotoServer, mode: str, rate: float, max_attempts: int, base: float | None = None) -> Result:
    """One read of the world: boto3's ``mode`` (standard, adaptive), or ``crossline`` (its clients' Retry)."""
    retry = None
    if mode == "crossline":
        label = "crossline" if base is None else f"crossline b={base:g}s"
        config = AwsConfig(region=TEST_ENV["AWS_DEFAULT_REGION"], endpoint_url=server.endpoint_url,
                           max_attempts=max_attempts, **({"retry_base": base} if base is not None else {}))
        clients = Clients(config)
        sm, retry = clients("sagemaker"), clients.retry
    else:
        label = mode if base is None else f"{mode} b={base:g}s"
        sm = boto3.client("sagemaker", endpoint_url=server.endpoint_url, region_name=TEST_ENV["AWS_DEFAULT_REGION"],
                          config=Config(retries={"mode": mode, "max_attempts": max_attempts}))
    calls = [0]
    sm.meta.events.register("before-call.sagemaker.*", lambda **_: calls.__setitem__(0, calls[0] + 1))
    server.throttle("sagemaker", rate, seed=SEED)  # rate 0 still counts the attempts
    random.seed(SEED)  # botocore's and crossline's backoff jitter draw from the random module: the same for each
    with clocked() as clocks, throttling_base(base if retry is None else None):
        start = time.perf_counter()
        items = read_world(sm)
        seconds = time.perf_counter() - start
    counts = server.throttle_counts()["sagemaker"]
    server.clear_throttle()
    backoff = clocks.backoff if retry is None else retry.slept
    return Result(label, rate, seconds, calls[0], counts["calls"], counts["throttled"], backoff, clocks.bucket, items)


def best(server: MotoServer, mode: str, rate: float, max_attempts: int, repeat: int, base: float | None = None) -> Result:
    """The fastest of ``repeat`` reads (the same seeded throttles each time): other load on the machine is noise."""
    return min((measure(server, mode, rate, max_attempts, base) for _ in range(max(repeat, 1))), key=lambda r: r.seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="0,0.3", help="throttled shares of SageMaker calls (default 0,0.3)")
    parser.add_argument("--modes", default="standard,adaptive,crossline",
                        help="boto3's retry modes and/or crossline (its clients' own retry); default all three")
    parser.add_argument("--max-attempts", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="reads per row; the fastest is shown (default 1)")
    parser.add_argument("--artifacts", type=int, default=200)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--throttling-base", type=float, default=None, metavar="SECONDS",
                        help="also measure standard mode with botocore's throttling backoff base (1 s) patched to this")
    parser.add_argument("--crossline-bases", default="", metavar="SECONDS,...",
                        help="also measure crossline's retry with these backoff bases (its default: 0.01)")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    modes = args.modes.split(",")
    os.environ.update(TEST_ENV)
    with MotoServer() as server:
        setup = boto3.client("sagemaker", endpoint_url=server.endpoint_url, region_name=TEST_ENV["AWS_DEFAULT_REGION"])
        start = time.perf_counter()
        build_world(setup, artifacts=args.artifacts, actions=args.actions, contexts=10, associations=50, jobs=3, packages=5)
        print(f"world built in {time.perf_counter() - start:.1f} s (moto server with the bed's extensions)")
        results = [best(server, mode, rate, args.max_attempts, args.repeat) for rate in rates for mode in modes]
        if args.throttling_base is not None:
            results += [measure(server, "standard", rate, args.max_attempts, args.throttling_base) for rate in rates]
        for base in (float(b) for b in args.crossline_bases.split(",") if b):
            results += [best(server, "crossline", rate, args.max_attempts, args.repeat, base) for rate in rates]

    base = {r.mode: r.seconds for r in results if r.rate == min(rates)}
    print(f"\nReading the world as the SageMaker collector does; max_attempts {args.max_attempts}, seed {SEED}\n")
    header = f"{'mode':<18} {'rate':>5} {'wall s':>8} {'slowdown':>8} {'calls':>6} {'attempts':>8} " \
             f"{'throttled':>9} {'backoff s':>9} {'bucket s':>8} {'items':>6}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.mode:<18} {r.rate:>5.0%} {r.seconds:>8.2f} {r.seconds / base[r.mode]:>7.1f}x {r.calls:>6} {r.attempts:>8} "
              f"{r.throttled:>9} {r.backoff:>9.2f} {r.bucket:>8.2f} {r.items:>6}")
    print("\nbackoff s: sleeping between attempts (botocore's exponential backoff, 1 s base for throttling;")
    print("  crossline: its Retry, full jitter from a 10 ms base, crossline.collectors.aws);")
    print("bucket s: waiting in adaptive mode's client-side rate limiter (token bucket, floor 0.5 requests/s).")
    print("Target from issue 12: slowdown <= 3x at 30 % throttling.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
