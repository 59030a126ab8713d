"""Where the data capture was searched: what a user is told about an inference id it does not hold.

Contract: ``not_found(graph, inference, endpoint=None, elsewhere=())`` returns the
``NodeNotFound`` (exit 2) for an inference id that no collected data capture holds. Its
message names:

- the data-capture locations collected: each S3 prefix (or local copy's ``file://``
  folder) and its ``endpoint/variant`` folders, from the watermarks of the data-capture
  sources (a watermark maps each variant folder read to the last capture file read there);
- the time window searched: per endpoint, how many inferences were captured and the
  earliest and latest inference time;
- how to widen the search: collect the prefix where the endpoint captures, collect
  again for files written since, or name the endpoint (``elsewhere``: the endpoints the
  id was captured on when ``endpoint`` named another).

Two statements: the watermarks, and one grouped scan of the inference nodes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from crossline.collectors.model import NodeKind
from crossline.errors import NodeNotFound
from crossline.times import iso

if TYPE_CHECKING:
    from crossline.collectors.graph import Graph


def folders(watermarks: dict[str, str | None]) -> dict[str, list[str]]:
    """Per S3 prefix, the ``endpoint/variant`` folders the data-capture sources have read."""
    found: dict[str, set[str]] = defaultdict(set)
    for value in watermarks.values():
        try:
            marks = json.loads(value) if value else None
        except ValueError:
            continue
        if not isinstance(marks, dict):
            continue
        for folder in marks:
            if not isinstance(folder, str) or not folder.startswith(("s3://", "file://")):
                continue
            head, _, variant = folder.rstrip("/").rpartition("/")
            prefix, _, endpoint = head.rpartition("/")
            if prefix and endpoint and variant:
                found[f"{prefix}/"].add(f"{endpoint}/{variant}")
    return {prefix: sorted(names) for prefix, names in sorted(found.items())}


def not_found(graph: Graph, inference: str, endpoint: str | None = None, elsewhere: Iterable[str] = ()) -> NodeNotFound:
    searched = folders(graph.watermarks())
    if endpoint:
        searched = {p: [f for f in names if f.split("/", 1)[0] == endpoint] for p, names in searched.items()}
        searched = {p: names for p, names in searched.items() if names}
    spans = [s for s in graph.spans(NodeKind.INFERENCE, "endpoint") if not endpoint or s[0] == endpoint]
    where = f"on endpoint {endpoint}" if endpoint else "in any collected data capture"
    others = sorted(set(elsewhere))
    hint = f"It was captured on endpoint(s) {', '.join(others)}: name one of those with --endpoint. " if others else ""
    if not searched and not spans:
        return NodeNotFound(
            f"inference {inference!r} was not found {where}: no data capture "
            + (f"of endpoint {endpoint} " if endpoint else "") + "has been collected. " + hint
            + "Collect the prefix the endpoint captures to (crossline collect --data-capture s3://BUCKET/PREFIX/), "
            "then trace again."
        )
    locations = "; ".join(f"{prefix} ({', '.join(names)})" for prefix, names in searched.items())
    windows = "; ".join(
        f"{name or 'unknown endpoint'}: {count} inference(s) from {iso(first)} to {iso(last)}"
        for name, count, first, last in spans
    ) or "no inferences"
    return NodeNotFound(
        f"inference {inference!r} was not found {where}. Searched the data capture under "
        f"{locations or '(no data-capture location is recorded in the watermarks)'}; captured: {windows}. " + hint
        + "To widen the search: collect the prefix where its endpoint captures (crossline collect "
        "--data-capture s3://BUCKET/PREFIX/), or collect again to read capture files written since the latest "
        "time above."
    )


__all__ = ["folders", "not_found"]
