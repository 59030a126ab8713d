"""Any order, any duplication, any batch split of the story's real records gives the same graph.

DESIGN.md decision 3, as a property. The facts are the story's own, got once from the
``story`` fixture: each OpenLineage event of its events file (converted by
``records_from_event``, as the openlineage-file source converts it), and each record
(node or edge) the SageMaker source and the data-capture source read from the story's
AWS bed. Hypothesis (the ``ci`` profile of tests/conftest.py: derandomized, bounded)
draws a delivery: the facts in any order (a shuffle by a Hypothesis-drawn seed, or all
reversed), some
of them delivered again at any point (replays, re-reads), cut into batches anywhere
(each batch one ``GraphStore.write``, as one source batch is), with reconciliation run
after some batches (a collection ending) and at the end. Its canonical dump must equal
that of collecting the facts once, in order, and reconciling; and that one must be the
graph the real ``collect`` of the story made. The test prints how many deliveries it
tried and how long it took.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, Node
from crossline.collectors.openlineage import records_from_event
from crossline.collectors.reconcile import reconcile
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore

Unit = tuple[list[Node], list[Edge]]


@pytest.fixture(scope="module")
def units(story, story_source_configs, aws_credentials) -> dict[str, list[Unit]]:  # type: ignore[no-untyped-def]
    """The story's facts: one unit per OpenLineage event, per SageMaker record, per data-capture record."""
    configs = {c["type"]: c for c in story_source_configs}
    lines = Path(configs["openlineage-file"]["paths"][0]).read_text().splitlines()
    found: dict[str, list[Unit]] = {
        "openlineage": [records_from_event(json.loads(line), source="openlineage-file") for line in lines if line.strip()]
    }
    for kind in ("sagemaker", "data-capture"):
        batches = list(source_from_config(configs[kind]).read(None))
        found[kind] = [([n], []) for b in batches for n in b.nodes] + [([], [e]) for b in batches for e in b.edges]
    return found


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store to copy: migrating once, not per example."""
    path = tmp_path_factory.mktemp("template") / "graph.db"
    GraphStore.open(f"sqlite:///{path}").close()
    return path


def deliver(template: Path, folder: Path, batches: list[list[Unit]], reconcile_after: set[int]) -> dict[str, Any]:
    path = folder / "graph.db"
    for stale in folder.glob("graph.db*"):
        stale.unlink()
    shutil.copy(template, path)
    with GraphStore.open(f"sqlite:///{path}") as store:
        for number, batch in enumerate(batches):
            store.write([n for nodes, _ in batch for n in nodes], [e for _, edges in batch for e in edges])
            if number in reconcile_after:
                reconcile(store)
        reconcile(store)
        return Graph(store).dump()


@pytest.fixture(scope="module")
def in_order(units: dict[str, list[Unit]], empty_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Collected once, in order: each source's facts as one batch, then reconciled."""
    return deliver(empty_store, tmp_path_factory.mktemp("in-order"), [units[k] for k in sorted(units)], set())


def test_in_order_is_the_graph_collect_made(in_order: dict[str, Any], story_graph) -> None:  # type: ignore[no-untyped-def]
    store, _ = story_graph
    assert json.loads(json.dumps(Graph(store).dump())) == json.loads(json.dumps(in_order))


def test_any_order_any_duplication_any_split_gives_the_same_graph(
    units: dict[str, list[Unit]], in_order: dict[str, Any], empty_store: Path, tmp_path: Path
) -> None:
    facts = [u for kind in sorted(units) for u in units[kind]]
    tried: list[int] = []

    # A seed, not Hypothesis's own random: a shuffle of ~1,200 facts would overrun its buffer.
    @given(seed=st.integers(0, 2**32 - 1), replays=st.integers(0, 60), cuts=st.integers(0, 12),
           reconciles=st.sets(st.integers(0, 12), max_size=4), shuffled=st.booleans())
    def check(seed: int, replays: int, cuts: int, reconciles: set[int], shuffled: bool) -> None:
        shuffle = random.Random(seed)
        sequence = facts[:] if shuffled else list(reversed(facts))
        if shuffled:  # else: newest first, the other extreme
            shuffle.shuffle(sequence)
        for _ in range(replays):  # at-least-once: some facts again, anywhere
            sequence.insert(shuffle.randrange(len(sequence) + 1), shuffle.choice(facts))
        bounds = [0, *sorted(shuffle.sample(range(1, len(sequence)), cuts)), len(sequence)]
        batches = [sequence[a:b] for a, b in zip(bounds, bounds[1:])]
        tried.append(len(batches))
        assert deliver(empty_store, tmp_path, batches, reconciles) == in_order

    started = time.monotonic()
    check()
    elapsed = time.monotonic() - started
    print(f"\nevent-time invariant: {len(tried)} deliveries of {len(facts)} facts "
          f"({sum(len(u[0]) + len(u[1]) for u in facts)} records; {sum(tried)} batches in all) "
          f"gave the in-order graph, in {elapsed:.1f} s")
    assert len(tried) >= 10
