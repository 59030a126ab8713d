"""The lineage graph of the Marquez stand-in, walked the way Marquez 0.50's LineageService does.

Contract: ``lineage(reader, node_id, depth)`` returns ``{"graph": [...]}`` for a
``dataset:`` or ``job:`` node that exists (the API checks that first). The walk:

1. Start from a job: the job itself, or for a dataset the job that writes it (a writer
   before a reader, the newest job version first). A dataset no job touches gives an
   "orphan" graph holding only that dataset.
2. Walk jobs, not datasets: from the jobs found so far, take every job whose *current*
   inputs or outputs share a dataset with them, up to ``depth`` job-to-job steps. The
   walk is undirected, and only each job's latest version counts.
3. The graph is those jobs plus all their current inputs and outputs. If the dataset
   asked for is no longer among them, the orphan graph is returned instead.

Nodes are sorted by id. Edges are ``{origin, destination}``: dataset->job for an input
and job->dataset for an output, sorted the same way. Job nodes carry Marquez's
``JobData`` and dataset nodes its ``DatasetData``.
"""

from __future__ import annotations

import uuid
from typing import Any

from crossline_bed.marquez_standin.model import NodeId
from crossline_bed.marquez_standin.views import LineageReader


def _node(kind: str, row: dict[str, Any]) -> str:
    return f"{kind}:{row['namespace']}:{row['name']}"


def _edges(pairs: set[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"origin": o, "destination": d} for o, d in sorted(pairs)]


def _orphan(reader: LineageReader, dataset: dict[str, Any]) -> dict[str, Any]:
    return {"graph": [{
        "id": _node("dataset", dataset),
        "type": "DATASET",
        "data": reader.read.dataset_data(dataset),
        "inEdges": [],
        "outEdges": [],
    }]}


def lineage(reader: LineageReader, node: NodeId, depth: int) -> dict[str, Any]:
    dataset = None
    if node.kind == "job":
        start = reader.job_by_name(node.namespace, node.name)
    else:
        dataset = reader.dataset_by_name(node.namespace, node.name)
        if dataset is None:
            return {"graph": []}
        start = reader.job_for_dataset(dataset["uuid"])
        if start is None:
            return _orphan(reader, dataset)
    if start is None:
        return {"graph": []}

    io = reader.current_io()
    empty: tuple[set[uuid.UUID], set[uuid.UUID]] = (set(), set())
    found: set[uuid.UUID] = {start["uuid"]}
    frontier = {start["uuid"]}
    for _ in range(max(depth, 0)):
        touched = set().union(*(io.get(j, empty)[0] | io.get(j, empty)[1] for j in frontier))
        nxt = {j for j, (ins, outs) in io.items() if j not in found and (ins | outs) & touched}
        if not nxt:
            break
        found |= nxt
        frontier = nxt

    dataset_uuids = set().union(*(io.get(j, empty)[0] | io.get(j, empty)[1] for j in found))
    if dataset is not None and dataset["uuid"] not in dataset_uuids:
        return _orphan(reader, dataset)

    jobs = {row["uuid"]: row for row in reader.jobs(found)}
    datasets = {row["uuid"]: row for row in reader.datasets(dataset_uuids)}
    ds_id = {u: _node("dataset", row) for u, row in datasets.items()}
    nodes: list[dict[str, Any]] = []
    ds_in: dict[uuid.UUID, set[tuple[str, str]]] = {u: set() for u in datasets}
    ds_out: dict[uuid.UUID, set[tuple[str, str]]] = {u: set() for u in datasets}
    for job_uuid, job in jobs.items():
        ins, outs = io.get(job_uuid, empty)
        job_id = _node("job", job)
        data = reader.read.job_data(job, reader.latest_run(job))
        data["inputs"] = sorted(({"namespace": datasets[u]["namespace"], "name": datasets[u]["name"]} for u in ins),
                                key=lambda d: (d["namespace"], d["name"]))
        data["outputs"] = sorted(({"namespace": datasets[u]["namespace"], "name": datasets[u]["name"]} for u in outs),
                                 key=lambda d: (d["namespace"], d["name"]))
        for u in ins:
            ds_out[u].add((ds_id[u], job_id))
        for u in outs:
            ds_in[u].add((job_id, ds_id[u]))
        nodes.append({
            "id": job_id,
            "type": "JOB",
            "data": data,
            "inEdges": _edges({(ds_id[u], job_id) for u in ins}),
            "outEdges": _edges({(job_id, ds_id[u]) for u in outs}),
        })
    for u, row in datasets.items():
        nodes.append({
            "id": ds_id[u],
            "type": "DATASET",
            "data": reader.read.dataset_data(row),
            "inEdges": _edges(ds_in[u]),
            "outEdges": _edges(ds_out[u]),
        })
    nodes.sort(key=lambda n: n["id"])
    return {"graph": nodes}
