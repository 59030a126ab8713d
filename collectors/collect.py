"""Collection: run every source into the store, then reconcile, and report what happened.

Contract: ``collect(store, sources)`` reads each source from its watermark and writes
each batch together with the watermark it reached and its warnings (one transaction per
batch, in the store: the warnings become the source's collection log), so collecting
twice changes nothing and a collection killed at any point resumes where its last whole
batch ended. Before a batch is written, every record goes through the door's ``guard``
(a record no store keeps alike is refused with a warning, the rest of the batch is
written; a source that ``checks_records`` itself has only its ids checked again), and
the sources share one ``RunJobs`` (over the store), so a run id reused with another job
is refused in whichever source or collection it comes. Then it runs reconciliation. It returns a ``CollectReport`` with, per source, the items scanned,
batches, records written and warnings (``CollectWarning``: source, where, why, kind),
and the reconciliation's links and unmatched entities. A source that cannot be read
raises ``SourceError``; the sources before it keep what they wrote.

Progress is shown with rich's progress bars when ``progress`` is true (the CLI); a
source that knows its total gets a bar with an end, the others a running count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crossline.collectors.door import RunJobs, guard
from crossline.collectors.graph import Graph
from crossline.collectors.log import CollectWarning, warning
from crossline.collectors.model import EdgeKind
from crossline.collectors.reconcile import ReconcileReport, reconcile
from crossline.collectors.sources import Source


@dataclass
class SourceReport:
    scanned: int = 0
    batches: int = 0
    nodes: int = 0
    edges: int = 0
    warnings: list[CollectWarning] = field(default_factory=list)
    watermark: str | None = None


@dataclass
class CollectReport:
    sources: dict[str, SourceReport] = field(default_factory=dict)
    reconcile: ReconcileReport | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "sources": {
                name: {"scanned": r.scanned, "batches": r.batches, "nodes": r.nodes, "edges": r.edges,
                       "warnings": len(r.warnings), "watermark": r.watermark}
                for name, r in self.sources.items()
            },
            "reconcile": self.reconcile.summary() if self.reconcile else None,
        }


def collect(store: Any, sources: Iterable[Source], *, progress: bool = False, console: Console | None = None) -> CollectReport:
    report = CollectReport()
    graph = Graph(store)
    runs = RunJobs(lambda ids: {h.start: h.end for h in graph.step(ids, "out", [EdgeKind.RUN_OF])})
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not progress, transient=False) as bars:
        for source in sources:
            source.runs = runs
            key = getattr(source, "watermark_key", source.name)  # a duck-typed source has its name only
            since = store.watermark(key)
            task = bars.add_task(f"{source.name}", total=source.total(since))
            result = report.sources.setdefault(source.name, SourceReport(watermark=since))
            for batch in source.read(since):
                warnings = [warning(w, source.name) for w in batch.warnings]
                checked = getattr(source, "checks_records", False)  # a duck-typed source checks nothing
                nodes, edges, refused = guard(batch.nodes, batch.edges, source.name, props=not checked)
                warnings += refused
                store.write(nodes, edges, watermark=(key, batch.watermark), log=warnings)
                result.scanned += batch.scanned
                result.batches += 1
                result.nodes += len(nodes)
                result.edges += len(edges)
                result.warnings.extend(warnings)
                result.watermark = batch.watermark
                bars.update(task, advance=batch.scanned)
            bars.update(task, total=result.scanned, completed=result.scanned)
        task = bars.add_task("reconcile", total=None)
        report.reconcile = reconcile(store)
        bars.update(task, total=1, completed=1)
    return report
