"""The graph at scale, and the regulator's trace on it (issues 6 and 7): ``.venv/bin/python benchmarks/graph.py [--sizes 100k,1m] [--skip-marquez-above N]``.

Generates synthetic lineage in the scenario's shape (``benchmarks/synthetic.py``: N
pipelines x W weeks of OpenLineage RunEvents plus the SageMaker/data-capture side as
records), sized to about 100k and 1M graph nodes, and measures for each size:

- crossline ingest: ``records_from_event`` + ``GraphStore.write`` in batches of 500
  events (the Marquez source's default batch), week by week, into a SQLite file; the
  SageMaker-side records are written after, in batches of their own and timed apart.
  Generating the events is timed apart too and is not counted.
- reconcile: ``reconcile(store)``.
- ancestors: ``Graph(store).ancestors(inference, as_of=inference time)`` from captured
  inferences of the last week of Q different pipelines (after one warm-up query not
  counted): median and p95, and a check that each answer holds that week's training set
  version and model package. Plus one inference ``--old-weeks`` earlier, to show that
  as-of answers for the past stay complete.
- trace: ``trace_inference`` for the same inferences: median and p95 latency, and the
  SQL statements each issues (SQLAlchemy's ``before_cursor_execute``, BEGIN included),
  which must not grow with the graph.
- peak memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of a fresh (spawned) child
  process per phase, so each phase's peak is its own. It counts the SQLite file pages the
  store maps (``mmap_size`` 4 GB), so the anonymous part (``RssAnon`` of
  ``/proc/self/status``, sampled every 0.2 s) is printed under it. For the stand-in: the
  server process's ``VmHWM`` (PostgreSQL's own memory not counted).
- the store's size: SQLite main file + WAL after a checkpoint.

Side by side, in the same run, the Marquez stand-in (crossline's Marquez 0.50 API
stand-in, NOT real Marquez, which cannot be had on this machine): a stand-in of our own
on free loopback ports, on a throwaway PostgreSQL cluster of the bed's kind on a free
port (the bed's shared default cluster may be stopped by anyone else's ``down()``
mid-run), destroyed afterwards. The bed's own Marquez and PostgreSQL are not touched. The same events are POSTed to
``/api/v1/lineage`` one by one (the stand-in serialises ingestion, so concurrent POSTs do
not go faster). At ~83 events/s a full 100k-node load would take about 11 minutes, so by
default only the last ``--marquez-weeks`` weeks of every pipeline are POSTed: all
pipelines, hence all jobs and the same "current" state Marquez's lineage walks, with
less history. Ingest time and database size for all events are then EXTRAPOLATED from
the measured rate and size, and the table says so. ``--marquez-weeks 0`` POSTs
everything. Sizes above ``--skip-marquez-above`` nodes skip the stand-in (said in the
output). Queries: ``GET /api/v1/lineage?nodeId=dataset:s3://credit:<p>/train/<week>&depth=20``
for the training set behind each inference crossline walked from. Marquez's lineage is
undirected and latest-version-only: it returns the whole neighbourhood of the jobs'
current inputs and outputs (here: the pipelines sharing an exclusion list), and for a
week that is no longer current it returns the dataset alone.

Prints one table per size: phase, crossline, Marquez stand-in, ratio (stand-in /
crossline). Not a timed test; numbers depend on the machine. The whole default run
(100k with the stand-in, 1M crossline only) takes about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic  # noqa: E402

BATCH_EVENTS = 500
SOURCE = "synthetic-openlineage"
BENCH_DB = "crossline_bench_graph"


# -- sizes ------------------------------------------------------------------------------------
def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def nodes_per_pipeline(weeks: int, seed: int) -> float:
    """Distinct graph nodes one pipeline gives over ``weeks`` weeks (before reconciliation)."""
    from crossline.collectors.openlineage import records_from_event

    pipeline = synthetic.Pipeline(0, weeks, seed)
    ids: set[str] = set()
    for w in range(weeks):
        for event in pipeline.events(w):
            ids.update(n.id for n in records_from_event(event)[0])
        ids.update(n.id for n in pipeline.sagemaker_records(w)[0])
    return len(ids)


def week_major(n: int, weeks: int, seed: int, first_week: int = 0):
    """(pipeline, week) in collection order: every pipeline's week w before any week w+1."""
    pipes = [synthetic.Pipeline(p, weeks, seed) for p in range(n)]
    for w in range(first_week, weeks):
        for pipeline in pipes:
            yield pipeline, w


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class AnonPeak:
    """Peak anonymous RSS (the heap; not SQLite's memory-mapped file pages), sampled every 0.2 s."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        self.sample()
        return self.peak_kb / 1024


# -- crossline phases (each in a fresh child process) -------------------------------------------
def crossline_ingest(url: str, n: int, weeks: int, seed: int) -> dict[str, Any]:
    from crossline.collectors.openlineage import ConversionReport, records_from_event
    from crossline.collectors.store import GraphStore

    anon = AnonPeak()
    store = GraphStore.open(url)
    report = ConversionReport()
    write_times: list[float] = []
    gen = convert = write = 0.0
    events = 0
    nodes: list[Any] = []
    edges: list[Any] = []
    in_batch = 0
    last_time = None

    def flush() -> None:
        nonlocal nodes, edges, in_batch, write
        t = time.perf_counter()
        store.write(nodes, edges, watermark=(SOURCE, last_time))
        write_times.append(time.perf_counter() - t)
        write += write_times[-1]
        nodes, edges, in_batch = [], [], 0

    for pipeline, w in week_major(n, weeks, seed):
        t = time.perf_counter()
        batch = pipeline.events(w)
        gen += time.perf_counter() - t
        t = time.perf_counter()
        for event in batch:
            ns, es = records_from_event(event, source="marquez", report=report)
            nodes += ns
            edges += es
        convert += time.perf_counter() - t
        events += len(batch)
        in_batch += len(batch)
        last_time = batch[-1]["eventTime"]
        if in_batch >= BATCH_EVENTS:
            flush()
    if in_batch:
        flush()

    sm_write = 0.0
    sm_records = 0
    nodes, edges = [], []
    for pipeline, w in week_major(n, weeks, seed):
        t = time.perf_counter()
        ns, es = pipeline.sagemaker_records(w)
        gen += time.perf_counter() - t
        nodes += ns
        edges += es
        if len(nodes) + len(edges) >= 10_000:
            sm_records += len(nodes) + len(edges)
            t = time.perf_counter()
            store.write(nodes, edges, watermark=("synthetic-sagemaker", f"{pipeline.p}:{w}"))
            sm_write += time.perf_counter() - t
            nodes, edges = [], []
    if nodes or edges:
        sm_records += len(nodes) + len(edges)
        t = time.perf_counter()
        store.write(nodes, edges, watermark=("synthetic-sagemaker", "end"))
        sm_write += time.perf_counter() - t
    store.close()
    return {
        "events": events, "warnings": len(report.warnings), "records": report.nodes + report.edges,
        "generate_s": gen, "convert_s": convert, "write_s": write, "sm_write_s": sm_write,
        "sm_records": sm_records, "rss_mb": _maxrss_mb(), "anon_mb": anon.stop_mb(),
        "write_first_half_s": sum(write_times[: len(write_times) // 2]),
        "write_second_half_s": sum(write_times[len(write_times) // 2 :]),
    }


def crossline_reconcile(url: str) -> dict[str, Any]:
    from crossline.collectors.graph import Graph
    from crossline.collectors.reconcile import reconcile
    from crossline.collectors.store import GraphStore

    anon = AnonPeak()
    store = GraphStore.open(url)
    t = time.perf_counter()
    report = reconcile(store)
    took = time.perf_counter() - t
    counts = Graph(store).counts()
    store.close()
    from crossline.collectors.model import EdgeKind, NodeKind

    return {
        "reconcile_s": took, "links": dict(report.links), "unmatched": sum(len(v) for v in report.unmatched.values()),
        "nodes": sum(counts[str(k)] for k in NodeKind), "edges": sum(counts[str(k)] for k in EdgeKind),
        "rss_mb": _maxrss_mb(), "anon_mb": anon.stop_mb(),
    }


def crossline_queries(url: str, starts: list[dict[str, Any]], old: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    from crossline.collectors.graph import Graph
    from crossline.collectors.store import GraphStore

    anon = AnonPeak()
    graph = Graph(GraphStore.open(url))

    def ask(start: dict[str, Any]) -> tuple[float, set[str]]:
        t = time.perf_counter()
        found = graph.ancestors(start["node"], as_of=datetime.fromisoformat(start["as_of"]))
        return (time.perf_counter() - t) * 1000, found

    ask(starts[0])  # warm-up: connection, page cache, statement cache
    samples, sizes, complete = [], [], 0
    for start in starts:
        ms, found = ask(start)
        samples.append(ms)
        sizes.append(len(found))
        complete += start["train_version"] in found and start["package"] in found
    _, old_found = ask(old)
    # The regulator's trace (issue 7): the five answers for each inference, as `crossline trace` gives them.
    from crossline.collectors.trace import trace_inference

    from sqlalchemy import event

    statements = [0]

    def count(*_args: Any, **_kw: Any) -> None:
        statements[0] += 1

    event.listen(graph.store.engine, "before_cursor_execute", count)
    trace_ms, trace_ok, trace_statements = [], 0, []
    for start in starts:
        props = graph.node(start["node"]).props
        statements[0] = 0
        t = time.perf_counter()
        answer = trace_inference(graph, props["inferenceId"], props["endpoint"])
        trace_ms.append((time.perf_counter() - t) * 1000)
        trace_statements.append(statements[0])
        trace_ok += not answer.gaps and answer.model_version.value.get("modelPackageArn") == start["package"]
    graph.store.close()
    return {
        "trace_ms": trace_ms, "trace_ok": trace_ok, "trace_statements": trace_statements,
        "samples_ms": samples, "sizes": sizes, "complete": complete,
        "old_size": len(old_found), "old_complete": old["train_version"] in old_found and old["package"] in old_found,
        "rss_mb": _maxrss_mb(), "anon_mb": anon.stop_mb(),
    }


def in_child(fn: Any, *args: Any) -> dict[str, Any]:
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def store_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


# -- the Marquez stand-in ------------------------------------------------------------------------
class Standin:
    """A Marquez stand-in of the benchmark's own, on a throwaway PostgreSQL cluster of its own.

    The cluster is the bed's kind (``crossline_bed.postgres.Postgres``, same binaries and
    layout) on a free port: the bed's default cluster is shared with whoever else works on
    this machine, and a ``down()`` from one of them would kill the measurement mid-way.
    Like every bed cluster it asks for passwords; ``self.dsn`` carries the generated one
    (never print it). It is destroyed (stopped, files removed) at the end.
    """

    def __init__(self) -> None:
        from crossline_bed.marquez_standin import StandinServer
        from crossline_bed.postgres import Postgres
        from crossline_bed.process import free_port

        default = Postgres.default()
        port = free_port()
        self.pg = Postgres(port=port, datadir=default.datadir.parent / f"cluster-{port}", as_root=default.as_root)
        self.pg.up()
        self.dsn = self.pg.ensure_database(BENCH_DB)
        self.empty_bytes = 0
        log = Path(tempfile.gettempdir()) / "crossline-bench-graph-standin.log"
        self.server = StandinServer(dsn=self.dsn, port=free_port(), admin_port=free_port(), log=log).start()
        self.url = self.server.url

    def reset(self) -> None:
        """An empty database, for the next size."""
        self.server.stop()
        self.pg.drop_database(BENCH_DB)
        self.dsn = self.pg.ensure_database(BENCH_DB)
        self.server.start()
        self.url = self.server.url

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.server.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def db_size(self) -> int:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])

    def close(self) -> None:
        try:
            self.server.stop()
        finally:
            self.pg.destroy()


def marquez_ingest(standin: Standin, n: int, weeks: int, seed: int, first_week: int) -> dict[str, Any]:
    import requests

    session = requests.Session()
    headers = {"Content-Type": "application/json"}
    url = f"{standin.url}/api/v1/lineage"
    posted, took, halves = 0, 0.0, [0.0, 0.0]
    total_pw = n * (weeks - first_week)
    for i, (pipeline, w) in enumerate(week_major(n, weeks, seed, first_week)):
        body = [json.dumps(e) for e in pipeline.events(w)]
        t = time.perf_counter()
        for data in body:
            r = session.post(url, data=data, headers=headers, timeout=60)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"Marquez stand-in refused an event: {r.status_code} {r.text[:300]}")
        spent = time.perf_counter() - t
        took += spent
        halves[0 if i < total_pw // 2 else 1] += spent
        posted += len(body)
    return {"events": posted, "ingest_s": took, "first_half_s": halves[0], "second_half_s": halves[1]}


def marquez_queries(standin: Standin, starts: list[dict[str, Any]], old: dict[str, Any]) -> dict[str, Any]:
    import requests

    session = requests.Session()

    def ask(start: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
        t = time.perf_counter()
        r = session.get(f"{standin.url}/api/v1/lineage", params={"nodeId": start["train_dataset"], "depth": 20},
                        timeout=120)
        ms = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        return ms, r.json()["graph"]

    ask(starts[0])
    samples, sizes, complete = [], [], 0
    for start in starts:
        ms, graph = ask(start)
        samples.append(ms)
        sizes.append(len(graph))
        ids = {node["id"] for node in graph}
        complete += start["train_job"] in ids
    _, old_graph = ask(old)
    return {"samples_ms": samples, "sizes": sizes, "complete": complete, "old_size": len(old_graph),
            "old_complete": old["train_job"] in {node["id"] for node in old_graph}}


# -- plan, run, print ------------------------------------------------------------------------------
def start_nodes(n: int, weeks: int, seed: int, count: int, old_weeks: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Inferences of the last week in ``count`` different pipelines, and one ``old_weeks`` earlier."""
    rng = random.Random(f"{seed}:starts")
    chosen = rng.sample(range(n), min(count, n))

    def start(p: int, w: int, k: int) -> dict[str, Any]:
        pipeline = synthetic.Pipeline(p, weeks, seed)
        week = pipeline.week(w)
        node, at = week.inferences[k]
        return {"node": node, "as_of": at.isoformat(), "train_version": week.train_version_id,
                "package": week.package_arn, "train_dataset": week.train_dataset,
                "train_job": f"job:{synthetic.NAMESPACE}:{pipeline.dag}.train", "label": week.label}

    starts = [start(p, weeks - 1, rng.randrange(synthetic.INFERENCES_PER_WEEK)) for p in chosen]
    return starts, start(chosen[0], max(0, weeks - 1 - old_weeks), 0)


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(samples), p95


def fmt_s(s: float) -> str:
    return f"{s:.1f} s" if s >= 10 else f"{s:.2f} s"


def fmt_mb(b: float) -> str:
    return f"{b / 1e6:.0f} MB" if b >= 1e7 else f"{b / 1e6:.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m", help="target graph sizes in nodes (default 100k,1m)")
    parser.add_argument("--skip-marquez-above", type=parse_size, default=parse_size("200k"),
                        help="no Marquez stand-in for sizes above this many nodes (default 200k)")
    parser.add_argument("--marquez-weeks", type=int, default=12,
                        help="POST only the last K weeks of every pipeline to the stand-in, extrapolate the rest "
                             "(default 12; 0 = all weeks)")
    parser.add_argument("--weeks", type=int, default=52, help="weeks per pipeline (default 52)")
    parser.add_argument("--queries", type=int, default=20, help="ancestor queries per size (default 20)")
    parser.add_argument("--old-weeks", type=int, default=8, help="the extra as-of query: this many weeks back")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--workdir", type=Path, default=None, help="where the SQLite stores go (default: a temp dir)")
    args = parser.parse_args()

    began = time.perf_counter()
    synthetic.check_facets()
    weeks = args.weeks
    per_pipeline = nodes_per_pipeline(weeks, args.seed)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    print("crossline graph benchmark (issue 6). Marquez side: crossline's Marquez API stand-in (NOT real "
          "Marquez) on a throwaway PostgreSQL cluster of the bed's kind.")
    print(f"synthetic shape: N pipelines x {weeks} weeks, ~{per_pipeline / weeks:.1f} nodes and 19 OpenLineage "
          f"events per pipeline-week, plus SageMaker-side records; seed {args.seed}")
    tmp = tempfile.TemporaryDirectory(prefix="crossline-bench-graph-") if args.workdir is None else None
    workdir = Path(tmp.name) if tmp else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    standin: Standin | None = None
    tables = []
    try:
        for target in sizes:
            n = max(1, round(target / per_pipeline))
            label = f"{target:,} nodes target: {n} pipelines x {weeks} weeks"
            print(f"\n== {label}", flush=True)
            db = workdir / f"graph-{target}.db"
            for old in workdir.glob(db.name + "*"):
                old.unlink()
            url = f"sqlite:///{db}"
            t = time.perf_counter()
            ingest = in_child(crossline_ingest, url, n, weeks, args.seed)
            print(f"   crossline ingest done in {time.perf_counter() - t:.0f} s", flush=True)
            rec = in_child(crossline_reconcile, url)
            starts, old = start_nodes(n, weeks, args.seed, args.queries, args.old_weeks)
            query = in_child(crossline_queries, url, starts, old)
            size = store_size(db)
            print(f"   crossline: {rec['nodes']:,} nodes, {rec['edges']:,} edges, {ingest['events']:,} events; "
                  f"done at {time.perf_counter() - began:.0f} s", flush=True)

            marquez = None
            if target <= args.skip_marquez_above:
                if standin is None:
                    standin = Standin()
                else:
                    standin.reset()
                first = max(0, weeks - args.marquez_weeks) if args.marquez_weeks > 0 else 0
                first = min(first, weeks - 1 - args.old_weeks)  # the old-week start must be loaded
                standin.empty_bytes = standin.db_size()
                m_ingest = marquez_ingest(standin, n, weeks, args.seed, max(0, first))
                m_query = marquez_queries(standin, starts, old)
                marquez = {**m_ingest, **m_query, "db_bytes": standin.db_size(), "empty_bytes": standin.empty_bytes, "rss_mb": standin.peak_rss_mb(),
                           "first_week": max(0, first)}
                print(f"   Marquez stand-in: {m_ingest['events']:,} events POSTed; done at "
                      f"{time.perf_counter() - began:.0f} s", flush=True)
            tables.append((target, n, ingest, rec, query, size, marquez))
    finally:
        if standin is not None:
            standin.close()
        if tmp is not None:
            tmp.cleanup()

    for target, n, ingest, rec, query, size, marquez in tables:
        print_table(target, n, weeks, ingest, rec, query, size, marquez, args)
    print(f"\nwall time of the whole run: {time.perf_counter() - began:.0f} s")
    return 0


def print_table(target: int, n: int, weeks: int, ingest: dict[str, Any], rec: dict[str, Any], query: dict[str, Any],
                size: int, marquez: dict[str, Any] | None, args: argparse.Namespace) -> None:
    events = ingest["events"]
    print(f"\n### ~{target:,} nodes: {n} pipelines x {weeks} weeks = {rec['nodes']:,} nodes, {rec['edges']:,} edges "
          f"(after reconcile), {events:,} OpenLineage events + {ingest['sm_records']:,} SageMaker-side records")
    ol_s = ingest["convert_s"] + ingest["write_s"]
    q_med, q_p95 = summary(query["samples_ms"])
    rows: list[tuple[str, str, str, str]] = []

    def ratio(m: float | None, c: float) -> str:
        return f"{m / c:.1f}x" if m is not None and c else "-"

    m = marquez
    partial = m is not None and m["events"] < events
    extra = "(extrapolated)" if partial else ""
    m_rate = m["events"] / m["ingest_s"] if m else None
    m_total = events / m_rate if m else None
    rows.append(("ingest OpenLineage events: time", fmt_s(ol_s),
                 f"{fmt_s(m_total)} {extra}".strip() if m else "not run", ratio(m_total, ol_s)))
    rows.append(("  events/s", f"{events / ol_s:,.0f}", f"{m_rate:,.0f}" if m else "-",
                 f"{m_rate / (events / ol_s):.3f}x" if m else "-"))
    rows.append(("  of which records_from_event / write", f"{fmt_s(ingest['convert_s'])} / {fmt_s(ingest['write_s'])}",
                 "-", "-"))
    rows.append(("  write: first / second half of batches", f"{fmt_s(ingest['write_first_half_s'])} / "
                 f"{fmt_s(ingest['write_second_half_s'])}", "-", "-"))
    rows.append(("ingest SageMaker-side records", f"{fmt_s(ingest['sm_write_s'])} ({ingest['sm_records']:,})",
                 "n/a (not in Marquez)", "-"))
    rows.append(("reconcile", fmt_s(rec["reconcile_s"]), "n/a (no reconciliation)", "-"))
    m_med, m_p95 = summary(m["samples_ms"]) if m else (None, None)
    q = len(query["samples_ms"])
    rows.append((f"ancestors / lineage, median of {q}", f"{q_med:.1f} ms", f"{m_med:.1f} ms" if m else "not run",
                 ratio(m_med, q_med)))
    rows.append((f"ancestors / lineage, p95 of {q}", f"{q_p95:.1f} ms", f"{m_p95:.1f} ms" if m else "not run",
                 ratio(m_p95, q_p95)))
    t_med, t_p95 = summary(query["trace_ms"])
    stmts = query["trace_statements"]
    spread = f"{min(stmts)}" if min(stmts) == max(stmts) else f"{min(stmts)}-{max(stmts)}"
    rows.append((f"trace (five answers), median / p95 of {q}; SQL statements per trace",
                 f"{t_med:.1f} / {t_p95:.1f} ms; {spread} statements", "n/a", "-"))
    rows.append(("  traces with no gap and the right package", f"{query['trace_ok']}/{q}", "-", "-"))
    rows.append(("  nodes returned, median", f"{statistics.median(query['sizes']):.0f}",
                 f"{statistics.median(m['sizes']):.0f}" if m else "-", "-"))
    rows.append(("  answers holding the served model's lineage", f"{query['complete']}/{q}",
                 f"{m['complete']}/{q} (train job)" if m else "-", "-"))
    rows.append((f"  as of {args.old_weeks} weeks earlier: complete?",
                 f"{'yes' if query['old_complete'] else 'NO'} ({query['old_size']} nodes)",
                 f"{'yes' if m['old_complete'] else 'no'} ({m['old_size']} nodes)" if m else "-", "-"))
    rows.append(("peak RSS: ingest / reconcile / query child", f"{ingest['rss_mb']:.0f} / {rec['rss_mb']:.0f} / "
                 f"{query['rss_mb']:.0f} MB", f"server {m['rss_mb']:.0f} MB" if m else "-",
                 ratio(m["rss_mb"], max(ingest["rss_mb"], rec["rss_mb"], query["rss_mb"])) if m else "-"))
    rows.append(("  of it anonymous (heap), sampled", f"{ingest['anon_mb']:.0f} / {rec['anon_mb']:.0f} / "
                 f"{query['anon_mb']:.0f} MB", "-", "-"))
    # The empty schema's size is fixed; only what the events added scales with them.
    m_size = m["empty_bytes"] + (m["db_bytes"] - m["empty_bytes"]) * events / m["events"] if m else None
    rows.append(("store size (SQLite file / PostgreSQL db)", fmt_mb(size),
                 f"{fmt_mb(m_size)} {extra}".strip() if m else "-", ratio(m_size, size)))
    widths = [max(len(r[i]) for r in rows + [("phase", "crossline", "Marquez stand-in", "ratio")]) for i in range(4)]
    header = ("phase", "crossline", "Marquez stand-in", "ratio")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    if m is None:
        print(f"Marquez stand-in: skipped at this size (above --skip-marquez-above {args.skip_marquez_above:,} nodes); "
              "see the smaller size.")
    else:
        if partial:
            print(f"Marquez stand-in: POSTed {m['events']:,} of {events:,} events (weeks {m['first_week']}..{weeks - 1} "
                  f"of every pipeline) in {fmt_s(m['ingest_s'])} (first half of the pipeline-weeks {fmt_s(m['first_half_s'])}, second half "
                  f"{fmt_s(m['second_half_s'])}). Time and size for all events are extrapolated linearly from that; "
                  "if the second half was slower, the stand-in slows as it fills and the time is a lower bound.")
        print("Marquez stand-in lineage is undirected and latest-version-only (depth=20 from the training set); "
              "crossline walks ancestors only, as of the inference time. Ratio = stand-in / crossline.")
    print(f"crossline reconcile links: {rec['links']}; unmatched: {rec['unmatched']}; converter warnings: "
          f"{ingest['warnings']}; event generation (not counted): {fmt_s(ingest['generate_s'])}")


if __name__ == "__main__":
    sys.exit(main())
