"""What a user typed, to the node it names: the way people name things, not crossline's ids.

Contract: ``resolve(graph, text, kinds=None)`` returns the one ``NodeId`` that ``text``
names, or raises ``NodeNotFound`` (nothing matches; the message says what was tried) or
``AmbiguousNode`` (several match; the message and ``.candidates`` list them, so the user
can pick one by its id). ``candidates(graph, text, kinds)`` gives every match.

``text`` may be, in the order tried (the first form that matches anything wins):

1. a node id as crossline prints it (``dataset:s3://credit:train/2027-W10``, an ARN,
   ``run:<uuid>``, ``commit:<repo>@<sha>``);
2. a storage URI or ARN, named by the one naming function (``s3://credit/train/2027-W10/``,
   ``arn:aws:s3:::policy/excl-v14.csv``, a Glue table ARN, any SageMaker ARN: the entity
   itself when SageMaker's side was collected, else the OpenLineage dataset it names);
   with ``@VERSION`` or ``#VERSION`` after it, that content version of the dataset;
3. a feature group with a snapshot version, ``accounts@2027-W10`` (the snapshot dataset
   version), or a feature group's name;
4. a model package as ``group/version`` (``credit-xgb/73``): SageMaker's record, else
   (only OpenLineage collected) the dataset named from the package's ARN;
5. a Glue table as ``database.table`` or ``database/table``;
6. a code commit: a (short) SHA, or ``repo@sha``;
7. any node's name: an inference id, a training job's or endpoint's name, a job name.

``resolve_package(graph, text)`` is ``resolve`` for a model package in either system's
records (``packages.is_package``), SageMaker's when both are there.

``kinds`` restricts the answer to nodes of those kinds. Matching never guesses beyond
these forms: a typo is "not found" with the forms listed, never the nearest name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from crossline.collectors.model import EdgeKind, NodeId, NodeKind, dataset_id, dataset_version_id
from crossline.collectors.packages import is_package
from crossline.errors import AmbiguousNode, InvalidEvent, NodeNotFound

if TYPE_CHECKING:
    from crossline.collectors.graph import Graph

SHOWN = 10  # candidates named in an ambiguity message
_SHA = re.compile(r"[0-9a-f]{7,40}")
_GLUE_TABLE = re.compile(r"([A-Za-z0-9_-]+)[./]([A-Za-z0-9_-]+)")
FORMS = (
    "a node id, an S3 URI or ARN (with @version for a content version), feature-group@version, "
    "package-group/version, database.table, a commit SHA, or a name (inference id, job, endpoint)"
)


def resolve(graph: Graph, text: str, kinds: Collection[NodeKind] | None = None) -> NodeId:
    found = candidates(graph, text, kinds)
    if len(found) == 1:
        return found[0]
    where = f" of kind {', '.join(sorted(k.value for k in kinds))}" if kinds else ""
    if not found:
        raise NodeNotFound(f"nothing in the graph{where} is named {text!r}; give {FORMS}")
    shown = ", ".join(found[:SHOWN]) + (f" and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
    raise AmbiguousNode(f"{text!r} names {len(found)} nodes{where}: {shown}; give one of these ids", found)


def candidates(graph: Graph, text: str, kinds: Collection[NodeKind] | None = None) -> list[NodeId]:
    text = text.strip()
    if not text:
        return []
    keep = _kind_filter(graph, kinds)
    for form in (_by_id, _by_uri, _by_feature_group, _by_package, _by_glue_table, _by_commit, _by_name):
        found = keep(form(graph, text))
        if found:
            return sorted(set(found))
    return []


def _kind_filter(graph: Graph, kinds: Collection[NodeKind] | None) -> Callable[[Iterable[NodeId]], list[NodeId]]:
    def keep(ids: Iterable[NodeId]) -> list[NodeId]:
        ids = list(dict.fromkeys(ids))
        if not ids or kinds is None:
            return ids
        wanted = {str(k) for k in kinds}
        return [n.id for n in graph.nodes(ids=ids) if str(n.kind) in wanted]

    return keep


def _existing(graph: Graph, ids: Iterable[str]) -> list[NodeId]:
    ids = list(dict.fromkeys(ids))
    return [n.id for n in graph.nodes(ids=ids)] if ids else []


def _by_id(graph: Graph, text: str) -> list[NodeId]:
    return _existing(graph, [text])


def _split_version(text: str) -> tuple[str, str | None]:
    for mark in ("#", "@"):
        head, sep, tail = text.rpartition(mark)
        if sep and head and tail and "/" not in tail:
            return head, tail
    return text, None


def _by_uri(graph: Graph, text: str) -> list[NodeId]:
    if not text.startswith(("s3://", "s3a://", "s3n://", "arn:")):
        return []
    uri, version = _split_version(text)
    try:
        dataset = dataset_id(uri)
    except InvalidEvent:
        return []
    if version is not None:
        return _existing(graph, [dataset_version_id(dataset, version)])
    if uri.startswith("arn:"):
        entity = _existing(graph, [uri])
        if entity:
            return entity
    return _existing(graph, [dataset])


def _by_feature_group(graph: Graph, text: str) -> list[NodeId]:
    name, version = _split_version(text)
    groups = [n.id for n in graph.find(name=name.removeprefix("feature-group/"), kinds=[NodeKind.FEATURE_GROUP])]
    if version is None or not groups:
        return groups if version is None else []
    found = []
    for group in groups:
        for edge in graph.edges_of(group, direction="out", edge_kinds=[EdgeKind.CONTRIBUTED_TO]):
            if str(edge.props.get("snapshotVersion")) == version:
                found.append(edge.dst)
    return found


def _by_package(graph: Graph, text: str) -> list[NodeId]:
    """SageMaker's package named ``group/version``, else the OpenLineage dataset named
    from its ARN (``model-package/group/version``), when only OpenLineage was collected."""
    if not re.fullmatch(r"[A-Za-z0-9-]+/\d+", text):
        return []
    registered = [n.id for n in graph.find(name=text, kinds=[NodeKind.MODEL_PACKAGE])]
    return registered or [n.id for n in graph.find(name=f"model-package/{text}", kinds=[NodeKind.DATASET])
                          if is_package(n)]


def resolve_package(graph: Graph, text: str) -> NodeId:
    """A model package from its ARN or ``group/version``: SageMaker's record when it was
    collected, else the OpenLineage dataset named from its ARN (``NodeNotFound`` if neither)."""
    found = [n for n in graph.nodes(ids=candidates(graph, text, [NodeKind.MODEL_PACKAGE, NodeKind.DATASET]))
             if is_package(n)]
    registered = [n.id for n in found if n.kind is NodeKind.MODEL_PACKAGE]
    if len(registered) == 1 or len(found) == 1:
        return registered[0] if registered else found[0].id
    if not found:
        raise NodeNotFound(f"no model package in the graph is named {text!r}; give its ARN or group/version "
                           "(collect SageMaker's registry, or the OpenLineage events that name the package)")
    raise AmbiguousNode(f"{text!r} names {len(found)} model packages: {', '.join(n.id for n in found[:SHOWN])}; "
                        "give one of these ids", [n.id for n in found])


def _by_glue_table(graph: Graph, text: str) -> list[NodeId]:
    match = _GLUE_TABLE.fullmatch(text)
    if not match:
        return []
    name = f"table/{match.group(1)}/{match.group(2)}"
    return [n.id for n in graph.find(name=name, kinds=[NodeKind.DATASET])]


def _by_commit(graph: Graph, text: str) -> list[NodeId]:
    repo, _, sha = text.rpartition("@")
    if not _SHA.fullmatch(sha.lower()):
        return []
    found = []
    for node in graph.nodes(kind=NodeKind.CODE_COMMIT):
        node_repo, _, node_sha = node.name.rpartition("@")
        if node_sha.lower().startswith(sha.lower()) and (not repo or node_repo.rstrip("/").endswith(repo.rstrip("/"))):
            found.append(node.id)
    return found


def _by_name(graph: Graph, text: str) -> list[NodeId]:
    return [n.id for n in graph.find(name=text)]
