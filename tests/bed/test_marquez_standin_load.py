"""The Marquez stand-in under concurrent load: no global lock, and the same state as one by one.

A 100,000-input event must not hold up events to other jobs (it used to stall every
POST for minutes: one advisory lock covered each whole event). The latency figures are
printed (``pytest -s``); only a generous bound is asserted, as this is a shared machine.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from crossline_bed.marquez_standin import StandinServer

PRODUCER = "https://github.com/crossline/tests"
RUN_EVENT_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
BIG_INPUTS = 100_000
SMALL_BOUND_S = 5.0  # generous: the figure here is well under a second, see the printout


def run_event(ns: str, job: str, run_id: str, event_type: str, time_: str, inputs: list[dict[str, Any]],
              outputs: list[dict[str, Any]], run_facets: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "eventType": event_type, "eventTime": time_, "producer": PRODUCER, "schemaURL": RUN_EVENT_URL,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": ns, "name": job, "facets": {}},
        "inputs": inputs, "outputs": outputs,
    }


def post(api: str, body: dict[str, Any] | str, timeout: float = 30) -> float:
    data = body if isinstance(body, str) else json.dumps(body)
    start = time.perf_counter()
    response = requests.post(f"{api}/lineage", data=data, headers={"Content-Type": "application/json"}, timeout=timeout)
    took = time.perf_counter() - start
    assert response.status_code == 201, response.text[:500]
    return took


def test_a_100k_input_event_holds_up_no_event_to_another_job(own_standin: StandinServer) -> None:
    api = f"{own_standin.url}/api/v1"
    bucket = f"s3://load-{uuid.uuid4().hex[:8]}"
    inputs = [{"namespace": bucket, "name": f"features/part-{i:06d}.parquet"} for i in range(BIG_INPUTS)]
    big = json.dumps(run_event("load", f"big-{bucket}", str(uuid.uuid4()), "COMPLETE", "2024-07-01T10:00:00Z",
                               inputs, [{"namespace": bucket, "name": "training/set"}]))
    big_done: dict[str, float] = {}

    def post_big() -> None:
        big_done["took"] = post(api, big, timeout=1800)
        big_done["at"] = time.perf_counter()

    thread = threading.Thread(target=post_big)
    thread.start()
    time.sleep(2.0)  # the big event is read and being ingested by now
    small: list[tuple[float, float]] = []  # (finished at, seconds)
    i = 0
    while thread.is_alive() and i < 400:
        body = run_event("load", f"small-{i}-{bucket}", str(uuid.uuid4()), "COMPLETE", "2024-07-01T10:00:01Z",
                         [{"namespace": bucket, "name": f"small/in-{i}"}], [{"namespace": bucket, "name": f"small/out-{i}"}])
        took = post(api, body)
        small.append((time.perf_counter(), took))
        i += 1
        time.sleep(0.25)
    thread.join(timeout=1800)
    assert "took" in big_done, "the 100k-input event did not finish"
    during = [took for at, took in small if at < big_done["at"]]
    print(f"\n100k-input event: {big_done['took']:.1f} s; {len(during)} small events to other jobs during it: "
          f"median {statistics.median(during) * 1000:.0f} ms, max {max(during) * 1000:.0f} ms")
    assert len(during) >= 3, "the small events were not posted while the big one was ingested"
    assert max(during) < SMALL_BOUND_S

    listed = requests.get(f"{api}/namespaces/{requests.utils.quote(bucket, safe='')}/datasets",
                          params={"limit": 1}, timeout=60).json()
    assert listed["totalCount"] == BIG_INPUTS + 1 + 2 * len(small)
    job = requests.get(f"{api}/namespaces/load/jobs/big-{requests.utils.quote(bucket, safe='')}", timeout=120).json()
    assert len(job["inputs"]) == BIG_INPUTS
    assert job["latestRun"]["state"] == "COMPLETED"


# -- concurrent POSTs derive what the same POSTs one by one derive ---------------------------------
JOBS, RUNS, SHARED = 8, 3, 5


def story(ns: str, seed: int) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], dict[str, str]]:
    """(events posted first, each job's events in order, runId -> label) for namespace ``ns``.

    Jobs read datasets a producer wrote (and leave schema facets on them at their own
    times), are tasks of one DAG run, and write datasets of their own, one with a
    symlink: everything but which shared dataset a job touched last commutes.
    """
    import random

    rng = random.Random(seed)
    labels: dict[str, str] = {}

    def run_id(label: str) -> str:
        value = str(uuid.uuid4())
        labels[value] = label
        return value

    dag_run = run_id("dag")
    shared = [{"namespace": ns, "name": f"shared/{k}"} for k in range(SHARED)]
    first = [
        run_event(ns, "dag", dag_run, "START", "2024-08-01T00:00:00Z", [], []),
        run_event(ns, "producer", run_id("producer"), "COMPLETE", "2024-08-01T00:00:01Z", [], shared),
    ]
    parent = {"parent": {"_producer": PRODUCER, "_schemaURL": "https://s/parent",
                         "run": {"runId": dag_run}, "job": {"namespace": ns, "name": "dag"}}}
    per_job = []
    for j in range(JOBS):
        events = []
        for r in range(RUNS):
            rid = run_id(f"job{j}#{r}")
            second = 2 + (j * RUNS + r) * 2
            reads = [dict(ds, facets={"schema": {"_producer": PRODUCER, "_schemaURL": "https://s/schema",
                                                 "fields": [{"name": f"read-by-{j}-{r}", "type": "string"}]}})
                     for ds in rng.sample(shared, 2)]
            writes = [{"namespace": ns, "name": f"job{j}/out{r}"}]
            if r == 0:
                writes[0]["facets"] = {"symlinks": {"_producer": PRODUCER, "_schemaURL": "https://s/symlinks",
                                                    "identifiers": [{"namespace": ns, "name": f"alias/job{j}", "type": "TABLE"}]}}
            for offset, kind in ((0, "START"), (1, "COMPLETE")):
                time_ = f"2024-08-01T00:{(second + offset) // 60:02d}:{(second + offset) % 60:02d}Z"
                events.append(run_event(ns, f"dag.task{j}", rid, kind, time_, reads, writes, parent))
        per_job.append(events)
    return first, per_job, labels


def snapshot(api: str, ns: str, labels: dict[str, str]) -> str:
    """What the API shows of namespace ``ns``, with its name, run ids and version ids made neutral.

    ``updatedAt`` is left out: it is when a row was last touched, in arrival order.
    """
    jobs = requests.get(f"{api}/namespaces/{ns}/jobs", params={"limit": 100}, timeout=30).json()["jobs"]
    datasets = requests.get(f"{api}/namespaces/{ns}/datasets", params={"limit": 100}, timeout=30).json()["datasets"]
    shown: dict[str, Any] = {"jobs": sorted(jobs, key=lambda j: j["name"]), "datasets": datasets, "versions": {}, "runs": {}}
    for ds in datasets:
        shown["versions"][ds["name"]] = requests.get(
            f"{api}/namespaces/{ns}/datasets/{requests.utils.quote(ds['name'], safe='')}/versions", timeout=30).json()
    for job in jobs:
        shown["runs"][job["name"]] = requests.get(f"{api}/namespaces/{ns}/jobs/{job['name']}/runs", timeout=30).json()
    shown["lineage"] = requests.get(f"{api}/lineage", params={"nodeId": f"dataset:{ns}:shared/0"}, timeout=30).json()
    shown["alias"] = requests.get(f"{api}/namespaces/{ns}/datasets/alias%2Fjob0", timeout=30).json()["name"]
    text = json.dumps(shown, sort_keys=True)
    text = re.sub(r'"updatedAt": "[^"]*"', '"updatedAt": null', text.replace(ns, "NS"))
    for run_id, label in labels.items():
        text = text.replace(run_id, label)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)


def test_concurrent_posts_derive_what_the_same_posts_one_by_one_derive(own_standin: StandinServer) -> None:
    api = f"{own_standin.url}/api/v1"
    tag = uuid.uuid4().hex[:8]
    one_by_one, at_once = f"serial-{tag}", f"parallel-{tag}"

    first, per_job, serial_labels = story(one_by_one, seed=3)
    for body in first + [e for events in per_job for e in events]:
        post(api, body)

    first, per_job, parallel_labels = story(at_once, seed=3)
    for body in first:
        post(api, body)
    with ThreadPoolExecutor(max_workers=JOBS) as pool:  # each job's events in order, the jobs at once
        list(pool.map(lambda events: [post(api, e) for e in events], per_job))

    serial = snapshot(api, one_by_one, serial_labels)
    assert '"alias": "job0/out0"' in serial and '"read-by-' in serial
    assert snapshot(api, at_once, parallel_labels) == serial
