"""What each source costs and what reconciliation links, on both stories (issue 13): ``.venv/bin/python benchmarks/coverage.py [--before REF]``.

Plays both stories on the bed (SCENARIO.md's credit story, tests/STORY2.md's fraud
story; each on its own moto server, the second with a real MLflow server; no Marquez:
events go to the OpenLineage file transport), then for each story:

- collection time per source: every source the story has (the credit story: its events,
  SageMaker, data capture; the fraud story: those plus the Glue Data Catalog, Feature
  Store, MLflow and the manual audit CSV), each timed from its first read to its last
  batch written (``GraphStore.write`` included), into a fresh SQLite store; beside it
  the reconciliation's own time;
- matched and unmatched, before and after issue 13's rules: the rules of ``--before``
  (a git ref; default ``main``: run it with the commit before the rules landed once they
  have) loaded from that commit's ``collectors/reconcile.py`` and run without writing
  over (a) the sources that commit knew (OpenLineage files, SageMaker, data capture) and
  (b) every source; then this checkout's rules over every source. "Links" counts rule
  applications; "unmatched" the entities a rule tried that matched nothing.

Not a timed test: the numbers depend on the machine (2 cores here). About four minutes,
most of it Airflow playing the stories.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OLD_SOURCES = {"openlineage-file", "sagemaker", "data-capture"}


class Timed:
    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.seconds = inner, inner.name, 0.0

    def total(self, since: str | None) -> int | None:
        return self.inner.total(since)

    def read(self, since: str | None) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            yield from self.inner.read(since)
        finally:
            self.seconds = time.perf_counter() - started


def old_rules(ref: str) -> Any:
    """``rules(nodes, report)`` and ``ReconcileReport`` of ``collectors/reconcile.py`` at ``ref``."""
    text = subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:collectors/reconcile.py"], check=True,
                          capture_output=True, text=True).stdout
    module = types.ModuleType("crossline_reconcile_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(text, f"{ref}:collectors/reconcile.py", "exec"), module.__dict__)  # noqa: S102 - our own file at a commit
    return module


def count_old(module: Any, store: Any) -> dict[str, Any]:
    from crossline.collectors.graph import Graph

    graph = Graph(store)
    report = module.ReconcileReport()
    for _ in module.rules(lambda kind: graph.nodes(kind=kind), report):
        pass
    return {"links": sum(report.links.values()), "unmatched": sum(len(v) for v in report.unmatched.values()),
            "by rule": dict(report.links)}


def count_new(store: Any) -> dict[str, Any]:
    from crossline.collectors.graph import Graph
    from crossline.collectors.reconcile import ReconcileReport, rules

    report = ReconcileReport()
    for _ in rules(Graph(store), report):
        pass
    return {"links": sum(report.links.values()), "unmatched": sum(len(v) for v in report.unmatched.values()),
            "by rule": dict(report.links), "conflicts": len(report.conflicts)}


def collect_timed(configs: list[dict[str, Any]], env: dict[str, str], folder: Path, name: str) -> tuple[Any, dict[str, float], float]:
    from crossline.collectors.reconcile import reconcile
    from crossline.collectors.sources import source_from_config
    from crossline.collectors.store import GraphStore

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        store = GraphStore.open(f"sqlite:///{folder / f'{name}.db'}")
        seconds = {}
        for config in configs:
            source = Timed(source_from_config(config))
            for batch in source.read(store.watermark(source.name)):
                store.write(batch.nodes, batch.edges, watermark=(source.name, batch.watermark))
            seconds[source.name] = source.seconds
        started = time.perf_counter()
        reconcile(store)
        return store, seconds, time.perf_counter() - started
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def play_credit(folder: Path) -> tuple[list[dict[str, Any]], dict[str, str], Any]:
    from crossline_bed.airflow import AirflowBed
    from crossline_bed.aws import TEST_ENV, MotoServer
    from crossline_bed.scenario import play_story

    aws = MotoServer().start()
    namespace = f"credit-{uuid.uuid4().hex[:8]}"
    airflow = AirflowBed(folder / "airflow-credit", REPO / "dags", marquez_url=None, aws_endpoint_url=aws.endpoint_url,
                         namespace=namespace)
    play_story(aws, airflow, namespace)
    where = {"endpoint_url": aws.endpoint_url, "region": TEST_ENV["AWS_DEFAULT_REGION"]}
    configs = [{"type": "openlineage-file", "paths": [str(airflow.events_file)]}, {"type": "sagemaker", **where},
               {"type": "data-capture", "prefixes": ["s3://credit/datacapture/"], **where}]
    return configs, dict(TEST_ENV), aws


def play_fraud(folder: Path) -> tuple[list[dict[str, Any]], dict[str, str], list[Any]]:
    import json

    from crossline_bed.aws import MotoServer
    from crossline_bed.mlflow import MlflowServer
    from crossline_bed.scenario_fraud import REGION, play_fraud_story

    mlflow = MlflowServer(folder / "mlflow").start()
    aws = MotoServer().start()
    played = play_fraud_story(aws, folder / "airflow-fraud", None, mlflow.url, folder / "fraud", f"fraud-{uuid.uuid4().hex[:8]}")
    events = folder / "fraud-events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in played.run.events))
    where = {"endpoint_url": aws.endpoint_url, "region": REGION}
    configs = [
        {"type": "openlineage-file", "paths": [str(events)]}, {"type": "sagemaker", **where},
        {"type": "glue-catalog", **where}, {"type": "feature-store", **where},
        {"type": "mlflow", "tracking_uri": mlflow.url}, {"type": "manual", "paths": [str(played.audit_csv)]},
        {"type": "data-capture", "prefixes": ["s3://fraud-ml-eu/datacapture/"], **where},
    ]
    creds = played.bed.credentials
    env = {"AWS_ACCESS_KEY_ID": creds["key"], "AWS_SECRET_ACCESS_KEY": creds["secret"],
           "AWS_SESSION_TOKEN": creds["token"], "AWS_DEFAULT_REGION": REGION}
    return configs, env, [aws, mlflow]


def report(story: str, configs: list[dict[str, Any]], env: dict[str, str], folder: Path, before: Any) -> None:
    store, seconds, reconcile_s = collect_timed(configs, env, folder, f"{story}-all")
    old_store, _, _ = collect_timed([c for c in configs if c["type"] in OLD_SOURCES], env, folder, f"{story}-old-sources")
    print(f"\n== {story}: collection time per source (s)")
    for name, took in seconds.items():
        print(f"  {name:18} {took:7.2f}")
    print(f"  {'reconcile':18} {reconcile_s:7.2f}")
    rows = [
        ("before: old rules, old sources", count_old(before, old_store)),
        ("before: old rules, all sources", count_old(before, store)),
        ("after: new rules, old sources", count_new(old_store)),
        ("after: new rules, all sources", count_new(store)),
    ]
    print(f"== {story}: matched (rule links) / unmatched (entities)")
    for label, counts in rows:
        extra = f", conflicts {counts['conflicts']}" if "conflicts" in counts else ""
        print(f"  {label:32} links {counts['links']:4}  unmatched {counts['unmatched']:4}{extra}   {counts['by rule']}")
    store.close()
    old_store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git ref whose collectors/reconcile.py is 'before'")
    args = parser.parse_args()
    before = old_rules(args.before)
    from crossline_bed.aws import TEST_ENV

    os.environ.update(TEST_ENV)
    with tempfile.TemporaryDirectory(prefix="crossline-coverage-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        configs, env, aws = play_credit(folder)
        print(f"credit story played in {time.perf_counter() - started:.0f} s")
        try:
            report("credit", configs, env, folder, before)
        finally:
            aws.stop()
        started = time.perf_counter()
        configs, env, servers = play_fraud(folder)
        print(f"fraud story played in {time.perf_counter() - started:.0f} s")
        try:
            report("fraud", configs, env, folder, before)
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    sys.exit(main())
