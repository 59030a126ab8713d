"""The OpenLineage file source: whole lines only, exact resumption, identical re-reads.

Files are written by the OpenLineage client's own file transport (append mode, and the
one-file-per-event mode), so the source reads what users' pipelines write.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.file import FileConfig, FileTransport

from crossline.collectors.collect import collect
from crossline.collectors.graph import Graph
from crossline.collectors.model import EdgeKind, NodeKind, dataset_id, run_id
from crossline.collectors.sources import Batch, source_from_config
from crossline.collectors.sources.openlineage_file import OpenLineageFileSource, parse_watermark
from crossline.collectors.store import GraphStore
from crossline.errors import ConfigError, SourceError

PRODUCER = "https://github.com/crossline/crossline/tree/0.1.0/tests"


def emit(log_file: Path, count: int, *, append: bool = True, start: int = 0) -> list[str]:
    """``count`` START/COMPLETE pairs through the client's file transport; returns run ids."""
    client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(log_file), append=append)))
    runs = []
    for i in range(start, start + count):
        run = Run(runId=str(uuid.uuid4()))
        runs.append(run.runId)
        for state, when in ((RunState.START, "03:00"), (RunState.COMPLETE, "03:14")):
            client.emit(RunEvent(
                eventType=state, eventTime=f"2027-03-06T{when}:00Z", run=run,
                job=Job(namespace="crossline", name=f"job_{i}"),
                inputs=[InputDataset("s3://credit", f"in/{i}")], outputs=[OutputDataset("s3://credit", f"out/{i}")],
                producer=PRODUCER,
            ))
    return runs


def source(paths: object, batch_size: int = 3) -> OpenLineageFileSource:
    made = source_from_config({"type": "openlineage-file", "paths": paths, "batch_size": batch_size})
    assert isinstance(made, OpenLineageFileSource)
    return made


def read_all(src: OpenLineageFileSource, since: str | None) -> tuple[list[Batch], str | None]:
    batches = list(src.read(since))
    return batches, (batches[-1].watermark if batches else since)


def runs_in(batches: list[Batch]) -> set[str]:
    return {n.id for b in batches for n in b.nodes if n.kind == NodeKind.RUN}


def test_reads_everything_in_batches_then_only_what_was_appended(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    first = emit(log, 4)
    src = source(str(log))
    assert src.total(None) == 8
    batches, mark = read_all(src, None)
    assert [b.scanned for b in batches] == [3, 3, 2]
    assert runs_in(batches) == {run_id(r) for r in first}
    assert mark == f"{log.resolve()}:{log.stat().st_size}"
    assert all(not b.warnings for b in batches)
    assert any(e.kind == EdgeKind.PRODUCED and e.dst == dataset_id("s3://credit", "out/0") for e in batches[0].edges)
    assert all(n.source == "openlineage-file" for b in batches for n in b.nodes)

    assert read_all(src, mark) == ([], mark)  # nothing new: nothing read
    assert src.total(mark) == 0

    second = emit(log, 1, start=4)
    batches, mark2 = read_all(src, mark)
    assert [b.scanned for b in batches] == [2]
    assert runs_in(batches) == {run_id(r) for r in second}
    assert parse_watermark(mark2)[1] == log.stat().st_size


def test_a_half_written_last_line_waits_until_it_is_whole(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    emit(log, 1)
    whole = log.read_bytes()
    extra = tmp_path / "extra.jsonl"
    (late,) = emit(extra, 1)
    line = extra.read_bytes().splitlines(keepends=True)[0]
    log.write_bytes(whole + line[:40])  # a writer caught mid-line
    src = source(str(log))
    batches, mark = read_all(src, None)
    assert sum(b.scanned for b in batches) == 2
    assert mark == f"{log.resolve()}:{len(whole)}"
    assert all(not b.warnings for b in batches)

    log.write_bytes(whole + line)  # the writer finishes the line
    batches, _ = read_all(src, mark)
    assert [b.scanned for b in batches] == [1]
    assert runs_in(batches) == {run_id(late)}


def test_reading_twice_from_scratch_gives_identical_records(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    emit(log, 3)
    src = source(str(log), batch_size=4)
    assert list(src.read(None)) == list(src.read(None))


def test_folders_and_globs_read_the_transports_files_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "ol"
    folder.mkdir()
    runs = emit(folder / "openlineage", 2, append=False)  # one file per event
    files = sorted(folder.iterdir())
    assert len(files) == 4
    for paths in (str(folder), str(folder / "openlineage-*.json"), [str(f) for f in reversed(files)]):
        src = source(paths, batch_size=100)
        batches, mark = read_all(src, None)
        assert runs_in(batches) == {run_id(r) for r in runs}
        assert mark == f"{files[-1].resolve()}:{files[-1].stat().st_size}"
        assert read_all(src, mark) == ([], mark)
    # A new file sorts after the watermark's file and is read from the start.
    more = emit(folder / "openlineage", 1, append=False, start=2)
    batches, _ = read_all(source(str(folder)), mark)
    assert runs_in(batches) == {run_id(r) for r in more}


def test_bad_lines_are_warnings_and_the_rest_is_read(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    emit(log, 1)
    with log.open("a") as handle:
        handle.write("\n{not json\n")
        handle.write('{"eventType": "START", "run": {"runId": "x"}, "job": {}}\n')
    emit(log, 1, start=1)
    batches, _ = read_all(source(str(log), batch_size=100), None)
    (batch,) = batches
    assert batch.scanned == 6
    assert len(runs_in(batches)) == 2
    not_json, not_an_event = batch.warnings
    # Each warning names the file and the line (lines 1-2 are the first run's events, 3 is blank).
    assert (not_json.source, not_json.where, not_json.kind) == ("openlineage-file", f"{log.resolve()}:4", "unreadable")
    assert "not JSON" in not_json.why
    assert (not_an_event.where, not_an_event.kind) == (f"{log.resolve()}:5", "invalid-event")
    assert "not an OpenLineage RunEvent" in not_an_event.why


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    emit(log, 3)
    src = source(str(log))
    _, mark = read_all(src, None)
    log.unlink()
    runs = emit(log, 1)
    batches, _ = read_all(src, mark)
    assert runs_in(batches) == {run_id(r) for r in runs}
    (rewritten,) = batches[0].warnings
    assert "rewritten" in rewritten.why and rewritten.kind == "note"


@pytest.mark.parametrize(
    "config",
    [{}, {"paths": []}, {"paths": 3}, {"paths": "x", "batch_size": 0}, {"paths": "x", "nope": 1}],
)
def test_bad_config_is_a_config_error(config: dict) -> None:
    with pytest.raises(ConfigError):
        source_from_config({"type": "openlineage-file", **config})


def test_a_bad_watermark_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="watermark"):
        list(source(str(tmp_path)).read("no-offset-here"))


def test_another_file_into_the_same_store_keeps_its_own_watermark(store_url: str, tmp_path: Path) -> None:
    """``z.jsonl`` then ``a.jsonl``: the second sorts before the first's watermark, and is read all the same."""
    later, earlier = emit(tmp_path / "z.jsonl", 2), emit(tmp_path / "a.jsonl", 2)
    with GraphStore.open(store_url) as store:
        first = collect(store, [source(str(tmp_path / "z.jsonl"))])
        second = collect(store, [source(str(tmp_path / "a.jsonl"))])
        again = collect(store, [source(str(tmp_path / "a.jsonl"))])
        assert [r.sources["openlineage-file"].scanned for r in (first, second, again)] == [4, 4, 0]
        ids = {n["id"] for n in Graph(store).dump()["nodes"]}
    assert {run_id(r) for r in later + earlier} <= ids


def test_a_path_that_names_nothing_is_a_config_error(tmp_path: Path) -> None:
    """A typo must not read as "no events"; a glob that matches nothing yet is fine."""
    with pytest.raises(ConfigError, match="no file or folder"):
        source(str(tmp_path / "evnets.jsonl")).files()
    assert source(str(tmp_path / "*.jsonl")).files() == []
