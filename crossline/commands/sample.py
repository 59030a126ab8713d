"""``crossline sample``: a copy of the sample crossline ships, to try it with no AWS and no servers.

Contract: ``crossline sample [DIR]`` copies the shipped sample (``crossline/samples/credit``:
real OpenLineage events and endpoint data capture from one run of the credit-scoring
story on crossline's bed; see its README) into ``DIR`` (default ``./crossline-sample``)
and prints the two commands that collect and trace it. A ``DIR`` that exists and is not
empty is refused (exit 2) unless ``--force``; nothing outside ``DIR`` is written.
"""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

import click

from crossline.commands.output import out

SAMPLE = "credit"
REGION = "us-east-1"
ACCOUNT = "123456789012"


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False),
                default=Path("crossline-sample"))
@click.option("--force", is_flag=True, help="Write into FOLDER even if it holds files.")
def sample(folder: Path, force: bool) -> None:
    """Copy crossline's sample (real events and data capture from the credit-scoring story) into FOLDER."""
    if folder.exists() and any(folder.iterdir()) and not force:
        raise click.UsageError(f"{folder} exists and is not empty; choose another folder or pass --force")
    with as_file(files("crossline").joinpath("samples", SAMPLE)) as source:
        shutil.copytree(source, folder, dirs_exist_ok=True)
    store = folder / "sample.db"
    console = out()
    console.print(f"crossline's sample is in {folder}. Collect it and ask about loan-8231:", markup=False)
    console.print(f"  crossline collect --store {store} --openlineage {folder / 'events.jsonl'} "
                  f"--data-capture {folder / 'datacapture'} --region {REGION} --account {ACCOUNT}", markup=False)
    console.print(f"  crossline trace loan-8231 --store {store} --out {folder / 'trace'}", markup=False)
