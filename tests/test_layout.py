"""The layout tells the story, and imports point one way.

dags -> emitters <- collectors, with ``crossline/`` (errors, config, times, the CLI) under
both; the bed (``bed/crossline_bed``) drives the product from outside. This walks every
import statement of the product's source (module level and inside functions) and checks:

- emitters never import collectors;
- nothing in the product imports the bed;
- crossline's core modules (everything in ``crossline/`` but the command line,
  ``cli.py`` and ``commands/``) import neither
  emitters nor collectors, so both can build on them;
- ``dags/`` imports nothing of crossline when Airflow parses it (module level), checked
  both in the source and by loading each DAG file in a fresh interpreter;
- tests reach the product through public names only (no ``_private`` imports).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder in the repository -> package it installs as
PRODUCT = {"crossline": "crossline", "emitters": "crossline.emitters", "collectors": "crossline.collectors"}


def _modules(folder: str) -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT / folder).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        yield path, ".".join([PRODUCT.get(folder, folder), *parts]).rstrip(".")


def _imports(path: Path, module: str, *, top_level_only: bool = False) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                yield node.lineno, ".".join([*base, node.module or ""]).rstrip(".")
            elif node.module:
                yield node.lineno, node.module


def _violations(folder: str, forbidden: tuple[str, ...], *, skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path, module in _modules(folder):
        if any(module == s or module.startswith(s + ".") for s in skip):
            continue
        for line, target in _imports(path, module):
            if any(target == f or target.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def test_emitters_never_import_collectors() -> None:
    assert _violations("emitters", ("crossline.collectors",)) == []


@pytest.mark.parametrize("folder", sorted(PRODUCT))
def test_the_product_never_imports_the_bed(folder: str) -> None:
    assert _violations(folder, ("crossline_bed",)) == []


def test_crosslines_core_builds_on_nothing_above_it() -> None:
    command_line = ("crossline.cli", "crossline.commands")
    assert _violations("crossline", ("crossline.emitters", "crossline.collectors"), skip=command_line) == []


def test_the_walk_sees_what_it_should() -> None:
    """The check can fail: the CLI does import collectors (lazily, inside its commands)."""
    assert _violations("crossline", ("crossline.collectors",))
    path = ROOT / "collectors" / "graph.py"
    assert any(t.startswith("crossline.collectors") for _, t in _imports(path, "crossline.collectors.graph"))


def test_dags_import_nothing_of_crossline_when_parsed() -> None:
    dags = sorted((ROOT / "dags").glob("*.py"))
    assert dags
    for path in dags:
        module = f"dags.{path.stem}"
        top = [t for _, t in _imports(path, module, top_level_only=True)]
        assert not [t for t in top if t.split(".")[0] in ("crossline", "crossline_bed")], path
        probe = (
            "import runpy, sys\n"
            f"runpy.run_path({str(path)!r})\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('crossline', 'crossline_bed'))\n"
            "print(loaded)\n"
            "sys.exit(1 if loaded else 0)\n"
        )
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{path.name} loads crossline at parse time: {proc.stdout[-500:]} {proc.stderr[-2000:]}"


def test_tests_use_public_names_only() -> None:
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "crossline":
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {private} from {node.module}")
    assert found == []
