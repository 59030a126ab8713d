"""Reconciliation rules for the systems teams run beside crossline's conventions (rules 6-9).

Contract: ``rules(graph, book, jobs, executions, datasets, artifacts)`` yields the edges of
rules 7-9 below and records, in ``book`` (``reconcile.Book``), what each rule tried and
linked; ``external_query(run, targets, book)`` is rule 6, applied per OpenLineage run by
``reconcile.rules``. Every edge carries ``rule`` and ``evidence``. ``jobs`` and
``executions`` map lower-cased ARNs to node ids (AWS lower-cases names in ARNs, moto and
some clients keep their case); ``datasets`` is every dataset id; ``artifacts`` maps a
dataset id to the SageMaker artifacts whose SourceUri the naming function names so.

6. ``external-query`` - an OpenLineage run whose standard ``externalQuery`` facet names a
   SageMaker pipeline execution or job ARN (an Airflow task that started a pipeline) is
   ``SameAs`` it.
7. ``mlflow:training-job-tag`` - an MLflow run tagged ``sagemaker.training_job_arn`` (or
   ``sagemaker.training_job_name``) is ``SameAs`` that training job;
   ``mlflow:pipeline-execution-tag`` - tagged ``sagemaker.pipeline_execution_arn``, the
   execution is its ``PARENT``; ``mlflow:version-tag`` - an MLflow model version tagged
   ``sagemaker.model_package_arn`` is ``SameAs`` the package;
   ``mlflow:package-metadata`` - a package whose CustomerMetadataProperties name
   ``mlflow.run_id`` has that run ``ContributedTo`` it, and one naming
   ``mlflow.model_version`` (``{model}/{version}``) is ``SameAs`` that version.
8. ``feature-store:offline-prefix`` - every dataset, dataset version and SageMaker
   artifact whose S3 location is a feature group's offline store, or under it (a
   snapshot, a partition), has the group ``ContributedTo`` it.
9. ``manual:approval`` - a manual ``model_approval`` fact is ``SameAs`` the system's
   approval decision of the same package with the same status (the first decided at
   or after the fact's decision time, else the last before it): the registry applied
   what the hand-kept record says was decided. When the system records only other
   statuses, the system's record wins: no link, and a conflict is reported (and
   warned). ``manual:subject-location`` - a fact about a storage location ``RECORDS``
   the SageMaker artifact of that location. A fact whose subject is in the graph is
   matched by its own ``RECORDS`` edge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind
from crossline.collectors.openlineage import facet
from crossline.emitters.naming import s3_location
from crossline.errors import InvalidEvent
from crossline.times import coerce, stamp

if TYPE_CHECKING:
    from crossline.collectors.graph import Graph
    from crossline.collectors.reconcile import Book

TRAINING_JOB_TAGS = ("sagemaker.training_job_arn", "sagemaker.training_job_name")
EXECUTION_TAG = "sagemaker.pipeline_execution_arn"
PACKAGE_TAG = "sagemaker.model_package_arn"
RUN_METADATA, VERSION_METADATA = "mlflow.run_id", "mlflow.model_version"


def external_query(run: Node, targets: dict[str, NodeId], book: Book) -> Iterator[Edge]:
    from crossline.collectors.reconcile import same_as

    query = facet(run, "externalQuery") or {}
    named = query.get("externalQueryId")
    if not isinstance(named, str) or not named.startswith("arn:"):
        return
    book.try_(run, "external-query", f"externalQuery.externalQueryId {named}", named)
    target = targets.get(named.lower())
    if target is None:
        return
    book.link("external-query", run.id, target)
    yield from same_as(run.id, target, "external-query",
                       {"externalQueryId": named, "source": query.get("source"), "run": run.id})


def rules(graph: Graph, book: Book, jobs: dict[str, NodeId], executions: dict[str, NodeId], datasets: set[NodeId],
          artifacts: dict[NodeId, list[tuple[NodeId, str]]]) -> Iterator[Edge]:
    yield from _mlflow(graph, book, jobs, executions)
    yield from _feature_store(graph, book, artifacts)
    yield from _manual(graph, book, datasets, artifacts)


# -- 7. MLflow ------------------------------------------------------------------------------
def _mlflow(graph: Graph, book: Book, jobs: dict[str, NodeId], executions: dict[str, NodeId]) -> Iterator[Edge]:
    from crossline.collectors.reconcile import linked, same_as

    packages = {n.id.lower(): n for n in graph.nodes(NodeKind.MODEL_PACKAGE)}
    job_names = {n.name.lower(): n.id for n in graph.nodes(NodeKind.TRAINING_JOB)}
    runs: dict[str, NodeId] = {}
    for run in graph.nodes(NodeKind.MLFLOW_RUN):
        runs[str(run.props.get("runId") or run.id.removeprefix("mlflow-run:"))] = run.id
        tags = run.props.get("tags") or {}
        for tag in TRAINING_JOB_TAGS:
            value = tags.get(tag)
            if not isinstance(value, str) or not value:
                continue
            job = jobs.get(value.lower()) if tag.endswith("_arn") else job_names.get(value.lower())
            book.try_(run, "mlflow:training-job-tag", f"tag {tag}={value}", value)
            if job is not None:
                book.link("mlflow:training-job-tag", run.id, job)
                yield from same_as(run.id, job, "mlflow:training-job-tag", {"tag": tag, "value": value, "run": run.id})
                break
        value = tags.get(EXECUTION_TAG)
        if isinstance(value, str) and value:
            book.try_(run, "mlflow:pipeline-execution-tag", f"tag {EXECUTION_TAG}={value}", value)
            execution = executions.get(value.lower())
            if execution is not None:
                book.link("mlflow:pipeline-execution-tag", run.id, execution)
                yield linked(execution, run.id, EdgeKind.PARENT, "mlflow:pipeline-execution-tag",
                             {"tag": EXECUTION_TAG, "value": value, "run": run.id})
    versions: dict[str, NodeId] = {}
    for version in graph.nodes(NodeKind.MLFLOW_MODEL_VERSION):
        versions[version.name] = version.id
        value = (version.props.get("tags") or {}).get(PACKAGE_TAG)
        if not isinstance(value, str) or not value:
            continue
        book.try_(version, "mlflow:version-tag", f"tag {PACKAGE_TAG}={value}", value)
        package = packages.get(value.lower())
        if package is not None:
            book.link("mlflow:version-tag", version.id, package.id)
            yield from same_as(version.id, package.id, "mlflow:version-tag",
                               {"tag": PACKAGE_TAG, "value": value, "version": version.name})
    for package in packages.values():
        metadata = package.props.get("customerMetadata") or {}
        run_id, version_name = metadata.get(RUN_METADATA), metadata.get(VERSION_METADATA)
        if isinstance(run_id, str) and run_id:
            book.try_(package, "mlflow:package-metadata", f"CustomerMetadataProperties {RUN_METADATA}={run_id}",
                      f"mlflow-run:{run_id}")
            if run_id in runs:
                book.link("mlflow:package-metadata", package.id, runs[run_id])
                yield linked(runs[run_id], package.id, EdgeKind.CONTRIBUTED_TO, "mlflow:package-metadata",
                             {"CustomerMetadataProperties": {RUN_METADATA: run_id}, "package": package.id})
        if isinstance(version_name, str) and version_name:
            book.try_(package, "mlflow:package-metadata", f"CustomerMetadataProperties {VERSION_METADATA}={version_name}",
                      f"MLflow model version {version_name}")
            if version_name in versions:
                book.link("mlflow:package-metadata", package.id, versions[version_name])
                yield from same_as(versions[version_name], package.id, "mlflow:package-metadata",
                                   {"CustomerMetadataProperties": {VERSION_METADATA: version_name}, "package": package.id})


# -- 8. Feature Store -----------------------------------------------------------------------
def _location(namespace: str, name: str) -> tuple[str, str] | None:
    return (namespace.removeprefix("s3://"), name) if namespace.startswith("s3://") else None


def _feature_store(graph: Graph, book: Book, artifacts: dict[NodeId, list[tuple[NodeId, str]]]) -> Iterator[Edge]:
    from crossline.collectors.reconcile import linked

    stores: dict[str, list[tuple[str, Node, str]]] = defaultdict(list)  # bucket -> (key, group, URI)
    for group in graph.nodes(NodeKind.FEATURE_GROUP):
        uri = group.props.get("offlineStoreUri")
        if not isinstance(uri, str):
            continue
        try:
            bucket, key = s3_location(uri)
        except InvalidEvent:
            continue
        stores[bucket].append((key.rstrip("/"), group, uri))
        book.try_(group, "feature-store:offline-prefix", f"offline store {uri}", "datasets and artifacts at or under it")
    if not stores:
        return

    def groups_of(bucket: str, key: str) -> list[tuple[Node, str]]:
        return [(g, uri) for prefix, g, uri in stores.get(bucket, []) if key == prefix or key.startswith(f"{prefix}/")]

    for kind in (NodeKind.DATASET, NodeKind.DATASET_VERSION):
        for dataset in graph.nodes(kind):
            namespace, name = dataset.props.get("namespace"), dataset.props.get("name")
            where = _location(str(namespace), str(name)) if namespace and name else None
            for group, uri in groups_of(*where) if where else []:
                book.link("feature-store:offline-prefix", group.id, dataset.id)
                yield linked(group.id, dataset.id, EdgeKind.CONTRIBUTED_TO, "feature-store:offline-prefix",
                             {"offlineStoreUri": uri, "featureGroup": group.name, "dataset": dataset.id})
    for found in artifacts.values():
        try:
            bucket, key = s3_location(found[0][1])
        except InvalidEvent:
            continue  # an ARN, not a location
        for group, uri in groups_of(bucket, key.rstrip("/")):
            for artifact, source_uri in found:
                book.link("feature-store:offline-prefix", group.id, artifact)
                yield linked(group.id, artifact, EdgeKind.CONTRIBUTED_TO, "feature-store:offline-prefix",
                             {"offlineStoreUri": uri, "featureGroup": group.name, "SourceUri": source_uri})


# -- 9. manual facts ------------------------------------------------------------------------
def _decisions(graph: Graph) -> dict[str, list[dict[str, Any]]]:
    """Each package's approval decisions as the systems recorded them (registry, approval events)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for approval in graph.nodes(NodeKind.APPROVAL):
        props = approval.props
        package = props.get("package") or props.get("modelPackageArn")
        at = coerce(props.get("time") or props.get("decisionTime")) or approval.valid_from
        if isinstance(package, str) and at is not None:
            found[package.lower()].append({"id": approval.id, "status": props.get("status"), "at": at,
                                           "approver": props.get("approver"), "action": props.get("action"),
                                           "source": approval.source})
    for decisions in found.values():
        decisions.sort(key=lambda d: (d["at"], d["id"]))
    return found


def _manual(graph: Graph, book: Book, datasets: set[NodeId],
            artifacts: dict[NodeId, list[tuple[NodeId, str]]]) -> Iterator[Edge]:
    from crossline.collectors.reconcile import linked, same_as

    facts = list(graph.nodes(NodeKind.MANUAL_FACT))
    if not facts:
        return
    decisions = _decisions(graph)
    subjects = {str(f.props.get("subjectId")) for f in facts if f.props.get("subjectId")}
    present = {n.id for n in graph.nodes(ids=subjects)}
    statuses = {n.id.lower(): n.props.get("status") for n in graph.nodes(ids=subjects) if n.kind is NodeKind.MODEL_PACKAGE}
    for fact in facts:
        props = fact.props
        subject = NodeId(str(props.get("subjectId") or ""))
        record = props.get("recordId")
        if props.get("fact") == "model_approval":
            recorded = decisions.get(subject.lower(), [])
            book.try_(fact, "manual:approval", f"{record}: {subject} {props.get('value')} decided {props.get('decidedAt')}",
                      "the system's approval decisions of the package")
            decided = coerce(props.get("decidedAt"))
            agreeing = [d for d in recorded if d["status"] == props.get("value")]
            after = [d for d in agreeing if decided is None or d["at"] >= decided]
            chosen = after[0] if after else (agreeing[-1] if agreeing else None)
            if chosen is not None:
                book.link("manual:approval", fact.id, chosen["id"])
                yield from same_as(fact.id, chosen["id"], "manual:approval", {
                    "record": record, "value": props.get("value"), "decidedAt": props.get("decidedAt"),
                    "decidedBy": props.get("decidedBy"), "recordedBy": props.get("recordedBy"),
                    "recordedAt": props.get("recordedAt"), "ticket": props.get("ticket"),
                    "systemDecision": chosen["id"], "systemStatus": chosen["status"], "systemTime": stamp(chosen["at"]),
                    "systemAction": chosen["action"],
                })
                continue
            system = recorded[-1]["status"] if recorded else statuses.get(subject.lower())
            if system is not None:
                book.matched.add(fact.id)  # matched, and contradicted: a conflict, not an unmatched fact
                conflict = {
                    "record": record, "fact": fact.id, "subject": subject, "manual": props.get("value"),
                    "decidedAt": props.get("decidedAt"), "recordedBy": props.get("recordedBy"),
                    "readFrom": props.get("readFrom"), "system": system,
                    "systemDecisions": [{"id": d["id"], "status": d["status"], "time": stamp(d["at"])} for d in recorded],
                    "resolution": "the system's record wins; the manual fact is kept as evidence only",
                }
                book.report.conflicts.append(conflict)
                book.report.warnings.append(
                    f"manual fact {record} ({props.get('readFrom')}) says {subject} was {props.get('value')} "
                    f"(decided {props.get('decidedAt')}), the system records {system}: the system's record wins")
            continue
        book.try_(fact, "manual:subject", f"{record}: subject {props.get('subject')}", subject)
        if subject in present or subject in datasets:
            book.matched.add(fact.id)
        for artifact, uri in artifacts.get(subject, []):
            book.link("manual:subject-location", fact.id, artifact)
            yield linked(fact.id, artifact, EdgeKind.RECORDS, "manual:subject-location",
                         {"subject": props.get("subject"), "SourceUri": uri, "record": record})


__all__ = ["external_query", "rules"]
