"""``crossline config``: which settings every command would use here, and where each came from.

Contract: prints the resolved graph store (URL with any password hidden, and its origin:
``--store``, ``CROSSLINE_STORE_URL``, a config file's path, or ``default``) and
crossline's home folder, as text or ``--json``. It opens nothing.
"""

from __future__ import annotations

import click

from crossline import config as home_config
from crossline import settings
from crossline.commands.graph import STORE_OPTION
from crossline.commands.output import echo_json, out


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@click.command("config")
@STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def show_config(store_option: str | None, as_json: bool) -> None:
    """Show the settings crossline uses from here (the graph store, the home folder) and their origins."""
    store = settings.store(store_option)
    answer = {"store": {"url": _hide_password(store.value), "from": store.origin}, "home": str(home_config.home())}
    if as_json:
        echo_json(answer)
        return
    console = out()
    console.print(f"store: {answer['store']['url']}  (from {store.origin})", markup=False)
    console.print(f"home:  {answer['home']}", markup=False)
