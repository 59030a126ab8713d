"""QueryLineage: a bounded breadth-first walk over the association graph.

Contract: ``query_lineage(backend, ...)`` answers one QueryLineage request from a
``LineageBackend`` and returns the output dict (``Vertices``, ``Edges``, ``NextToken``).

Semantics, where AWS's reference leaves room (see the package docstring):
- ``Ascendants`` follows associations backwards (destination -> source), ``Descendants``
  forwards, ``Both`` is the union of those two directed walks (not an undirected walk,
  which would wander from an endpoint down into unrelated siblings).
- Depth is counted in associations from the start ARN; ``MaxDepth`` defaults to 10.
- Filters select which vertices are *returned*; the walk passes through vertices that do
  not match. The start vertex itself is not returned.
- ``IncludeEdges`` returns every association the walk crossed, once.
- ``MaxResults`` (default and ceiling 50) pages vertices and edges in step: page k holds
  vertices[k*n:(k+1)*n] and edges[k*n:(k+1)*n]; ``NextToken`` is set while either list
  has more. Every vertex and edge appears on exactly one page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from crossline_bed.sagemaker_lineage.exceptions import ValidationException
from crossline_bed.sagemaker_lineage.models import (
    LINEAGE_TYPES,
    MAX_QUERY_DEPTH,
    MAX_QUERY_RESULTS,
    MAX_START_ARNS,
    Association,
    LineageBackend,
    Node,
    as_datetime,
    check_range,
    decode_token,
    encode_token,
)

DIRECTIONS = ("Ascendants", "Descendants", "Both")


def query_lineage(
    backend: LineageBackend,
    start_arns: list[str] | None = None,
    direction: str | None = None,
    include_edges: bool | None = None,
    filters: dict[str, Any] | None = None,
    max_depth: int | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    start_arns = list(start_arns or [])
    if len(start_arns) > MAX_START_ARNS:
        raise ValidationException(
            "1 validation error detected: Value at 'startArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_START_ARNS}"
        )
    direction = direction or "Both"
    if direction not in DIRECTIONS:
        raise ValidationException(
            f"Value '{direction}' at 'direction' failed to satisfy constraint: Member must "
            f"satisfy enum value set: [{', '.join(DIRECTIONS)}]"
        )
    check_range(max_depth, "maxDepth", 0, MAX_QUERY_DEPTH)
    check_range(max_results, "maxResults", 1, MAX_QUERY_RESULTS)
    filters = filters or {}
    for lineage_type in filters.get("LineageTypes") or []:
        if lineage_type not in LINEAGE_TYPES:
            raise ValidationException(
                f"Value '{lineage_type}' at 'filters.lineageTypes' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(LINEAGE_TYPES)}]"
            )
    depth = MAX_QUERY_DEPTH if max_depth is None else max_depth

    for arn in start_arns:
        backend.node(arn)  # ValidationException for a malformed ARN, ResourceNotFound if absent
    vertices: dict[str, Node] = {}
    edges: dict[tuple[str, str], Association] = {}
    if direction in ("Ascendants", "Both"):
        _walk(backend, start_arns, depth, upstream=True, vertices=vertices, edges=edges)
    if direction in ("Descendants", "Both"):
        _walk(backend, start_arns, depth, upstream=False, vertices=vertices, edges=edges)
    for arn in start_arns:
        vertices.pop(arn, None)

    selected = [node for node in vertices.values() if _matches(node, filters)]
    edge_list = list(edges.values()) if include_edges else []

    limit = max_results or MAX_QUERY_RESULTS
    fingerprint = _fingerprint(start_arns, direction, include_edges, filters, depth)
    offset = decode_token(next_token, fingerprint) if next_token else 0
    page_vertices = selected[offset : offset + limit]
    page_edges = edge_list[offset : offset + limit]
    more = offset + limit < max(len(selected), len(edge_list))
    result: dict[str, Any] = {
        "Vertices": [_vertex(node) for node in page_vertices],
        "Edges": [_edge(edge) for edge in page_edges],
    }
    if more:
        result["NextToken"] = encode_token(offset + limit, fingerprint)
    return result


def _walk(
    backend: LineageBackend,
    start_arns: Iterable[str],
    max_depth: int,
    upstream: bool,
    vertices: dict[str, Node],
    edges: dict[tuple[str, str], Association],
) -> None:
    seen = set(start_arns)
    frontier = list(seen)
    for _ in range(max_depth):
        following: list[str] = []
        for arn in frontier:
            crossing = backend.edges_into(arn) if upstream else backend.edges_out_of(arn)
            for association in crossing:
                neighbour = association.source_arn if upstream else association.destination_arn
                node = backend.find_node(neighbour)
                if node is None or node.lineage_type not in LINEAGE_TYPES:
                    # deleted outside the lineage API, or an experiment (no Vertex type for it)
                    continue
                edges.setdefault(association.key, association)
                if neighbour not in seen:
                    seen.add(neighbour)
                    vertices.setdefault(neighbour, node)
                    following.append(neighbour)
        frontier = following
        if not frontier:
            break


def _matches(node: Node, filters: dict[str, Any]) -> bool:
    types = filters.get("Types")
    if types and node.entity_type not in types:
        return False
    lineage_types = filters.get("LineageTypes")
    if lineage_types and node.lineage_type not in lineage_types:
        return False
    if not _in_window(node.creation_time, filters.get("CreatedAfter"), filters.get("CreatedBefore")):
        return False
    if not _in_window(
        node.last_modified_time, filters.get("ModifiedAfter"), filters.get("ModifiedBefore")
    ):
        return False
    wanted = filters.get("Properties") or {}
    return all(node.properties.get(key) == value for key, value in wanted.items())


def _in_window(moment: datetime | None, after: Any, before: Any) -> bool:
    after_dt, before_dt = as_datetime(after), as_datetime(before)
    if after_dt is None and before_dt is None:
        return True
    if moment is None:
        return False
    return (after_dt is None or moment > after_dt) and (before_dt is None or moment < before_dt)


def _vertex(node: Node) -> dict[str, Any]:
    vertex = {"Arn": node.arn, "LineageType": node.lineage_type}
    if node.entity_type is not None:
        vertex["Type"] = node.entity_type
    return vertex


def _edge(association: Association) -> dict[str, Any]:
    edge = {"SourceArn": association.source_arn, "DestinationArn": association.destination_arn}
    if association.association_type is not None:
        edge["AssociationType"] = association.association_type
    return edge


def _fingerprint(*request: Any) -> str:
    return hashlib.sha256(json.dumps(request, default=str, sort_keys=True).encode()).hexdigest()[:16]
