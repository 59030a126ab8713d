"""The ``crossline`` command line.

Contract: each subcommand is a thin shell over a library call; errors crossline raises
on purpose (``CrosslineError``) print as one clear line on stderr and exit with status
2, never as a stack trace. Subcommands:

- ``crossline demo``: the main job on the embedded default (no servers, no AWS).
- ``crossline marquez up|down|status``: a Marquez backend on loopback.
- ``crossline bed aws``: the moto server with crossline's SageMaker lineage emulator.
- ``crossline lineage replay|status``: the durable transport's spool of undelivered events.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from crossline import config
from crossline.errors import CrosslineError

console = Console()


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CrosslineError as err:
            Console(stderr=True).print(f"[bold red]crossline:[/] {err}", highlight=False)
            sys.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """crossline: OpenLineage-based cross-system lineage for ML pipelines."""


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Folder for the OpenLineage events and reports.")
def demo(out: Path) -> None:
    """Run the credit-scoring story on the embedded default: no servers, no AWS."""
    from crossline.demo import run

    run(out, console)


@main.group()
def marquez() -> None:
    """A Marquez backend on loopback (real Marquez 0.50.0, or the stand-in)."""


@marquez.command("up")
@click.option("--impl", type=click.Choice(["auto", "real", "standin"]), default="auto", show_default=True)
def marquez_up(impl: str) -> None:
    """Start PostgreSQL and Marquez; idempotent."""
    from crossline.bed.marquez import MarquezBed

    state = MarquezBed(impl).up()
    if state.reason and state.impl == "standin":
        console.print(f"[yellow]warning:[/] using the Marquez stand-in: {state.reason}", highlight=False)
    console.print(f"Marquez ({state.impl}) at {state.url}  admin {state.admin_url}  pid {state.pid}")


@marquez.command("down")
def marquez_down() -> None:
    """Stop Marquez and its PostgreSQL; leaves no process behind."""
    from crossline.bed.marquez import MarquezBed

    MarquezBed().down()
    console.print("Marquez and PostgreSQL stopped")


@marquez.command("status")
def marquez_status() -> None:
    """Print what runs, as JSON."""
    from crossline.bed.marquez import MarquezBed

    click.echo(json.dumps(MarquezBed().status(), indent=2))


@main.group()
def bed() -> None:
    """Parts of the local bed."""


@bed.command("aws")
@click.option("--port", type=int, default=None, help="Default: CROSSLINE_MOTO_PORT or 15050.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 in a container).")
def bed_aws(port: int | None, host: str) -> None:
    """Serve moto with the SageMaker lineage emulator on 127.0.0.1 (foreground)."""
    from crossline.bed.aws import serve
    from crossline.bed.process import require_free_port

    port = port or config.port("CROSSLINE_MOTO_PORT")
    require_free_port(port, "the moto server", "--port or CROSSLINE_MOTO_PORT", host)
    serve(host=host, port=port)


@main.group()
def lineage() -> None:
    """The durable lineage transport's spool: events the backend has not taken yet."""


@lineage.command("replay")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Spool folder. Default: the configured transport's, else CROSSLINE_SPOOL_DIR, "
                   "else $CROSSLINE_HOME/spool.")
@click.option("--url", default=None, help="Backend URL. Default: the configured transport's, else OPENLINEAGE_URL.")
@click.option("--wait", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another process that is replaying.")
def lineage_replay(spool_dir: Path | None, url: str | None, wait: float) -> None:
    """Send spooled events, oldest first; exit 1 if some are left (backend down or busy)."""
    from crossline.emitters.transport.durable import transport_from_config

    transport = transport_from_config(spool_dir=spool_dir, url=url)
    try:
        report = transport.replay(wait=wait)
    finally:
        transport.http.close()
    click.echo(json.dumps({"url": transport.url, "spool": str(transport.spool.directory), **report.as_dict()},
                          indent=2))
    if report.remaining:
        sys.exit(1)


@lineage.command("status")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Spool folder (default as for replay).")
def lineage_status(spool_dir: Path | None) -> None:
    """Print pending and rejected events (count, bytes, oldest) as JSON."""
    from crossline.emitters.transport.durable import spool_from_config

    click.echo(json.dumps(spool_from_config(spool_dir).status().as_dict(), indent=2))
