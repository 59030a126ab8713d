"""The product's shipped sample, made from a real run of the credit-scoring story on the bed.

Contract: ``make_sample(dest, console)`` plays the story (``crossline_bed.scenario``)
exactly as the demo does and writes, under ``dest``:

- ``events.jsonl``: every OpenLineage event the run emitted (Airflow's tasks with
  crossline's extractors, and the approval emitter), as the file transport wrote them;
- ``datacapture/``: the endpoint's data-capture files, as ``aws s3 sync`` of
  ``s3://credit/datacapture/`` would leave them;
- ``README.md``: what it is and the commands that read it.

Nothing is hand-written or edited in the records, with one exception: values that name
the machine the sample was made on (a file path of the checkout or of Airflow's home,
the host name) are replaced by neutral placeholders, so the sample is the same wherever
it is made and names no machine. ``crossline-bed sample --out crossline/samples/credit``
refreshes the copy the product ships (``crossline sample`` hands it to a user).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from crossline_bed.aws import TEST_ENV

REGION = TEST_ENV["AWS_DEFAULT_REGION"]
ACCOUNT = "123456789012"

README = """# crossline's sample: the credit-scoring story's lineage

Real records from one run of the credit-scoring story (two weekly retrainings, a
blue/green swap, two scored loans) on crossline's local bed: the OpenLineage events
Airflow and crossline's approval emitter sent, and the endpoint's data-capture files.
Machine-specific paths in them are replaced by placeholders.

Collect them into a graph and ask the regulator's question:

    crossline collect --store sample.db --openlineage events.jsonl \\
        --data-capture datacapture --region {region} --account {account}
    crossline trace loan-8231 --store sample.db
"""


def _placeholders(text: str, roots: list[str]) -> str:
    for root, placeholder in sorted(((r, f"/placeholder/{i}") for i, r in enumerate(roots)), key=lambda p: -len(p[0])):
        text = text.replace(root, placeholder)
    return re.sub(rf"(?<![\w.-]){re.escape(socket.gethostname())}(?![\w.-])", "sample-host", text)


def make_sample(dest: Path, console: Console) -> Path:
    from crossline_bed.airflow import AirflowBed
    from crossline_bed.aws import MotoServer
    from crossline_bed.demo import _dags_folder
    from crossline_bed.scenario import play_story

    dest = dest.resolve()
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)
    with tempfile.TemporaryDirectory(prefix="crossline-sample-") as work:
        aws = MotoServer().start()
        try:
            airflow = AirflowBed(Path(work) / "airflow", _dags_folder(), aws_endpoint_url=aws.endpoint_url,
                                 namespace="credit")
            with console.status("Playing the credit-scoring story on the bed (about a minute)"):
                play_story(aws, airflow, "credit")
            roots = [str(_dags_folder().parent), work, str(Path(work).resolve()), tempfile.gettempdir(),
                     str(Path.home())]
            shutil.rmtree(dest, ignore_errors=True)
            (dest / "datacapture").mkdir(parents=True)
            lines = [_placeholders(line, roots) for line in airflow.events_file.read_text().splitlines() if line.strip()]
            for line in lines:
                json.loads(line)  # still JSON after the placeholders
            (dest / "events.jsonl").write_text("\n".join(lines) + "\n")
            s3 = _s3(aws.endpoint_url)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="credit", Prefix="datacapture/"):
                for item in page.get("Contents", []):
                    target = dest / "datacapture" / item["Key"].removeprefix("datacapture/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(s3.get_object(Bucket="credit", Key=item["Key"])["Body"].read())
        finally:
            aws.stop()
    (dest / "README.md").write_text(README.format(region=REGION, account=ACCOUNT))
    console.print(f"sample written to {dest}: {len(lines)} events, "
                  f"{sum(1 for _ in (dest / 'datacapture').rglob('*.jsonl'))} capture files")
    return dest


def _s3(endpoint_url: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION)
