"""Collection: run every source into the store, then reconcile, and report what happened.

Contract: ``collect(store, sources)`` reads each source from its watermark and writes
each batch together with the watermark it reached (one transaction per batch, in the
store), so collecting twice changes nothing and a collection killed at any point
resumes where its last whole batch ended. Then it runs reconciliation. It returns a
``CollectReport`` with, per source, the items scanned, batches, records written and
warnings, and the reconciliation's links and unmatched entities. A source that cannot
be read raises ``SourceError``; the sources before it keep what they wrote.

Progress is shown with rich's progress bars when ``progress`` is true (the CLI); a
source that knows its total gets a bar with an end, the others a running count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crossline.collectors.reconcile import ReconcileReport, reconcile
from crossline.collectors.sources import Source


@dataclass
class SourceReport:
    scanned: int = 0
    batches: int = 0
    nodes: int = 0
    edges: int = 0
    warnings: list[str] = field(default_factory=list)
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
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not progress, transient=False) as bars:
        for source in sources:
            since = store.watermark(source.name)
            task = bars.add_task(f"{source.name}", total=source.total(since))
            result = report.sources.setdefault(source.name, SourceReport(watermark=since))
            for batch in source.read(since):
                store.write(batch.nodes, batch.edges, watermark=(source.name, batch.watermark))
                result.scanned += batch.scanned
                result.batches += 1
                result.nodes += len(batch.nodes)
                result.edges += len(batch.edges)
                result.warnings.extend(batch.warnings)
                result.watermark = batch.watermark
                bars.update(task, advance=batch.scanned)
            bars.update(task, total=result.scanned, completed=result.scanned)
        task = bars.add_task("reconcile", total=None)
        report.reconcile = reconcile(store)
        bars.update(task, total=1, completed=1)
    return report
