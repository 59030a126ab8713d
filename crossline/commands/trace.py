"""``crossline trace``: the regulator's answer for one inference (or one model package).

Contract: prints the answer as a tree on stdout and writes it as JSON, Markdown and PDF
under ``--out``; ``--json`` prints the JSON form instead of the tree. Exit 0 when every
answer is complete; 1 (findings) when the answer has a gap or a finding (the model was
not approved at the time, or the systems disagree on its approval: each printed on
stderr as ``finding:``); 2 when the inference or package is not in the graph (the message
says which data-capture locations and time window it searched, and how to widen them).
"""

from __future__ import annotations

from pathlib import Path

import click

from crossline.commands.graph import STORE_OPTION, open_graph
from crossline.commands.output import echo_json, err, out
from crossline.commands.query import moment
from crossline.errors import EXIT_FINDINGS


@click.command()
@click.argument("inference", required=False)
@click.option("--endpoint", default=None, help="The endpoint that served it (when inference ids repeat).")
@click.option("--package", "package", default=None, metavar="PACKAGE",
              help="Trace a model package instead (its ARN or group/version).")
@click.option("--as-of", default=None, metavar="TIME", help="With --package: what was true at this ISO 8601 time.")
@STORE_OPTION
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("out/trace"),
              show_default=True, help="Folder for the JSON, Markdown and PDF.")
@click.option("--evidence/--no-evidence", default=False, help="Show each line's evidence in the tree.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON form instead of the tree.")
def trace(inference: str | None, endpoint: str | None, package: str | None, as_of: str | None,
          store_option: str | None, out_dir: Path, evidence: bool, as_json: bool) -> None:
    """Answer the regulator: which model served INFERENCE, trained on what, approved by whom, and when."""
    from crossline.collectors.report import to_tree, write_all
    from crossline.collectors.resolve import resolve_package
    from crossline.collectors.trace import trace_inference, trace_package
    from rich.markup import escape

    if bool(inference) == bool(package):
        raise click.UsageError("give an INFERENCE id, or --package with a model package's ARN or group/version")
    if as_of and not package:
        raise click.UsageError("--as-of goes with --package; an inference is traced as of its own time")
    with open_graph(store_option) as graph:
        if inference:
            result = trace_inference(graph, inference, endpoint)
            stem = inference
        else:
            package_id = resolve_package(graph, package)
            result = trace_package(graph, package_id, moment(as_of))
            stem = package_id.rsplit(":", 1)[-1].replace("/", "-")
    written = write_all(result, out_dir, stem)
    if as_json:
        echo_json(result.to_dict())
    else:
        out().print(to_tree(result, evidence=evidence))
    console = err()
    for kind, path in written.items():
        console.print(f"{kind}: {path}", markup=False)
    for finding in dict.fromkeys(result.findings):
        console.print(f"[red]finding:[/] {escape(finding)}")
    for gap in dict.fromkeys(result.gaps):
        console.print(f"[yellow]gap:[/] {escape(gap)}")
    if result.gaps or result.findings:
        raise SystemExit(EXIT_FINDINGS)
