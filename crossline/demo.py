"""The main job on the embedded default: no servers, no AWS.

Contract: ``run(out, console)`` plays the credit-scoring story of SCENARIO.md on one
machine and writes OpenLineage events as JSONL under ``out/openlineage/``. AWS is moto
in-process; nothing listens on a port. The story grows with the project; today it is
its first step: the two Glue feature jobs write the feature-store snapshots of
2027-W10 to S3 (versioned, so each snapshot has a real content version) and each job
emits START and COMPLETE with its output dataset, named by the one naming function.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.tree import Tree

from crossline.bed.aws import TEST_ENV
from crossline.emitters.naming import dataset_name

PRODUCER = "https://github.com/crossline/crossline/tree/0.1.0"
NAMESPACE = "credit"
WEEK = "2027-W10"
FEATURE_BUCKET = "credit-features"
FEATURE_GROUPS = ("accounts", "behaviour")


def run(out: Path, console: Console) -> Path:
    import boto3
    from moto import mock_aws
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import dataset_version_dataset
    from openlineage.client.transport.file import FileConfig, FileTransport

    events_file = out / "openlineage" / "events.jsonl"
    events_file.parent.mkdir(parents=True, exist_ok=True)
    events_file.unlink(missing_ok=True)
    client = OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(events_file), append=True))
    )
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)

    tree = Tree(f"[bold]crossline demo[/] (embedded: moto in-process, events to {events_file})")
    with mock_aws():
        s3 = boto3.client("s3", region_name=TEST_ENV["AWS_DEFAULT_REGION"])
        s3.create_bucket(Bucket=FEATURE_BUCKET)
        s3.put_bucket_versioning(Bucket=FEATURE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for group in FEATURE_GROUPS:
            job = Job(namespace=NAMESPACE, name=f"credit_retraining.features_{group}")
            run_ = Run(runId=str(uuid.uuid4()))
            uri = f"s3://{FEATURE_BUCKET}/{group}/{WEEK}/"
            ns, name = dataset_name(uri)
            client.emit(RunEvent(eventType=RunState.START, eventTime=_now(), run=run_, job=job, producer=PRODUCER))
            put = s3.put_object(
                Bucket=FEATURE_BUCKET, Key=f"{group}/{WEEK}/part-00000.parquet", Body=f"{group} {WEEK}".encode()
            )
            output = OutputDataset(
                namespace=ns,
                name=name,
                facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=put["VersionId"])},
            )
            client.emit(
                RunEvent(eventType=RunState.COMPLETE, eventTime=_now(), run=run_, job=job, outputs=[output], producer=PRODUCER)
            )
            branch = tree.add(f"job [cyan]{job.namespace}:{job.name}[/] run {run_.runId}")
            branch.add(f"START, COMPLETE → output [green]{ns}/{name}[/] version {put['VersionId']}")
    console.print(tree)
    lines = events_file.read_text().splitlines()
    console.print(f"{len(lines)} OpenLineage events written to {events_file}")
    return events_file


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
