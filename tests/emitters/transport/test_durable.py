"""DurableHttpTransport against the bed's Marquez, a dead port and a scripted backend.

No HTTP is mocked: "the backend is down" is a loopback port where nothing listens, and
5xx/429 come from a real local HTTP server that answers as scripted. ``emit`` only
spools; the background sender delivers, so tests wait for delivery with ``until``.
(The faults of issue 12 have their own module, ``test_faults``.)
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde

from crossline.cli import main
from crossline.emitters.transport import Outcome

pytestmark = pytest.mark.marquez

NAME = re.compile(r"^\d{20}-\d{9}-\d{7}\.json$")


def test_backend_down_for_200_events_then_back_all_delivered_in_order(
    until, marquez, events, dead_url, make_transport, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = make_transport(dead_url, spool)
    labels = [f"e{i:03d}" for i in range(200)]

    outcomes = [down.emit(events.event(label)) for label in labels]  # must not raise

    assert set(outcomes) == {Outcome.SPOOLED}
    assert down.stats.spooled == 200 and down.stats.errors == 0
    assert down.status().pending.count == 200
    assert events.in_marquez(marquez.url) == []

    # The backend is back: a sender delivers the 200, oldest first, then the new one.
    up = make_transport(marquez.url, spool)
    assert up.emit(events.event("e200")) is Outcome.SPOOLED
    until(lambda: up.status().pending.count == 0, what="the spool to drain")

    assert events.in_marquez(marquez.url) == [*labels, "e200"]
    assert up.stats.sent == 201


def test_cli_status_and_replay_and_replay_again_sends_nothing_twice(
    marquez, events, dead_url, make_transport, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = make_transport(dead_url, spool)
    labels = [f"c{i:02d}" for i in range(20)]
    for label in labels:
        down.emit(events.event(label))
    runner = CliRunner()

    status = runner.invoke(main, ["lineage", "status", "--spool", str(spool), "--json"])
    assert status.exit_code == 0, status.output
    pending = json.loads(status.stdout)["pending"]
    assert pending["count"] == 20 and pending["bytes"] > 0 and pending["oldest"]
    text = runner.invoke(main, ["lineage", "status", "--spool", str(spool)])
    assert text.exit_code == 0 and "pending: 20 events" in text.output

    still_down = runner.invoke(main, ["lineage", "replay", "--spool", str(spool), "--url", dead_url])
    assert still_down.exit_code == 4  # unavailable (errors.EXIT_UNAVAILABLE); it was 1 before
    report = json.loads(still_down.stdout)
    assert report["remaining"] == 20 and report["held"] == "unreachable"

    first = runner.invoke(main, ["lineage", "replay", "--spool", str(spool), "--url", marquez.url])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["sent"] == 20
    second = runner.invoke(main, ["lineage", "replay", "--spool", str(spool), "--url", marquez.url])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["sent"] == 0

    assert events.in_marquez(marquez.url) == labels


def test_cli_replay_without_url_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no openlineage.yml here
    for var in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(main, ["lineage", "replay", "--spool", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "no lineage backend URL" in result.output
    assert "Traceback" not in result.output


def test_spool_file_is_the_exact_serialized_event_named_by_time_sequence_pid(
    events, dead_url, make_transport, tmp_path: Path
) -> None:
    transport = make_transport(dead_url, tmp_path / "spool")
    first, second = events.event("a"), events.event("b")
    transport.emit(first)
    transport.emit(second)

    files = transport.spool.pending()
    assert [f.name for f in files] == sorted(f.name for f in files)
    assert all(NAME.match(f.name) for f in files)
    assert [f.read_text() for f in files] == [Serde.to_json(first), Serde.to_json(second)]
    assert not list((tmp_path / "spool" / "tmp").iterdir())


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_retryable_answer_is_retried_in_the_background_and_order_is_kept(
    until, status, events, scripted, make_transport
) -> None:
    backend = scripted([status])
    transport = make_transport(backend.url)

    assert transport.emit(events.event("first")) is Outcome.SPOOLED
    assert transport.emit(events.event("second")) is Outcome.SPOOLED
    until(lambda: transport.stats.sent == 2, what="both events delivered")

    assert [s for s, _ in backend.received] == [status, 201, 201]
    assert backend.delivered() == ["first", "second"]
    assert transport.status().pending.count == 0
    assert transport.stats.as_dict() == {"spooled": 2, "sent": 2, "retried": 1, "rejected": 0, "dropped": 0, "errors": 0, "couriers": 0}


def test_replay_stops_at_the_first_failure_and_keeps_order(events, dead_url, scripted, make_transport) -> None:
    backend = scripted([503, 201, 503])
    down = make_transport(dead_url)
    for label in ("a", "b", "c"):
        down.emit(events.event(label))
    transport = make_transport(backend.url)  # never emits, so no sender: replay alone delivers

    first = transport.replay()  # a: 503, stop
    assert (first.sent, first.remaining, first.held) == (0, 3, "busy")
    second = transport.replay()  # a: 201, b: 503, stop
    assert (second.sent, second.remaining) == (1, 2)
    assert [json.loads(f.read_text())["job"]["name"] for f in transport.spool.pending()] == ["b", "c"]
    third = transport.replay()
    assert (third.sent, third.remaining) == (2, 0)
    assert backend.delivered() == ["a", "b", "c"]


def test_refused_event_goes_to_rejected_with_the_answer_and_is_not_retried(
    until, marquez, events, make_transport, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = make_transport(marquez.url, tmp_path / "spool")
    bad = events.refused("bad")

    with caplog.at_level(logging.ERROR, logger="crossline.emitters.transport.sender"):
        assert transport.emit(bad) is Outcome.SPOOLED
        until(lambda: transport.stats.rejected == 1, what="the refused event quarantined")
    assert "422" in caplog.text and "quarantined" in caplog.text

    rejected = transport.spool.rejected_dir
    [event_file] = [p for p in rejected.iterdir() if not p.name.endswith(".response.json")]
    assert event_file.read_text() == Serde.to_json(bad)
    answer = json.loads((rejected / event_file.name.replace(".json", ".response.json")).read_text())
    assert answer["status"] == 422 and "inputs[0].name must not be null" in answer["answer"]
    assert answer["attempts"] == 1 and "refused" in answer["reason"]

    assert transport.emit(events.event("good")) is Outcome.SPOOLED
    until(lambda: transport.stats.sent == 1, what="the good event delivered")
    assert transport.stats.rejected == 1
    assert transport.status().rejected.count == 1 and transport.status().pending.count == 0
    assert events.in_marquez(marquez.url) == ["good"]


def test_refused_event_found_during_replay_moves_aside_and_the_rest_follow(
    marquez, events, dead_url, make_transport, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = make_transport(dead_url, spool)
    for event in (events.event("x1"), events.refused("bad"), events.event("x2")):
        down.emit(event)

    report = make_transport(marquez.url, spool).replay()

    assert (report.sent, report.rejected, report.remaining) == (2, 1, 0)
    assert events.in_marquez(marquez.url) == ["x1", "x2"]
    assert make_transport(marquez.url, spool).replay().sent == 0  # not retried


def test_full_spool_drops_new_events_counts_them_and_warns_once_per_crossing(
    marquez, events, dead_url, make_transport, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    size = len(Serde.to_json(events.event("f00")).encode())
    down = make_transport(dead_url, spool, max_bytes=3 * size + size // 2)

    with caplog.at_level(logging.WARNING, logger="crossline.emitters.transport.durable"):
        outcomes = [down.emit(events.event(f"f{i:02d}")) for i in range(10)]
    assert outcomes == [Outcome.SPOOLED] * 3 + [Outcome.DROPPED] * 7
    assert down.stats.dropped == 7
    full = [r for r in caplog.records if "Dropping NEW events" in r.getMessage()]
    assert len(full) == 1

    make_transport(marquez.url, spool).replay()  # drains: below the bound again
    # The writer judges the bound by the sender's last rescan (one a second); do it now.
    down.spool.refresh_usage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crossline.emitters.transport.durable"):
        for i in range(10, 15):
            down.emit(events.event(f"f{i:02d}"))
    assert sum("Dropping NEW events" in r.getMessage() for r in caplog.records) == 1
    assert any("below its bound again" in r.getMessage() for r in caplog.records)
    assert down.stats.dropped == 9
    assert events.in_marquez(marquez.url) == ["f00", "f01", "f02"]


def test_nothing_raises_into_the_task_even_when_the_spool_is_broken(
    events, dead_url, make_transport, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    transport = make_transport(dead_url, spool)
    (spool / "tmp").rmdir()
    (spool / "tmp").write_text("not a folder")  # every spool write now fails, even as root
    client = OpenLineageClient(transport=transport)

    with caplog.at_level(logging.ERROR):
        client.emit(events.event("lost"))  # through the OpenLineage client: no exception
        assert transport.emit(events.event("lost too")) is Outcome.FAILED
    assert transport.stats.errors == 2
    assert "could not spool an event" in caplog.text


def _emit_then_replay(url: str, spool: str, events, prefix: str, count: int, barrier, make_config) -> None:
    from crossline.emitters.transport import DurableHttpTransport

    transport = DurableHttpTransport(make_config(url, spool))
    if barrier is not None:
        barrier.wait(timeout=60)
    for i in range(count):
        transport.emit(events.event(f"{prefix}-{i:03d}"))
    transport.replay(wait=60)
    transport.close()


def test_two_processes_emitting_and_replaying_at_once_lose_nothing_and_send_nothing_twice(
    marquez, events, dead_url, tmp_path: Path
) -> None:
    from crossline.emitters.transport import DurableHttpConfig

    def make_config(url: str, spool: str) -> DurableHttpConfig:
        return DurableHttpConfig.from_dict({"url": url, "spool_dir": spool})

    spool = str(tmp_path / "spool")
    ctx = multiprocessing.get_context("fork")  # as Airflow's task runner forks

    def run_pair(url: str, prefixes: tuple[str, str], count: int) -> None:
        barrier = ctx.Barrier(2)
        procs = [
            ctx.Process(target=_emit_then_replay, args=(url, spool, events, p, count, barrier, make_config))
            for p in prefixes
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
            assert proc.exitcode == 0

    run_pair(dead_url, ("down-a", "down-b"), 40)  # the outage: 80 spooled from two processes
    run_pair(marquez.url, ("up-a", "up-b"), 40)  # back: both drain the 80 while emitting 80 more

    seen = events.in_marquez(marquez.url)
    assert len(seen) == 160
    assert len(set(seen)) == 160  # nothing twice
    for prefix in ("down-a", "down-b", "up-a", "up-b"):
        mine = [label for label in seen if label.startswith(prefix + "-")]
        assert mine == [f"{prefix}-{i:03d}" for i in range(40)]  # each process's order kept
    # Every event of the outage arrives before any emitted after it.
    assert all(label.startswith("down-") for label in seen[:80])


def _emit_in_child(transport, events, label: str) -> None:
    spooled = transport.emit(events.event(label)) is Outcome.SPOOLED
    delivered = transport.close(30)  # the child's own sender and session deliver it
    raise SystemExit(0 if spooled and delivered and transport.stats.sent == 1 else 3)


def test_a_forked_child_uses_its_own_sender_and_connection_not_the_parents(until, marquez, events, make_transport) -> None:
    transport = make_transport(marquez.url)
    transport.emit(events.event("parent-1"))
    until(lambda: transport.stats.sent == 1, what="parent-1 delivered")  # the session now holds a connection
    child = multiprocessing.get_context("fork").Process(target=_emit_in_child, args=(transport, events, "child"))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    transport.emit(events.event("parent-2"))  # the parent's sender and connection still work
    until(lambda: transport.stats.sent == 2, what="parent-2 delivered")
    assert events.in_marquez(marquez.url) == ["parent-1", "child", "parent-2"]
