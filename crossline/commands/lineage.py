"""``crossline lineage``: the durable transport's spool, its delivery and its quarantine.

Contract (errors and exit codes as every command's, ``crossline.cli``; nothing printed
holds a credential, ``crossline.redact``):

- ``replay [--spool] [--url] [--wait]``: send spooled events now, oldest first, and print
  what happened as JSON (``sent``, ``rejected``, ``remaining``, ``held``: why delivery
  stopped). Exit 0 when the spool is empty; 4 when the backend did not take the rest
  (down, busy or failing: they wait for their next try); 2 when the URL, credentials or
  TLS settings look wrong (401/403/404); 1 when another process was sending.
- ``status [--spool] [--json]``: pending events (count, bytes, oldest, the oldest's
  failures) and the quarantined ones with their reasons, as text or JSON.
- ``requeue [--spool] (NAME... | --all)``: move quarantined events back to the queue with a
  fresh attempt budget; exit 2 if a NAME is not quarantined in this spool.
"""

from __future__ import annotations

from pathlib import Path

import click

from crossline.commands.output import echo_json, err, out
from crossline.errors import EXIT_FINDINGS, EXIT_UNAVAILABLE, EXIT_USAGE

SPOOL_HELP = ("Spool folder. Default: the configured transport's, else CROSSLINE_SPOOL_DIR, "
              "else $CROSSLINE_HOME/spool.")


@click.group()
def lineage() -> None:
    """The durable lineage transport's spool: events not delivered yet, and quarantined ones."""


@lineage.command("replay")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=SPOOL_HELP)
@click.option("--url", default=None, help="Backend URL. Default: the configured transport's, else OPENLINEAGE_URL.")
@click.option("--wait", type=float, default=30.0, show_default=True,
              help="Seconds to wait for another process that is sending from the spool.")
def replay(spool_dir: Path | None, url: str | None, wait: float) -> None:
    """Send spooled events now, oldest first; print what happened as JSON.

    Exit 0 when the spool is empty; 4 when the backend did not take the rest; 2 when the
    URL, credentials or TLS settings look wrong; 1 when another process was sending. An
    event that cannot be delivered is quarantined (see `crossline lineage status`).
    """
    from crossline.emitters.transport.durable import transport_from_config

    transport = transport_from_config(spool_dir=spool_dir, url=url)
    try:
        report = transport.replay(wait=wait)
    finally:
        transport.http.close()
    echo_json({"url": transport.url, "spool": str(transport.spool.directory), **report.as_dict()})
    if report.remaining:
        raise SystemExit(EXIT_USAGE if report.held == "setup" else EXIT_FINDINGS if report.busy else EXIT_UNAVAILABLE)


@lineage.command("status")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=SPOOL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(spool_dir: Path | None, as_json: bool) -> None:
    """Pending events (count, bytes, oldest, the oldest's failures) and quarantined ones with their reasons."""
    from rich.markup import escape

    from crossline.emitters.transport.durable import spool_from_config

    found = spool_from_config(spool_dir).status()
    if as_json:
        echo_json(found.as_dict())
        return
    console = out()
    console.print(escape(f"spool {found.directory} (max {found.max_bytes} bytes)"))
    console.print(f"pending: {found.pending.count} events, {found.pending.bytes} bytes"
                  + (f", oldest spooled {found.pending.oldest}" if found.pending.oldest else ""))
    if found.head:
        console.print(escape(f"  the oldest has failed {found.head['attempts']} times; last: {found.head['last_error']}"))
    console.print(escape(f"quarantined: {found.rejected.count} events in {Path(found.directory) / 'rejected'}"))
    for q in found.quarantined:
        console.print(escape(f"  {q.name}  {q.rejected_at or '?'}  {q.reason}"))
    if found.quarantined:
        console.print("send them again with: crossline lineage requeue NAME... | --all")


@lineage.command("requeue")
@click.argument("names", nargs=-1)
@click.option("--all", "requeue_all", is_flag=True, help="Requeue every quarantined event.")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=SPOOL_HELP)
def requeue(names: tuple[str, ...], requeue_all: bool, spool_dir: Path | None) -> None:
    """Move quarantined events back to the queue with a fresh attempt budget (NAME... or --all)."""
    from rich.markup import escape

    from crossline.emitters.transport.durable import spool_from_config

    if bool(names) == requeue_all:
        raise click.UsageError("name the quarantined events to requeue, or give --all (one of them)")
    moved, unknown = spool_from_config(spool_dir).requeue(None if requeue_all else names)
    echo_json({"requeued": moved, "unknown": unknown})
    if unknown:
        err().print(escape(f"crossline: not quarantined in this spool: {', '.join(unknown)}"))
        raise SystemExit(EXIT_USAGE)
