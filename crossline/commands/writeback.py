"""``crossline writeback``: opt-in write-back of what crossline learned to SageMaker and Marquez.

Contract: plans first, then applies (``--dry-run`` only plans). SageMaker gets the
associations it lacks; Marquez gets the SageMaker side as OpenLineage runs. Running it
twice writes nothing new. A SageMaker write needs a region (``--region`` or boto3's
configuration); without one it is a usage error, not a traceback.
"""

from __future__ import annotations

import json

import click

from crossline.commands.graph import STORE_OPTION, open_graph
from crossline.commands.output import echo_json, out


@click.command()
@click.option("--sagemaker", is_flag=True, help="Add the associations SageMaker lacks.")
@click.option("--marquez", "marquez_url", default=None, metavar="URL", help="Send the SageMaker side to Marquez at this URL.")
@click.option("--namespace", default="sagemaker", show_default=True, help="OpenLineage job namespace of the Marquez runs.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--region", default=None, help="AWS region (default: boto3's configuration, e.g. AWS_DEFAULT_REGION).")
@click.option("--aws-endpoint", default=None, metavar="URL", help="AWS endpoint URL (e.g. the bed's moto server).")
@STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def writeback(sagemaker: bool, marquez_url: str | None, namespace: str, dry_run: bool, region: str | None,
              aws_endpoint: str | None, store_option: str | None, as_json: bool) -> None:
    """Opt-in write-back: SageMaker gets the links it lacks, Marquez the SageMaker side."""
    from crossline.collectors.writeback import apply, emit_to_marquez, marquez_events, plan_writeback, sagemaker_client

    if not sagemaker and not marquez_url:
        raise click.UsageError("name a target: --sagemaker and/or --marquez URL")
    report: dict[str, object] = {}
    with open_graph(store_option) as graph:
        if sagemaker:
            client = sagemaker_client(region=region, endpoint_url=aws_endpoint)
            planned = plan_writeback(graph, client)
            section: dict[str, object] = {"planned": [p.as_dict() for p in planned]}
            if not dry_run:
                section["applied"] = apply(planned, client).summary()
            report["sagemaker"] = section
        if marquez_url:
            if dry_run:
                report["marquez"] = {"events": [e.job.name + " " + e.run.runId for e in marquez_events(graph, namespace)]}
            else:
                from openlineage.client import OpenLineageClient
                from openlineage.client.transport.http import HttpConfig, HttpTransport

                lineage = OpenLineageClient(transport=HttpTransport(HttpConfig(url=marquez_url)))
                report["marquez"] = emit_to_marquez(graph, lineage, namespace).summary()
    if as_json:
        echo_json(report)
        return
    console = out()
    for target, section in report.items():
        console.print(f"[bold]{target}[/]")
        console.print_json(json.dumps(section, default=str))
