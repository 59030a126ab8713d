"""crossline installed as a user installs it: the built wheel, in a fresh virtual environment.

The rest of the suite runs against the editable checkout, which hides a missing package,
data file or dependency declaration. Here the wheel is built from the checkout, installed
(not editable, with pip and the pins of ``constraints.txt``) into a new virtual
environment that sees nothing of the test environment, first bare, then with the
``airflow``, ``postgresql`` and ``mlflow`` extras, and used there:

- the wheel holds every module and data file of the product (``crossline/``,
  ``emitters/``, ``collectors/``: modules, JSON Schemas, migrations, the sample) and
  nothing of the bed or the tests;
- in the bare install every module of the product imports (so every third-party import
  is declared), except the Airflow extractors, which need the extra;
- ``crossline --version``, ``crossline sample``, ``crossline collect`` and ``crossline
  trace`` work on the shipped sample;
- with the extras, every module of ``crossline.emitters.airflow`` imports, and the mlflow
  source finds MLflow's client.

It takes about two minutes (most of it pip installing Airflow). ``-m "not wheel"``
deselects it while iterating; CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"crossline": "crossline", "emitters": "crossline/emitters", "collectors": "crossline/collectors"}
DATA_SUFFIXES = (".json", ".mako", ".jsonl", ".txt", ".md", ".csv")


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, env={**env, **kwargs.pop("env", {})},
                          **kwargs)  # type: ignore[call-overload]
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("crossline-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment with the bare wheel installed."""
    home = tmp_path_factory.mktemp("venv") / "env"
    proc = _run([sys.executable, "-m", "venv", str(home)])
    assert proc.returncode == 0, proc.stderr
    proc = _run([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"),
                 str(wheel)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return home


def _product_files() -> set[str]:
    wanted = set()
    for folder, installed in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py" or path.suffix in DATA_SUFFIXES:
                wanted.add(f"{installed}/{path.relative_to(ROOT / folder)}")
    return wanted


def test_the_wheel_holds_the_product_and_only_the_product(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_product_files() - names)
    assert missing == []
    assert not [n for n in names if n.startswith(("crossline_bed/", "tests/", "bed/", "dags/", "benchmarks/"))]
    licences = [n for n in names if "LICENSE" in n or "licenses/" in n]
    assert licences, "the wheel carries licence files"
    # The OpenLineage schemas the collector validates against ship with their licence.
    assert "crossline/collectors/schemas/openlineage/LICENSE" in names


def _modules() -> list[str]:
    modules = []
    for folder, installed in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            modules.append(".".join([installed.replace("/", "."), *parts]))
    return modules


def test_every_module_imports_in_a_bare_install(venv: Path) -> None:
    """Every third-party import of the product is declared (only the Airflow extractors need an extra)."""
    modules = [m for m in _modules() if not m.startswith("crossline.emitters.airflow")
               and not m.startswith("crossline.collectors.migrations")]
    probe = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\nprint('ok')\n"
    proc = _run([str(venv / "bin" / "python"), "-c", probe, *modules], cwd=venv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where = _run([str(venv / "bin" / "python"), "-c", "import crossline; print(crossline.__file__)"], cwd=venv)
    assert str(venv) in where.stdout, "imported from the venv, not the checkout"


def test_the_command_runs_from_the_wheel(venv: Path) -> None:
    from importlib.metadata import version

    proc = _run([str(venv / "bin" / "crossline"), "--version"], cwd=venv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"crossline {version('crossline')}"


def test_the_shipped_sample_collects_and_traces_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    """A new user's first minutes: the sample, collected and traced with no AWS and no servers."""
    crossline = str(venv / "bin" / "crossline")
    offline = {"AWS_EC2_METADATA_DISABLED": "true", "CROSSLINE_HOME": str(tmp_path / "home")}
    made = _run([crossline, "sample", "s"], cwd=tmp_path, env=offline)
    assert made.returncode == 0, made.stderr
    line = next(t.strip() for t in made.stdout.splitlines() if t.strip().startswith("crossline collect"))
    collected = _run([crossline, *line.split()[1:], "--json"], cwd=tmp_path, env=offline)
    assert collected.returncode == 0, collected.stderr[-3000:]
    assert json.loads(collected.stdout)["warnings"] == []
    store = next(arg for arg in line.split() if arg.endswith(".db"))
    traced = _run([crossline, "trace", "loan-8231", "--store", store, "--json", "--out", "out"], cwd=tmp_path, env=offline)
    assert traced.returncode == 0, traced.stderr[-3000:]
    answer = json.loads(traced.stdout)
    assert (answer["gaps"], answer["findings"]) == ([], [])
    assert answer["model_version"]["value"]["version"] == 73
    assert answer["approval"]["value"]["approver"] == "risk-ops@company.com"
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".json", ".md", ".pdf"]


def test_the_airflow_extractors_import_with_the_extra(venv: Path, wheel: Path) -> None:
    proc = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"),
                 f"{wheel}[airflow,postgresql,mlflow]"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = [m for m in _modules() if m.startswith("crossline.emitters.airflow")]
    assert len(modules) >= 2
    probe = ("import importlib, json, sys\nimport crossline.emitters.airflow as a\n"
             "for m in sys.argv[1:]:\n    importlib.import_module(m)\n"
             "for path in a.EXTRACTORS.split(';'):\n"
             "    mod, _, cls = path.rpartition('.')\n    getattr(importlib.import_module(mod), cls)\n"
             "print(json.dumps(a.EXTRACTORS.split(';')))\n")
    proc = _run([str(venv / "bin" / "python"), "-c", probe, *modules], cwd=venv,
                env={"AIRFLOW_HOME": str(venv / "airflow")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(json.loads(proc.stdout.strip().splitlines()[-1])) >= 7
    # The mlflow extra brings MLflow's client, which the mlflow source imports only when used.
    probe = ("from crossline.collectors.sources import source_from_config\n"
             "print(type(source_from_config({'type': 'mlflow', 'tracking_uri': 'http://127.0.0.1:1'}).client).__name__)\n")
    proc = _run([str(venv / "bin" / "python"), "-c", probe], cwd=venv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "MlflowClient"
