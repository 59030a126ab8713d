"""``crossline-bed``: the local bed's own command. Not part of crossline, the product.

Contract: each subcommand is a thin shell over the bed's library. A ``BedError`` prints as
one line on stderr (exit 2 for ``BedConfigError``, 4 otherwise); a product error
(``CrosslineError``) met while the bed drives the product prints the same way with the
product's exit code. Subcommands:

- ``crossline-bed demo``: the credit-scoring story end to end on the embedded default
  (AWS emulation as a child process, Airflow, events to a file, a SQLite graph), then the
  regulator's trace. ``make demo`` runs it.
- ``crossline-bed sample --out DIR``: the story's OpenLineage events and data capture,
  as the sample the product ships (``crossline sample``).
- ``crossline-bed marquez up|down|status``: a Marquez backend on loopback (real Marquez
  0.50.0 when its jars can be had, else crossline's stand-in).
- ``crossline-bed aws``: the moto server with the bed's extensions (SageMaker lineage
  emulator and the rest), in the foreground.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from crossline_bed import config
from crossline_bed.errors import BedConfigError, BedError

console = Console()


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        from crossline.errors import CrosslineError

        try:
            return super().invoke(ctx)
        except BedError as err:
            Console(stderr=True).print(f"[bold red]crossline-bed:[/] {err}", highlight=False, soft_wrap=True)
            sys.exit(2 if isinstance(err, BedConfigError) else 4)
        except CrosslineError as err:
            Console(stderr=True).print(f"[bold red]crossline-bed:[/] {err}", highlight=False, soft_wrap=True)
            sys.exit(err.exit_code)


@click.group(cls=_Group)
def main() -> None:
    """crossline-bed: the local bed crossline's tests and demo run on (not the product)."""


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Folder for the events, the graph and the trace.")
@click.option("--marquez-url", envvar="CROSSLINE_MARQUEZ_URL", default=None,
              help="Also send the events to this Marquez (default: events to a file only).")
@click.option("--store", "store_url", default=None,
              help="Graph store (default: crossline's setting from the checkout, out/graph.db).")
def demo(out: Path, marquez_url: str | None, store_url: str | None) -> None:
    """Run the credit-scoring story end to end on the embedded default: no servers, no AWS."""
    from crossline_bed.demo import run

    run(out, console, marquez_url=marquez_url, store_url=store_url)


@main.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder to write the sample into (crossline/samples/credit refreshes the shipped one).")
def sample(out: Path) -> None:
    """Play the story and write its OpenLineage events and data capture as crossline's sample."""
    from crossline_bed.sample import make_sample

    make_sample(out, console)


@main.group()
def marquez() -> None:
    """A Marquez backend on loopback (real Marquez 0.50.0, or the stand-in)."""


@marquez.command("up")
@click.option("--impl", type=click.Choice(["auto", "real", "standin"]), default="auto", show_default=True)
def marquez_up(impl: str) -> None:
    """Start PostgreSQL and Marquez; idempotent."""
    from crossline_bed.marquez import MarquezBed

    state = MarquezBed(impl).up()
    if state.reason and state.impl == "standin":
        console.print(f"[yellow]warning:[/] using the Marquez stand-in: {state.reason}", highlight=False)
    console.print(f"Marquez ({state.impl}) at {state.url}  admin {state.admin_url}  pid {state.pid}")


@marquez.command("down")
def marquez_down() -> None:
    """Stop Marquez and its PostgreSQL; leaves no process behind."""
    from crossline_bed.marquez import MarquezBed

    MarquezBed().down()
    console.print("Marquez and PostgreSQL stopped")


@marquez.command("status")
def marquez_status() -> None:
    """Print what runs, as JSON."""
    from crossline_bed.marquez import MarquezBed

    click.echo(json.dumps(MarquezBed().status(), indent=2))


@main.command("aws")
@click.option("--port", type=int, default=None, help="Default: CROSSLINE_MOTO_PORT or 15050.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 in a container).")
def aws(port: int | None, host: str) -> None:
    """Serve moto with the SageMaker lineage emulator (foreground)."""
    from crossline_bed.aws import serve
    from crossline_bed.process import require_free_port

    port = port or config.port("CROSSLINE_MOTO_PORT")
    require_free_port(port, "the moto server", "--port or CROSSLINE_MOTO_PORT", host)
    serve(host=host, port=port)
