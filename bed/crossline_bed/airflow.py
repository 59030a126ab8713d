"""Airflow 3.3 on the bed: a throwaway AIRFLOW_HOME that really runs DAGs.

Contract: ``AirflowBed(home, dags_folder, ...)`` prepares an AIRFLOW_HOME (SQLite
metadata database migrated once, the OpenLineage provider configured) and
``run_dag(dag_id, ...)`` runs one DAG run with ``dag.test()`` in a child process and
returns a ``DagRunResult``: the run's state, each task's state (a mapped task's
instances as ``task[rendered map index]``, e.g. ``features[accounts]``), and every
OpenLineage event the run emitted, read back from the file transport. crossline's extractors are
registered, as a user registers them. With ``spool_dir`` the events reach Marquez
through crossline's durable transport instead of the plain HTTP one. Events also go to Marquez
over HTTP when a Marquez URL is given.

Why a child process: Airflow reads its configuration at import time and keeps global
state (ORM, listeners, the hook-lineage collector); one process per run keeps tests
independent of each other.

The dag.test() quirks (DESIGN.md) are handled in ``_child_main``:
- DAG-level COMPLETE/FAIL is sent from the listener's process pool: we shut the pool
  down with wait=True before the process exits, so the event is not lost.
- Task events come from a forked child: the file transport with append=true captures
  events from every process.
- Hook lineage is collected by a process-wide cached collector, so one task's lineage
  would leak into the next: a listener clears the cache when each task starts running.
- A failed DAG still returns from dag.test(): the caller gets the state and asserts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crossline_bed.aws import TEST_ENV
from crossline.emitters.airflow import EXTRACTORS
from crossline_bed.errors import BedError

PLUGIN = textwrap.dedent(
    '''
    """Written by crossline's bed: resets hook lineage between tasks under dag.test()."""
    from airflow.plugins_manager import AirflowPlugin

    from crossline_bed import airflow_listener


    class CrosslineBedPlugin(AirflowPlugin):
        name = "crossline_bed"
        listeners = [airflow_listener]
    '''
)


@dataclass
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str]
    events: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""

    def task_events(self, task_id: str, map_index: int | None = None) -> list[dict[str, Any]]:
        """The events of task ``task_id`` (of one mapped instance, given its ``map_index``)."""
        suffix = f".{task_id}"
        events = [e for e in self.events if e.get("job", {}).get("name", "").endswith(suffix)]
        if map_index is None:
            return events
        return [e for e in events if _map_index(e) == map_index]


def _map_index(event: dict[str, Any]) -> int | None:
    facets = event.get("run", {}).get("facets", {})
    for name in ("airflow", "airflow_mappedTask"):
        facet = facets.get(name) or {}
        index = (facet.get("taskInstance") or {}).get("map_index", facet.get("mapIndex"))
        if index is not None:
            return int(index)
    return None


class AirflowBed:
    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        marquez_url: str | None = None,
        aws_endpoint_url: str | None = None,
        namespace: str = "crossline",
        extra_env: dict[str, str] | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.home = Path(home)
        self.dags_folder = Path(dags_folder)
        self.marquez_url = marquez_url
        self.aws_endpoint_url = aws_endpoint_url
        self.namespace = namespace
        self.extra_env = dict(extra_env or {})
        self.spool_dir = spool_dir
        self._migrated = False

    @property
    def events_file(self) -> Path:
        return self.home / "openlineage" / "events.jsonl"

    def transport_config(self) -> dict[str, Any]:
        transports: dict[str, Any] = {
            "capture": {"type": "file", "log_file_path": str(self.events_file), "append": True},
        }
        if self.marquez_url and self.spool_dir:
            transports["marquez"] = {
                "type": "crossline.emitters.transport.durable.DurableHttpTransport",
                "url": self.marquez_url,
                "spool_dir": str(self.spool_dir),
                "timeout": 10,
                # A task's events leave through a courier process (the listener's children
                # end with os._exit); on the bed it gives up after 15 s instead of 5 minutes,
                # so a test with Marquez down leaves no process behind for long.
                "courier_lifetime": 15,
            }
        elif self.marquez_url:
            transports["marquez"] = {"type": "http", "url": self.marquez_url, "timeout": 10}
        return {"type": "composite", "transports": transports, "continue_on_failure": True}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENLINEAGE"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.home / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__OPENLINEAGE__NAMESPACE": self.namespace,
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(self.transport_config()),
                "AIRFLOW__OPENLINEAGE__EXTRACTORS": EXTRACTORS,
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                **TEST_ENV,
            }
        )
        if self.aws_endpoint_url:
            env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {
                    "conn_type": "aws",
                    "extra": {"endpoint_url": self.aws_endpoint_url, "region_name": TEST_ENV["AWS_DEFAULT_REGION"]},
                }
            )
        env.update(self.extra_env)
        return env

    def prepare(self) -> "AirflowBed":
        """Create AIRFLOW_HOME and migrate its database (about 4 s, once)."""
        if self._migrated:
            return self
        (self.home / "plugins").mkdir(parents=True, exist_ok=True)
        (self.home / "plugins" / "crossline_bed_plugin.py").write_text(PLUGIN)
        self.events_file.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self.env(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise BedError(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
        self._migrated = True
        return self

    def run_dag(
        self,
        dag_id: str,
        *,
        logical_date: datetime | None = None,
        conf: dict[str, Any] | None = None,
        timeout: float = 600,
    ) -> DagRunResult:
        return self.start_dag(dag_id, logical_date=logical_date, conf=conf).wait(timeout)

    def start_dag(
        self, dag_id: str, *, logical_date: datetime | None = None, conf: dict[str, Any] | None = None
    ) -> "RunningDag":
        """Start one DAG run in a child process and return at once (e.g. to act on its sensors)."""
        self.prepare()
        start = self.events_file.stat().st_size if self.events_file.exists() else 0
        result_file = self.home / f"result-{dag_id}.json"
        result_file.unlink(missing_ok=True)
        log = self.home / f"run-{dag_id}.log"
        argv = [
            sys.executable, "-m", "crossline_bed.airflow", dag_id, str(result_file),
            json.dumps({"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf or {}}),
        ]
        with log.open("w") as out:
            proc = subprocess.Popen(argv, env=self.env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return RunningDag(self, dag_id, proc, result_file, log, start)


@dataclass
class RunningDag:
    bed: AirflowBed
    dag_id: str
    proc: subprocess.Popen[bytes]
    result_file: Path
    log_file: Path
    events_offset: int

    def wait(self, timeout: float = 600) -> DagRunResult:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as err:
            self.proc.kill()
            self.proc.wait()
            raise BedError(f"DAG {self.dag_id} did not finish within {timeout:.0f}s") from err
        log = self.log_file.read_text(errors="replace")
        if not self.result_file.exists():
            raise BedError(f"DAG {self.dag_id} runner crashed ({self.proc.returncode}):\n{log[-4000:]}")
        result = json.loads(self.result_file.read_text())
        events = []
        if self.bed.events_file.exists():
            with self.bed.events_file.open() as handle:
                handle.seek(self.events_offset)
                events = [json.loads(line) for line in handle if line.strip()]
        return DagRunResult(
            dag_id=self.dag_id,
            run_id=result["run_id"],
            state=result["state"],
            task_states=result["tasks"],
            events=events,
            log=log,
        )

def _ti_key(ti: Any) -> str:
    """A task instance's key in ``task_states``: its task id, or ``task[index]`` when mapped."""
    if getattr(ti, "map_index", -1) is None or ti.map_index < 0:
        return str(ti.task_id)
    return f"{ti.task_id}[{getattr(ti, 'rendered_map_index', None) or ti.map_index}]"


def _child_main(dag_id: str, result_file: str, params: str) -> None:
    """Runs in the child: one dag.test() run, then flush the DAG-level events."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener

    args = json.loads(params)
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if dag_id not in bag.dags:
        raise SystemExit(f"DAG {dag_id} not found; import errors: {bag.import_errors}")
    dag = bag.dags[dag_id]
    kwargs: dict[str, Any] = {"run_conf": args["conf"]}
    if args["logical_date"]:
        kwargs["logical_date"] = datetime.fromisoformat(args["logical_date"])
    dagrun = dag.test(**kwargs)
    listener = get_openlineage_listener()
    if listener is not None and listener._executor is not None:
        listener._executor.shutdown(wait=True)
    tasks = {_ti_key(ti): str(ti.state) for ti in dagrun.get_task_instances()}
    Path(result_file).write_text(
        json.dumps({"run_id": dagrun.run_id, "state": str(dagrun.state), "tasks": tasks})
    )


if __name__ == "__main__":
    _child_main(*sys.argv[1:4])
