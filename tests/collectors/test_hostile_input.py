"""Issue 12's hostile input, one defect at a time, through ``crossline collect``'s own path, on SQLite and PostgreSQL.

Each hostile line sits in one batch between real events of the story (crossline's
sample): the collection returns, the line is warned about at its file and line, the
store is exactly the store of the good events alone (a refused event changes nothing,
the good events of its batch are kept), the warning is in the source's collection log,
and the watermark has passed the line, so a resumed collection never stops on it.
Unicode that is text (any code point but NUL and the surrogates) is kept exactly, on
both backends (a Hypothesis property).
"""

from __future__ import annotations

import json
import uuid
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.model import EdgeKind, run_id
from crossline.collectors.openlineage import ConversionReport, records_from_event
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore

GOOD = [json.loads(line) for line in
        files("crossline").joinpath("samples/credit/events.jsonl").read_text(encoding="utf-8").splitlines()]
TRAIN = next(e for e in GOOD if e["job"]["name"].endswith(".train") and e["eventType"] == "COMPLETE")
APPROVAL = next(e for e in GOOD if "crossline_approval" in e["run"].get("facets", {}))


def changed(event: dict[str, Any], *path: Any, value: Any = None, delete: bool = False) -> dict[str, Any]:
    made = json.loads(json.dumps(event))
    owner = made
    for step in path[:-1]:
        owner = owner[step]
    if delete:
        del owner[path[-1]]
    else:
        owner[path[-1]] = value
    return made


def text(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


DEEP = text(TRAIN)[:-1] + b',"deep":' + b"[" * 10_000 + b"]" * 10_000 + b"}"

# (case, the hostile line, the kind of warning, a fragment of why)
HOSTILE = [
    ("out-of-range eventTime", text(changed(TRAIN, "eventTime", value="9999-12-31T23:59:59-01:00")),
     "invalid-event", "date-time"),
    ("10,000-deep nesting", DEEP, "unreadable", "nests deeper"),
    ("lone surrogate", text(changed(TRAIN, "job", "name", value="credit_retraining.train\ud800")), "hostile",
     "lone surrogate"),
    ("lone surrogate in a key", text(changed(TRAIN, "run", "facets", "x\udfff", value={})), "hostile", "surrogate"),
    ("NUL", text(changed(TRAIN, "job", "name", value="credit\x00retraining.train")), "hostile", "NUL"),
    ("NaN", text(changed(TRAIN, "run", "facets", "crossline_metrics", "metrics", 0, "value", value=float("nan"))),
     "hostile", "NaN"),
    ("Infinity", text(changed(TRAIN, "run", "facets", "crossline_metrics", "metrics", 0, "value", value=float("inf"))),
     "hostile", "Infinity"),
    ("a key twice", text(TRAIN)[:-1] + b',"eventType":"START"}', "hostile", "twice"),
    ("unknown eventType", text(changed(TRAIN, "eventType", value="EXPLODE")), "invalid-event", "eventType"),
    ("missing producer", text(changed(TRAIN, "producer", delete=True)), "invalid-event", "producer"),
    ("missing schemaURL", text(changed(TRAIN, "schemaURL", delete=True)), "invalid-event", "schemaURL"),
    ("a name too long to index", text(changed(TRAIN, "job", "name", value="j" * 3000)), "hostile", "bytes long"),
    ("truncated line", text(TRAIN)[:1000], "unreadable", "not JSON"),
    ("not UTF-8", text(TRAIN).replace(b"credit_retraining", b"credit\xff", 1), "unreadable", "UTF-8"),
]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _collect(url: str, path: Path) -> tuple[GraphStore, Any]:
    store = GraphStore.open(url)
    report = collect(store, [source_from_config({"type": "openlineage-file", "paths": [str(path)]})])
    return store, report


@pytest.fixture(scope="module")
def good_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The store of the good events alone (SQLite; dumps are the same on either backend)."""
    folder = tmp_path_factory.mktemp("good")
    store, report = _collect(f"sqlite:///{folder / 'g.db'}", _write(folder / "good.jsonl", [text(e) for e in GOOD]))
    assert not report.sources["openlineage-file"].warnings
    with store:
        return Graph(store).dump()


@pytest.mark.parametrize(("case", "line", "kind", "why"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_a_hostile_line_is_refused_and_the_good_of_its_batch_kept(
    store_url: str, tmp_path: Path, good_only: dict[str, Any], case: str, line: bytes, kind: str, why: str,
) -> None:
    path = _write(tmp_path / "events.jsonl", [text(e) for e in GOOD[:26]] + [line] + [text(e) for e in GOOD[26:]])
    store, report = _collect(store_url, path)
    with store:
        warnings = report.sources["openlineage-file"].warnings
        assert [(w.source, w.where, w.kind) for w in warnings] == [("openlineage-file", f"{path}:27", kind)], warnings
        assert why in warnings[0].why
        graph = Graph(store)
        assert graph.dump() == good_only
        assert [e.warning for e in graph.log()] == warnings
        assert graph.watermarks()[f"openlineage-file {path}"] == f"{path}:{path.stat().st_size}"
    again, report = _collect(store_url, path)  # resuming passes it: nothing more to read or say
    with again:
        assert report.sources["openlineage-file"].scanned == 0 and not report.sources["openlineage-file"].warnings
        assert Graph(again).dump() == good_only


def test_an_unknown_event_type_writes_nothing_and_says_so() -> None:
    report = ConversionReport()
    assert records_from_event(changed(TRAIN, "eventType", value="SUCCESS"), report=report) == ([], [])
    (warning,) = report.warnings
    assert warning.kind == "invalid-event" and "eventType" in warning


def test_an_event_without_an_event_type_is_a_status_update_with_no_outputs_written() -> None:
    report = ConversionReport()
    nodes, edges = records_from_event(changed(TRAIN, "eventType", delete=True), report=report)
    assert nodes and not [e for e in edges if e.kind == EdgeKind.PRODUCED]
    (run,) = [n for n in nodes if n.id == run_id(TRAIN["run"]["runId"])]
    assert not [k for k in run.props if k.startswith("eventTimes.") or k in ("state", "endedAt")]
    assert [w.kind for w in report.warnings] == ["unusable"]


def test_a_wrong_typed_facet_is_dropped_and_the_rest_of_the_event_kept() -> None:
    bad = changed(TRAIN, "run", "facets", "crossline_hyperparameters", "hyperparameters", value=[1, 2])
    report = ConversionReport()
    nodes, _ = records_from_event(bad, report=report)
    (run,) = [n for n in nodes if n.id == run_id(TRAIN["run"]["runId"])]
    assert "facets.crossline_hyperparameters" not in run.props and "facets.crossline_metrics" in run.props
    (warning,) = report.warnings
    assert warning.kind == "invalid-part" and "crossline_hyperparameters" in warning


def test_a_run_id_reused_with_another_job_is_refused_in_one_read_and_across_collections(
    store_url: str, tmp_path: Path, good_only: dict[str, Any],
) -> None:
    other_job = changed(TRAIN, "job", "name", value="credit_retraining.evaluate")
    first = _write(tmp_path / "a.jsonl", [text(e) for e in GOOD] + [text(other_job)])
    store, report = _collect(store_url, first)
    with store:
        (warning,) = report.sources["openlineage-file"].warnings
        assert (warning.where, warning.kind) == (f"{first}:{len(GOOD) + 1}", "conflict")
        assert "credit_retraining.train" in warning.why and "credit_retraining.evaluate" in warning.why
        # One run, one job: the run's RUN_OF edges are the first job's only.
        assert {e.dst for e in Graph(store).edges(src=run_id(TRAIN["run"]["runId"]), kinds=[EdgeKind.RUN_OF])} == {
            f"job:{TRAIN['job']['namespace']}:credit_retraining.train"}
        assert Graph(store).dump() == good_only
    # A later collection, with the first job only in the store, refuses it too.
    later = _write(tmp_path / "b.jsonl", [text(other_job)])
    store = GraphStore.open(store_url)
    with store:
        report = collect(store, [source_from_config({"type": "openlineage-file", "paths": [str(later)], "name": "b"})])
        (warning,) = report.sources["b"].warnings
        assert warning.kind == "conflict"
        assert Graph(store).dump() == good_only


def test_a_parent_facet_naming_a_run_with_another_job_is_dropped() -> None:
    from crossline.collectors.door import RunJobs

    runs = RunJobs()
    records_from_event(TRAIN, runs=runs)  # the parent (the DAG run) is the DAG's
    child = next(e for e in GOOD if e["run"].get("facets", {}).get("parent") and e is not TRAIN)
    bad = changed(child, "run", "facets", "parent", "job", "name", value="some_other_dag")
    report = ConversionReport()
    nodes, edges = records_from_event(bad, report=report, runs=runs)
    assert not [e for e in edges if e.kind == EdgeKind.PARENT]
    assert nodes and [w.kind for w in report.warnings] == ["conflict"]


# -- Unicode that is fine must stay exactly as it came -------------------------------------------
# Every code point but NUL and the surrogates: combining marks, right-to-left text, U+2028,
# noncharacters (U+FFFE, U+FFFF), emoji and astral planes, a BOM inside a string.
UNICODE = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def unicode_stores(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, str]:
    """A SQLite store and this module's PostgreSQL store, reused by every example."""
    folder = tmp_path_factory.mktemp("unicode")
    _, _, url = request.getfixturevalue("store_pg_database")
    return {"sqlite": f"sqlite:///{folder / 'u.db'}", "postgresql": url}


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=UNICODE, value=UNICODE)
def test_any_unicode_text_is_kept_exactly_on_both_backends(
    unicode_stores: dict[str, str], tmp_path_factory: pytest.TempPathFactory, name: str, value: str,
) -> None:
    event = changed(TRAIN, "job", "name", value=f"u.{name}")
    event = changed(event, "run", "runId", value=str(uuid.uuid4()))
    event["run"]["facets"]["x-unicode"] = {"_producer": "p", "_schemaURL": "s", name: value}
    path = _write(tmp_path_factory.mktemp("u") / "u.jsonl", [json.dumps(event, ensure_ascii=False).encode()])
    for backend, url in unicode_stores.items():
        with GraphStore.open(url) as store:
            report = collect(store, [source_from_config({"type": "openlineage-file", "paths": [str(path)],
                                                         "name": str(path)})])
            assert not report.sources[str(path)].warnings, (backend, report.sources[str(path)].warnings)
            run = Graph(store).node(run_id(event["run"]["runId"]))
            assert run.props["facets.x-unicode"][name] == value, backend
            assert Graph(store).node(run.props["job"]).name == f"u.{name}", backend
