"""``crossline collect``: read sources into the graph, reconcile, and report.

Contract: the sources named by flags are read in the order given here (OpenLineage
files, Marquez, SageMaker, the Glue Data Catalog, Feature Store, MLflow, manual facts,
data capture), each from its watermark, into the one store
(``crossline.settings``); then reconciliation. The report lists per source what was
scanned and written, and the warnings as a table of source, kind, where (file and line,
or the API call) and why, on stderr (the first 20; ``--json`` has all of them as objects
``{source, where, why, kind}``, and the store keeps them: ``crossline log``). Exit 0; 1
with ``--strict`` when there were warnings; a source that cannot be read stops the
command with its error's exit code (what was collected before it is kept).
"""

from __future__ import annotations

from typing import Any

import click

from crossline.commands.graph import STORE_OPTION, open_store
from crossline.commands.output import echo_json, err, out, print_warning_table, progress_wanted
from crossline.errors import EXIT_FINDINGS


@click.command()
@STORE_OPTION
@click.option("--openlineage", "openlineage_paths", multiple=True, metavar="PATH",
              help="Read OpenLineage JSONL files (a file, a folder or a glob); repeatable.")
@click.option("--marquez", "marquez_url", default=None, metavar="URL", help="Read Marquez's API at this URL.")
@click.option("--sagemaker", is_flag=True, help="Read SageMaker's lineage, jobs, registry and endpoints.")
@click.option("--glue-catalog", "glue_catalog", is_flag=True,
              help="Read the Glue Data Catalog: databases, tables, their S3 locations and partitions.")
@click.option("--feature-store", "feature_store", is_flag=True,
              help="Read SageMaker Feature Store: feature groups, offline stores and their Glue tables.")
@click.option("--mlflow", "mlflow_url", default=None, metavar="URL",
              help="Read the MLflow tracking server at this URL (needs crossline[mlflow]).")
@click.option("--manual", "manual_paths", multiple=True, metavar="PATH",
              help="Read manual facts: a CSV, or a DynamoDB JSON export folder (local or s3://); repeatable.")
@click.option("--data-capture", "capture_prefixes", multiple=True, metavar="PREFIX",
              help="Read endpoint data capture under this S3 prefix, or in a local copy of it (a folder); "
                   "repeatable.")
@click.option("--region", default=None, help="AWS region (default: boto3's configuration, e.g. AWS_DEFAULT_REGION).")
@click.option("--account", default=None, help="AWS account of a local data-capture copy's endpoints (with --region, "
                                              "no AWS call is needed to name them).")
@click.option("--aws-endpoint", default=None, metavar="URL", help="AWS endpoint URL (e.g. the bed's moto server).")
@click.option("--strict", is_flag=True, help="Exit 1 when any input was warned about.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def collect(
    store_option: str | None, openlineage_paths: tuple[str, ...], marquez_url: str | None, sagemaker: bool,
    glue_catalog: bool, feature_store: bool, mlflow_url: str | None, manual_paths: tuple[str, ...],
    capture_prefixes: tuple[str, ...], region: str | None, account: str | None, aws_endpoint: str | None, strict: bool,
    as_json: bool,
) -> None:
    """Collect lineage into the graph, reconcile it, and report what happened."""
    from crossline.collectors.collect import collect as run_collect
    from crossline.collectors.graph import Graph
    from crossline.collectors.log import CollectWarning
    from crossline.collectors.sources import source_from_config

    configs: list[dict[str, Any]] = []
    if openlineage_paths:
        configs.append({"type": "openlineage-file", "paths": list(openlineage_paths)})
    if marquez_url:
        configs.append({"type": "marquez", "url": marquez_url})
    aws = {k: v for k, v in (("region", region), ("endpoint_url", aws_endpoint)) if v}
    if sagemaker:
        configs.append({"type": "sagemaker", **aws})
    if glue_catalog:
        configs.append({"type": "glue-catalog", **aws})
    if feature_store:
        configs.append({"type": "feature-store", **aws})
    if mlflow_url:
        configs.append({"type": "mlflow", "tracking_uri": mlflow_url})
    if manual_paths:
        configs.append({"type": "manual", "paths": list(manual_paths), **aws})
    if capture_prefixes:
        configs.append({"type": "data-capture", "prefixes": list(capture_prefixes), **aws,
                        **({"account": account} if account else {})})
    if not configs:
        raise click.UsageError("name at least one source: --openlineage, --marquez, --sagemaker, --glue-catalog, "
                               "--feature-store, --mlflow, --manual or --data-capture")
    sources = [source_from_config(c) for c in configs]
    with open_store(store_option) as store:
        report = run_collect(store, sources, progress=progress_wanted(as_json), console=err())
        summary = report.summary()
        warnings = [w for r in report.sources.values() for w in r.warnings]
        warnings += [CollectWarning("reconcile", "", w, "note") for w in (report.reconcile.warnings if report.reconcile else [])]
        counts = {k: v for k, v in Graph(store).counts().items() if v}
        if as_json:
            echo_json({**summary, "store": store.url, "graph": counts, "warnings": [w.as_dict() for w in warnings]})
        else:
            _print_report(summary, counts, store.url)
            print_warning_table(warnings, more="--json or 'crossline log'")
    if strict and warnings:
        err().print(f"crossline: {len(warnings)} warning(s) about the input and --strict was given")
        raise SystemExit(EXIT_FINDINGS)


def _print_report(summary: dict[str, Any], counts: dict[str, int], store: str) -> None:
    from rich.table import Table

    console = out()
    table = Table(title=f"crossline collect into {store}")
    for column in ("source", "scanned", "batches", "nodes", "edges", "warnings"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for name, row in summary["sources"].items():
        table.add_row(name, *(str(row[k]) for k in ("scanned", "batches", "nodes", "edges", "warnings")))
    console.print(table)
    rec = summary["reconcile"] or {}
    links = rec.get("links", {})
    console.print(f"matched: {sum(links.values())} links " + ", ".join(f"{k}={v}" for k, v in sorted(links.items())))
    unmatched = rec.get("unmatched", {})
    console.print(f"unmatched: {sum(unmatched.values())} " + ", ".join(f"{k}={v}" for k, v in sorted(unmatched.items()))
                  + (" ('crossline unmatched' lists them with the keys tried)" if unmatched else ""))
    if rec.get("conflicts"):
        console.print(f"conflicts: {rec['conflicts']} manual fact(s) a system's record contradicts; the system's record "
                      "wins (see the warnings)")
    timelines = rec.get("timelines", {})
    if timelines:
        console.print("timelines: " + ", ".join(f"{k}={v}" for k, v in sorted(timelines.items())))
    console.print("graph: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
