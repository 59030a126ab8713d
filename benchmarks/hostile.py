"""The hostile corpus against the collector: ``.venv/bin/python benchmarks/hostile.py [--per-family 530]``.

Generates the corpus of ``crossline_bed.hostile`` from the story's real events (the 52
of crossline's sample, ``crossline/samples/credit/events.jsonl``): the good events, then
``--per-family`` hostile lines of each of its 20 families (huge strings, a megabyte
each, at a twentieth of that), over 10,000 in all by default, written as one JSON Lines
file. Then, on SQLite and on PostgreSQL (a throwaway cluster of the bed's kind on a
free port, destroyed after), it collects the good events alone into one store and the
whole corpus into another, with the ``openlineage-file`` source as ``crossline collect``
runs it, and checks:

- crashes: 0 (the collection returns);
- good events lost: 0 (the mixed store's canonical ``Graph.dump()`` equals the
  good-only store's, and no good line is warned about);
- every hostile line warned about, at its line (``{file}:{line}``), and the warnings
  kept in the store's collection log.

It prints, per family, the lines, those warned about and the kinds of warning, then the
time of each collection with its rate in lines/s, and the door's own cost per event on
the good events (``validation.check_event``, cold and warm; ``jsonsafe.loads``). Exit 1
if any check fails. Not a timed test: the numbers depend on the machine. The default
run takes about five minutes on 2 cores, most of it generating the corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from crossline_bed.hostile import FAMILIES, corpus, tally
from crossline.collectors import jsonsafe
from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.collectors.validation import _memo, check_event, validators

BENCH_DB = "crossline_bench_hostile"


def good_events() -> list[dict[str, Any]]:
    text = files("crossline").joinpath("samples/credit/events.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run(url: str, path: Path) -> tuple[dict[str, Any], list[Any], float, int]:
    """Collect ``path`` into a new store at ``url``: (dump, warnings, seconds, log entries)."""
    with GraphStore.open(url) as store:
        source = source_from_config({"type": "openlineage-file", "paths": [str(path)], "batch_size": 500})
        started = time.perf_counter()
        report = collect(store, [source])
        seconds = time.perf_counter() - started
        graph = Graph(store)
        return graph.dump(), report.sources[source.name].warnings, seconds, len(graph.log())


def door_cost(good: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds an event, best of 7 passes over the good events."""
    validators()
    lines = [json.dumps(e).encode() for e in good]

    def best(work: Any, cold: bool = False) -> float:
        times = []
        for _ in range(7):
            if cold:
                _memo.verdicts.clear()
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return min(times) / len(good) * 1e6

    return {
        "parse (jsonsafe.loads)": best(lambda: [jsonsafe.loads(line, "line") for line in lines]),
        "hostile scan (jsonsafe.refusal)": best(lambda: [jsonsafe.refusal(e) for e in good]),
        "schema, parts seen before": best(lambda: [check_event(e) for e in good]),
        "schema, parts never seen": best(lambda: [check_event(e) for e in good], cold=True),
        "plain json.loads, for scale": best(lambda: [json.loads(line) for line in lines]),
    }


class Postgres:
    """A throwaway PostgreSQL cluster of the bed's kind on a free port, destroyed by ``close``."""

    def __init__(self) -> None:
        from crossline_bed.postgres import Postgres as BedPostgres
        from crossline_bed.process import free_port

        default = BedPostgres.default()
        port = free_port()
        self.pg = BedPostgres(port=port, datadir=default.datadir.parent / f"cluster-{port}", as_root=default.as_root)
        self.pg.up()

    def url(self, name: str) -> str:
        return self.pg.ensure_database(f"{BENCH_DB}_{name}")

    def close(self) -> None:
        self.pg.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-family", type=int, default=530, help="hostile lines per family (default 530)")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    good = good_events()
    started = time.perf_counter()
    made = corpus(good, args.per_family, args.seed)
    generated = time.perf_counter() - started
    backends = args.backends.split(",")
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crossline-hostile-") as folder:
        mixed, only_good = Path(folder) / "corpus.jsonl", Path(folder) / "good.jsonl"
        by_line = made.write(mixed)
        with open(only_good, "wb") as handle:
            handle.writelines(line.text + b"\n" for line in made.good)
        size = mixed.stat().st_size
        print(f"corpus: {len(made.lines):,} lines ({len(made.good)} good, {len(made.lines) - len(made.good):,} "
              f"hostile in {len(made.count())} families), {size / 1e6:.1f} MB, generated in {generated:.0f} s")
        pg = Postgres() if "postgresql" in backends else None
        try:
            for backend in backends:
                if backend == "sqlite":
                    urls = {"good": f"sqlite:///{folder}/good.db", "mixed": f"sqlite:///{folder}/mixed.db"}
                else:
                    assert pg is not None
                    urls = {"good": pg.url("good"), "mixed": pg.url("mixed")}
                expected, good_warnings, good_seconds, _ = run(urls["good"], only_good)
                try:
                    dump, warnings, seconds, logged = run(urls["mixed"], mixed)
                except Exception as err:  # a crash is what this counts
                    failures.append(f"{backend}: the collection crashed: {type(err).__name__}: {err}")
                    continue
                tallies = tally(by_line, warnings, mixed)
                _print(backend, tallies, len(made.lines), seconds, len(made.good), good_seconds)
                if good_warnings:
                    failures.append(f"{backend}: the good events alone were warned about: {good_warnings[:3]}")
                if dump != expected:
                    failures.append(f"{backend}: the mixed store differs from the good-only store "
                                    f"({len(dump['nodes'])} vs {len(expected['nodes'])} nodes, "
                                    f"{len(dump['edges'])} vs {len(expected['edges'])} edges)")
                if logged != len(warnings):
                    failures.append(f"{backend}: {len(warnings)} warnings but {logged} in the collection log")
                for family, entry in tallies.items():
                    if family == "good" and entry.warned:
                        failures.append(f"{backend}: {entry.warned} good lines warned about")
                    elif family != "good" and entry.warned != entry.lines:
                        failures.append(f"{backend}: {family}: {entry.lines - entry.warned} lines not warned about")
        finally:
            if pg is not None:
                pg.close()
    print("\nthe door's cost per event, on the story's real events (us):")
    for what, micros in door_cost(good).items():
        print(f"  {what:<34} {micros:>7.0f}")
    print("\n" + ("all checks passed: 0 crashes, 0 good events lost, every hostile line warned about"
                  if not failures else "FAILED:\n  " + "\n  ".join(failures)))
    return 1 if failures else 0


def _print(backend: str, tallies: dict[str, Any], lines: int, seconds: float, good: int, good_seconds: float) -> None:
    print(f"\n{backend}: {lines:,} lines in {seconds:.1f} s ({lines / seconds:,.0f} lines/s); "
          f"the {good} good alone in {good_seconds:.2f} s")
    header = f"{'family':<20} {'lines':>6} {'warned':>6}  kinds of warning (lines)"
    print(header)
    print("-" * 78)
    for family in ("good", *FAMILIES):
        entry = tallies.get(family)
        if entry is None:
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(entry.kinds.items()))
        print(f"{family:<20} {entry.lines:>6} {entry.warned:>6}  {kinds}")
    total = sum(t.lines for f, t in tallies.items() if f != "good")
    warned = sum(t.warned for f, t in tallies.items() if f != "good")
    print(f"{'hostile, all':<20} {total:>6} {warned:>6}")


if __name__ == "__main__":
    sys.exit(main())
