"""The main job on the embedded default: the whole credit-scoring story on one machine.

Contract: ``run(out, console)`` plays SCENARIO.md end to end and leaves everything under
``out/``:

1. AWS emulation: moto with crossline's extensions (SageMaker lineage emulator, job
   runner, registry fixes, clock), as a child process on 127.0.0.1 that lives only as
   long as the demo; nothing to install or run beforehand, no AWS account.
2. The two weeks through Airflow (``dags/credit_retraining.py`` with ``dag.test()``):
   OpenLineage events go to ``out/airflow/openlineage/events.jsonl`` (and to Marquez too
   when ``marquez_url`` is given); risk-ops approves each week's package while the DAG
   waits; the endpoint serves loan-8231 on 12 March and loan-9120 after the 15 March swap.
3. Collection into the graph store every ``crossline`` command uses from the checkout
   (``crossline.settings``: ``--store``/``CROSSLINE_STORE_URL``, else the checkout's
   ``[tool.crossline]``, ``out/graph.db``), from the events file, SageMaker's lineage and
   registry, and the data capture; then reconciliation. A SQLite store under ``out/`` is
   cleared first; any other store (e.g. PostgreSQL) is written into as it is.
4. The trace for loan-8231, printed as a tree, and written as JSON, Markdown and PDF.

Each run starts from a clean ``out/`` story (the AWS emulation is new each time).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from rich.console import Console

from crossline_bed.aws import TEST_ENV
from crossline_bed.errors import BedConfigError

INFERENCE = "loan-8231"


def _dags_folder() -> Path:
    folder = Path(__file__).resolve().parents[2] / "dags"
    if not (folder / "credit_retraining.py").exists():
        raise BedConfigError(f"the demo runs the pipeline in dags/ of a crossline checkout; none at {folder}")
    return folder


def run(out: Path, console: Console, *, marquez_url: str | None = None, store_url: str | None = None) -> dict[str, Path]:
    from crossline_bed.airflow import AirflowBed
    from crossline_bed.aws import MotoServer
    from crossline_bed.scenario import play_story
    from crossline.collectors.collect import collect
    from crossline.collectors.report import to_tree, write_all
    from crossline.collectors.sources import source_from_config
    from crossline.collectors.store import GraphStore
    from crossline.collectors.trace import trace_inference

    from crossline import settings

    started = time.monotonic()
    out = out.resolve()
    # The store every crossline command uses from the checkout (its pyproject.toml says
    # out/graph.db), so `crossline trace loan-8231` afterwards needs no flags.
    store_url = settings.store(store_url, cwd=_dags_folder().parent).value
    stale = [out / "airflow", out / "trace"]
    if store_url.startswith("sqlite:///"):
        db = Path(store_url.removeprefix("sqlite:///"))
        if db.resolve().is_relative_to(out):  # never clear a store outside the demo's folder
            stale += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)

    console.rule("[bold]crossline demo: the credit-scoring story")
    with console.status("Starting AWS emulation (moto + crossline's SageMaker lineage emulator) on 127.0.0.1"):
        aws = MotoServer().start()
    try:
        airflow = AirflowBed(out / "airflow", _dags_folder(), marquez_url=marquez_url,
                             aws_endpoint_url=aws.endpoint_url, namespace="credit")
        with console.status("Airflow runs credit_retraining for 2027-W10 and 2027-W11 (about a minute)"):
            played = play_story(aws, airflow, "credit")
        for week, result in played.runs.items():
            console.print(f"  {week}: {result.state}, {len(result.events)} OpenLineage events")
        for inference, uri in played.captures.items():
            console.print(f"  {inference} captured at {uri}")

        region = TEST_ENV["AWS_DEFAULT_REGION"]
        sources = [
            source_from_config({"type": "openlineage-file", "paths": [str(airflow.events_file)]}),
            source_from_config({"type": "sagemaker", "endpoint_url": aws.endpoint_url, "region": region}),
            source_from_config({"type": "data-capture", "prefixes": ["s3://credit/datacapture/"],
                                "endpoint_url": aws.endpoint_url, "region": region}),
        ]
        console.print(f"Collecting into {store_url}")
        with GraphStore.open(store_url) as store:
            report = collect(store, sources, progress=True, console=console)
            links = report.summary()["reconcile"]["links"]
            console.print(f"  reconciled: {links}")
            t0 = time.perf_counter()
            trace = trace_inference(store, INFERENCE)
            traced_ms = (time.perf_counter() - t0) * 1000
    finally:
        aws.stop()

    console.rule(f"[bold]The regulator's question: {INFERENCE}")
    console.print(to_tree(trace))
    paths = write_all(trace, out / "trace", INFERENCE)
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")
    console.print(f"events: {airflow.events_file}")
    console.print(f"trace took {traced_ms:.0f} ms; the whole demo {time.monotonic() - started:.0f} s")
    return paths
