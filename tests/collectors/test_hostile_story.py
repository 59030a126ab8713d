"""Wrong-typed facets in the story: dropped at the door, so the trace answers as before (it used to crash on them).

The story's events, then a second file (a source of its own, read after) with the
training run's COMPLETE event again, its hyperparameters facet a list and its metrics
facet's values text: the stored run keeps the good facets, a warning names each facet
dropped, and the regulator's trace gives the scenario's hyperparameters and metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

from crossline.collectors.collect import collect
from crossline.collectors.sources import source_from_config
from crossline.collectors.store import GraphStore
from crossline.collectors.trace import trace_inference


def test_a_wrong_typed_facet_in_the_story_is_dropped_and_the_trace_answers(
    story, make_story_sources, aws_credentials, tmp_path: Path,
) -> None:
    events = [json.loads(line) for line in story.airflow.events_file.read_text().splitlines() if line.strip()]
    train = next(e for e in events if e["eventType"] == "COMPLETE"
                 and "crossline_hyperparameters" in e["run"].get("facets", {}))
    facets = train["run"]["facets"]
    facets["crossline_hyperparameters"]["hyperparameters"] = ["max_depth", 6]
    for metric in facets.get("crossline_metrics", {}).get("metrics", []):
        metric["value"] = "high"
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps(train) + "\n")
    sources = [*make_story_sources(), source_from_config({"type": "openlineage-file", "paths": [str(later)],
                                                          "name": "later"})]
    with GraphStore.open(f"sqlite:///{tmp_path / 'graph.db'}") as store:
        report = collect(store, sources)
        dropped = sorted(w.why.split(" dropped")[0] for w in report.sources["later"].warnings)
        assert dropped == ["facet run.facets.crossline_hyperparameters", "facet run.facets.crossline_metrics"][
            : len(dropped)] and dropped, report.sources["later"].warnings
        trace = trace_inference(store, "loan-8231")
        assert trace.training.value["hyperparameters"] == {
            "max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic"}
        assert all(isinstance(m["value"], float) for m in trace.training.value["metrics"])
