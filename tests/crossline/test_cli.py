"""The ``crossline`` command as a person meets it: one line per error, an exit code that means something.

These run the installed ``crossline`` entry point in a subprocess (so stdout is not a
terminal, as in a pipe or CI) unless they need to reach inside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crossline.cli import main

CROSSLINE = str(Path(sys.executable).with_name("crossline"))


def run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CROSSLINE, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("crossline: ") or lines[0].startswith("Error: ") or "Usage:" in proc.stderr
    return lines[0]


def test_version() -> None:
    from importlib.metadata import version

    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"crossline {version('crossline')}"


def test_help_documents_the_exit_codes() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for code in ("0  ok", "1  findings", "2  usage", "3  bad input data", "4  unavailable", "5  an unexpected error"):
        assert code in proc.stdout


def test_a_store_that_cannot_be_opened_is_one_line_and_exit_4(tmp_path: Path) -> None:
    proc = run("query", "ancestors", "x", "--store", f"sqlite:///{tmp_path}/no/such/folder/graph.db")
    assert proc.returncode == 4
    line = one_line_error(proc)
    assert "cannot open the graph store" in line and "--store" in line


def test_a_database_password_never_shows_in_an_error() -> None:
    proc = run("query", "ancestors", "x", "--store", "postgresql://someone:s3cr3t-pw@127.0.0.1:1/graph")
    assert proc.returncode == 4
    assert "s3cr3t-pw" not in proc.stderr + proc.stdout


def test_an_unknown_kind_is_a_usage_error_listing_the_choices(tmp_path: Path) -> None:
    proc = run("query", "ancestors", "x", "--kind", "bogus", "--store", str(tmp_path / "g.db"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "'bogus' is not one of" in proc.stderr and "model_package" in proc.stderr


def test_an_unknown_node_says_what_forms_it_takes(tmp_path: Path) -> None:
    proc = run("query", "ancestors", "s3://nowhere/at/all", "--store", str(tmp_path / "g.db"))
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "nothing in the graph is named 's3://nowhere/at/all'" in line and "S3 URI" in line


def test_writeback_to_sagemaker_without_a_region_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env = {"AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty), "AWS_DEFAULT_REGION": "",
           "AWS_REGION": "", "AWS_PROFILE": ""}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **env}
    env = {k: v for k, v in env.items() if v != ""}
    proc = subprocess.run([CROSSLINE, "writeback", "--sagemaker", "--dry-run", "--store", str(tmp_path / "g.db")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert "no AWS region" in one_line_error(proc)


def test_an_unexpected_error_is_one_line_exit_5_and_the_traceback_only_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for a bug: collection raising something crossline does not expect (monkeypatched)."""
    import crossline.collectors.collect as collect_module

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(collect_module, "collect", boom)
    events = tmp_path / "events.jsonl"
    events.write_text("")
    args = ["collect", "--openlineage", str(events), "--store", str(tmp_path / "g.db")]
    quiet = CliRunner().invoke(main, args)
    assert quiet.exit_code == 5
    assert "unexpected error: RuntimeError: boom" in quiet.stderr and "--log-level debug" in quiet.stderr
    assert "Traceback" not in quiet.output
    loud = CliRunner().invoke(main, ["--log-level", "debug", *args])
    assert loud.exit_code == 5
    assert "Traceback" in loud.stderr or "boom" in loud.stderr


def test_no_hard_wrap_when_not_a_terminal(tmp_path: Path) -> None:
    deep = tmp_path / ("a-very-long-folder-name-" * 8) / "graph.db"
    proc = run("config", "--store", str(deep))
    assert proc.returncode == 0
    assert f"store: sqlite:///{deep}  (from --store)" in proc.stdout.splitlines()


def test_config_shows_the_store_and_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "crossline.toml").write_text('store = "team/graph.db"\n')
    proc = run("config", "--json", cwd=tmp_path, env={"CROSSLINE_STORE_URL": ""})
    assert proc.returncode == 0
    answer = json.loads(proc.stdout)
    assert answer["store"] == {"url": f"sqlite:///{tmp_path / 'team' / 'graph.db'}",
                               "from": str(tmp_path / "crossline.toml")}


def test_progress_and_warnings_go_to_stderr_and_json_stays_clean(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"not": "an event"}\nnot json at all\n')
    proc = run("collect", "--openlineage", str(events), "--store", str(tmp_path / "g.db"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["sources"]["openlineage-file"]["warnings"] == 2
    # Structured: the source, where (file and line) and why, and the kind of problem.
    assert {(w["source"], w["where"], w["kind"]) for w in report["warnings"]} == {
        ("openlineage-file", f"{events}:1", "invalid-event"), ("openlineage-file", f"{events}:2", "unreadable")}
    assert any("line is not JSON" in w["why"] for w in report["warnings"])
    strict = run("collect", "--openlineage", str(events), "--store", str(tmp_path / "g2.db"), "--strict")
    assert strict.returncode == 1
    assert "line is not JSON" in strict.stderr and f"{events}:2" in strict.stderr
    # The store kept them as the source's collection log.
    log = run("log", "--store", str(tmp_path / "g2.db"), "--json")
    assert log.returncode == 0, log.stderr
    assert [(e["seq"], e["where"], e["kind"]) for e in json.loads(log.stdout)] == [
        (1, f"{events}:1", "invalid-event"), (2, f"{events}:2", "unreadable")]
