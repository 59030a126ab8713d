"""Synthetic lineage in the acceptance scenario's shape, for benchmarks: N pipelines x W weeks.

Each pipeline ``p`` is the credit-scoring story of ``../shared/SCENARIO.md`` with its
own names (``p0007``), run once a week. A pipeline-week gives:

OpenLineage RunEvents (dicts, as the Airflow provider + crossline's extractors and
emitters serialize them; ``producer``/``_producer``/``_schemaURL`` as they send them):

- DAG ``credit_retraining_<p>``: DAG run START/COMPLETE, and for each task START and
  COMPLETE with the ``parent`` facet naming the DAG run:
  - ``features_accounts`` / ``features_behaviour`` (Glue): read a raw Glue table, write a
    versioned feature-store snapshot ``s3://credit-features/<p>/<group>/<week>`` with
    ``crossline_featureSnapshot``;
  - ``assemble`` (Processing): reads both snapshots and the exclusion list
    ``s3://policy/excl-g<g>-v<k>.csv`` (shared by 10 pipelines, new every 4 weeks),
    writes ``s3://credit/<p>/train/<week>``; ``crossline_sagemakerJob``;
  - ``train`` (Training): reads the training set, writes the model artifact;
    ``crossline_sagemakerJob``, ``crossline_hyperparameters``, ``sourceCodeLocation``;
  - ``evaluate`` (Processing): writes ``evaluation.json``; ``crossline_metrics``;
  - ``register``: writes the model-package dataset ``arn:aws:sagemaker:us-east-1:123456789012``
    / ``model-package/credit-xgb-<p>/<v>`` with ``crossline_modelPackage``.
- the approval emitter's COMPLETE event (``model_registry.approval.<group>``,
  ``crossline_approval``), two days later;
- DAG ``credit_deploy_<p>``: DAG run START/COMPLETE and its ``deploy`` task's
  START/COMPLETE with ``crossline_deployment`` (validity from ``deployedTime``):
  endpoint ``credit-prod-<p>``, a new variant ``credit-prod-<p>-v<v>`` each week
  (blue/green).

SageMaker-side records (``Node``/``Edge``, as ``collectors.sources.sagemaker`` and
``data_capture`` write them), so reconciliation has both sides to join: the training
and processing jobs (ARNs), the MODEL_PACKAGE (ARN, ``modelDataUrl``), its approval, the
endpoint and its variant, SERVES package -> variant from the week's deployment (facts:
reconciliation derives that each holds until the next week's swap), two lineage
artifacts and a trial component, and
``INFERENCES_PER_WEEK`` captured inferences SERVED by the variant.

Deterministic: pipeline ``p`` draws from ``random.Random(f"{seed}:{p}")`` only, so the
same (seed, p) gives the same events whatever else is generated, and in any order.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crossline.collectors.model import (
    Edge,
    EdgeKind,
    Node,
    NodeId,
    NodeKind,
    approval_id,
    inference_id,
    variant_id,
)
from crossline.emitters.approval import approval_run_id
from crossline.emitters.facets._base import FOLDER as FACET_SCHEMAS
from crossline.emitters.producer import PRODUCER, schema_url

REGION = "us-east-1"
ACCOUNT = "123456789012"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
GLUE_NS = f"arn:aws:glue:{REGION}:{ACCOUNT}"
NAMESPACE = "crossline"
AIRFLOW_PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.20.0"
EMITTER_PRODUCER = PRODUCER
OL_PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
APPROVER = "risk-ops@company.com"
INFERENCES_PER_WEEK = 3
PIPELINES_PER_POLICY = 10  # pipelines sharing one exclusion list
FIRST_MONDAY = date.fromisocalendar(2026, 12, 1)  # week 51 is then 2027-W10, as in the scenario
FIRST_VERSION = 22  # ... whose package version is then 73


def _crossline(name: str) -> dict[str, str]:
    return {"_producer": EMITTER_PRODUCER,
            "_schemaURL": schema_url(FACET_SCHEMAS, "1-0-0", name)}


def _ol(name: str, version: str) -> dict[str, str]:
    return {"_producer": OL_PRODUCER,
            "_schemaURL": f"https://openlineage.io/spec/facets/{version}/{name}.json#/$defs/{name}"}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _version(value: str) -> dict[str, Any]:
    return {"version": {**_ol("DatasetVersionDatasetFacet", "1-0-1"), "datasetVersion": value}}


@dataclass(frozen=True)
class Week:
    """The names and times of one pipeline-week; the benchmark's start nodes come from here."""

    pipeline: int
    week: int
    label: str  # ISO week, e.g. 2027-W10
    version: int  # model package version
    monday: datetime
    train_dataset: str  # Marquez node id of the training set: dataset:<ns>:<name>
    train_version_id: NodeId  # crossline node id of the training set's content version
    package_arn: str
    variant: NodeId
    inferences: tuple[tuple[NodeId, datetime], ...]


class Pipeline:
    """One pipeline's weeks: ``events(w)``, ``sagemaker_records(w)`` and ``week(w)``."""

    def __init__(self, p: int, weeks: int, seed: int = 6) -> None:
        self.p = p
        self.weeks = weeks
        self.slug = f"p{p:04d}"
        self.dag = f"credit_retraining_{self.slug}"
        self.deploy_dag = f"credit_deploy_{self.slug}"
        self.group = f"credit-xgb-{self.slug}"
        self.endpoint = f"credit-prod-{self.slug}"
        self.endpoint_arn = f"{SM}:endpoint/{self.endpoint}"
        rng = random.Random(f"{seed}:{p}")
        # Draw everything up front, week by week, so week w never depends on which weeks ran.
        self._draws = [
            {
                "uuids": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(10)],
                "etags": [f"{rng.getrandbits(128):032x}" for _ in range(6)],
                "commit": f"{rng.getrandbits(160):040x}",
                "suffix": f"{rng.getrandbits(16):04x}",
                "auc": round(0.80 + rng.random() * 0.1, 3),
                "ks": round(0.35 + rng.random() * 0.1, 3),
                "max_depth": rng.choice([4, 5, 6, 7]),
                "seconds": [rng.randrange(3600) for _ in range(INFERENCES_PER_WEEK)],
            }
            for _ in range(weeks)
        ]

    # -- names ------------------------------------------------------------------------
    def monday(self, w: int) -> datetime:
        d = FIRST_MONDAY + timedelta(weeks=w)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)

    def label(self, w: int) -> str:
        year, week, _ = (FIRST_MONDAY + timedelta(weeks=w)).isocalendar()
        return f"{year}-W{week:02d}"

    def training_job(self, w: int) -> str:
        return f"credit-xgb-{self.slug}-{self.label(w).replace('-', '')}-{self._draws[w]['suffix']}"

    def package_arn(self, w: int) -> str:
        return f"{SM}:model-package/{self.group}/{FIRST_VERSION + w}"

    def variant_name(self, w: int) -> str:
        return f"{self.endpoint}-v{FIRST_VERSION + w}"

    def deployed(self, w: int) -> datetime:
        return self.monday(w) + timedelta(days=2, hours=12, minutes=10)

    def decided(self, w: int) -> datetime:
        return self.monday(w) + timedelta(days=2, hours=9, minutes=42)

    def inference_times(self, w: int) -> list[datetime]:
        base = self.monday(w) + timedelta(days=3, hours=10)
        return [base + timedelta(hours=6 * k, seconds=s) for k, s in enumerate(self._draws[w]["seconds"])]

    def week(self, w: int) -> Week:
        label = self.label(w)
        etag = self._draws[w]["etags"][2]
        return Week(
            pipeline=self.p, week=w, label=label, version=FIRST_VERSION + w, monday=self.monday(w),
            train_dataset=f"dataset:s3://credit:{self.slug}/train/{label}",
            train_version_id=NodeId(f"dataset:s3://credit:{self.slug}/train/{label}#{etag}"),
            package_arn=self.package_arn(w),
            variant=variant_id(self.endpoint_arn, self.variant_name(w)),
            inferences=tuple(
                (inference_id(self.endpoint, f"loan-{self.slug}-{label}-{k}"), at)
                for k, at in enumerate(self.inference_times(w))
            ),
        )

    # -- OpenLineage events -----------------------------------------------------------
    def events(self, w: int) -> list[dict[str, Any]]:
        """The pipeline-week's RunEvents, in event-time order."""
        d = self._draws[w]
        u = d["uuids"]
        label, monday, v = self.label(w), self.monday(w), FIRST_VERSION + w
        at = lambda minutes: monday + timedelta(minutes=minutes)  # noqa: E731
        dag_run = {"run": {"runId": u[0]}, "job": {"namespace": NAMESPACE, "name": self.dag}}
        nominal = {"nominalTime": {**_ol("NominalTimeRunFacet", "1-0-1"), "nominalStartTime": _iso(monday)}}
        events: list[dict[str, Any]] = []

        def task(name: str, run: str, start: int, end: int, *, run_facets: dict[str, Any] | None = None,
                 job_facets: dict[str, Any] | None = None, inputs: list[dict[str, Any]] | None = None,
                 outputs: list[dict[str, Any]] | None = None, parent: dict[str, Any] = dag_run,
                 dag: str = self.dag) -> None:
            job_type = {"jobType": {**_ol("JobTypeJobFacet", "2-0-3"), "processingType": "BATCH",
                                    "integration": "AIRFLOW", "jobType": "TASK"}}
            for state, when in (("START", at(start)), ("COMPLETE", at(end))):
                facets = {"parent": {**_ol("ParentRunFacet", "1-1-0"), **parent}, **nominal}
                if state == "COMPLETE":
                    facets.update(run_facets or {})
                events.append({
                    "eventType": state, "eventTime": _iso(when), "producer": AIRFLOW_PRODUCER, "schemaURL": SCHEMA,
                    "run": {"runId": run, "facets": facets},
                    "job": {"namespace": NAMESPACE, "name": f"{dag}.{name}", "facets": {**job_type, **(job_facets or {})}},
                    "inputs": inputs or [], "outputs": outputs or [],
                })

        def dag_event(state: str, run: str, dag: str, minutes: int) -> None:
            events.append({
                "eventType": state, "eventTime": _iso(at(minutes)), "producer": AIRFLOW_PRODUCER, "schemaURL": SCHEMA,
                "run": {"runId": run, "facets": dict(nominal)},
                "job": {"namespace": NAMESPACE, "name": dag, "facets": {"jobType": {
                    **_ol("JobTypeJobFacet", "2-0-3"), "processingType": "BATCH", "integration": "AIRFLOW",
                    "jobType": "DAG"}}},
                "inputs": [], "outputs": [],
            })

        dag_event("START", u[0], self.dag, 0)
        snapshots = []
        for i, group in enumerate(("accounts", "behaviour")):
            ds = {"namespace": "s3://credit-features", "name": f"{self.slug}/{group}/{label}",
                  "facets": {**_version(d["etags"][i]), "crossline_featureSnapshot": {
                      **_crossline("CrosslineFeatureSnapshotDatasetFacet"), "featureGroupName": f"{group}-{self.slug}",
                      "version": label, "offlineStoreUri": f"s3://credit-features/{self.slug}/{group}/{label}/",
                      "featureGroupArn": f"{SM}:feature-group/{group}-{self.slug}"}}}
            snapshots.append(ds)
            raw = {"namespace": GLUE_NS, "name": f"table/raw_{self.slug}/{group}"}
            task(f"features_{group}", u[1 + i], 5, 35 + 5 * i, inputs=[raw], outputs=[ds])
        policy = self.p // PIPELINES_PER_POLICY
        excl_version = 10 + w // 4
        exclusion = {"namespace": "s3://policy", "name": f"excl-g{policy:03d}-v{excl_version}.csv",
                     "facets": _version(f"excl-{policy}-{excl_version}")}
        train = {"namespace": "s3://credit", "name": f"{self.slug}/train/{label}", "facets": _version(d["etags"][2])}
        job_name = self.training_job(w)
        sm_job = lambda kind, arn_kind, name: {"crossline_sagemakerJob": {  # noqa: E731
            **_crossline("CrosslineSagemakerJobRunFacet"), "arn": f"{SM}:{arn_kind}/{name.lower()}",
            "name": name, "kind": kind, "instanceType": "ml.m5.xlarge", "instanceCount": 1}}
        task("assemble", u[3], 45, 70, inputs=[*snapshots, exclusion], outputs=[train],
             run_facets=sm_job("processing", "processing-job", f"assemble-{self.slug}-{label}"))
        model_uri = f"{self.slug}/models/{job_name}/output/model.tar.gz"
        model = {"namespace": "s3://credit", "name": model_uri, "facets": _version(d["etags"][3])}
        task("train", u[4], 75, 194, inputs=[train], outputs=[model],
             run_facets={**sm_job("training", "training-job", job_name), "crossline_hyperparameters": {
                 **_crossline("CrosslineHyperparametersRunFacet"), "hyperparameters": {
                     "max_depth": str(d["max_depth"]), "eta": "0.2", "num_round": "300",
                     "objective": "binary:logistic"}}},
             job_facets={"sourceCodeLocation": {
                 **_ol("SourceCodeLocationJobFacet", "1-1-0"), "type": "git",
                 "url": f"https://github.com/acme/credit-ml/tree/{d['commit'][:7]}",
                 "repoUrl": "https://github.com/acme/credit-ml", "version": d["commit"][:7]}})
        evaluation = {"namespace": "s3://credit", "name": f"{self.slug}/eval/{label}/evaluation.json",
                      "facets": _version(d["etags"][4])}
        task("evaluate", u[5], 200, 220, inputs=[model, train], outputs=[evaluation],
             run_facets={**sm_job("processing", "processing-job", f"evaluate-{self.slug}-{label}"),
                         "crossline_metrics": {**_crossline("CrosslineMetricsRunFacet"), "metrics": [
                             {"name": "auc", "value": d["auc"], "kind": "evaluation"},
                             {"name": "ks", "value": d["ks"], "kind": "evaluation"}]}})
        arn = self.package_arn(w)
        package = lambda status: {  # noqa: E731
            "namespace": SM, "name": f"model-package/{self.group}/{v}",
            "facets": {"crossline_modelPackage": {
                **_crossline("CrosslineModelPackageDatasetFacet"), "group": self.group, "version": v, "arn": arn,
                "approvalStatus": status, "modelDataUrl": f"s3://credit/{model_uri}"}}}
        task("register", u[6], 225, 230, inputs=[model, evaluation], outputs=[package("PendingManualApproval")])
        dag_event("COMPLETE", u[0], self.dag, 231)

        decided = self.decided(w)
        events.append({
            "eventType": "COMPLETE", "eventTime": _iso(decided), "producer": EMITTER_PRODUCER, "schemaURL": SCHEMA,
            "run": {"runId": approval_run_id(NAMESPACE, arn, "Approved", _iso(decided)), "facets": {
                "crossline_approval": {**_crossline("CrosslineApprovalRunFacet"), "modelPackageArn": arn,
                                       "status": "Approved", "decisionTime": _iso(decided),
                                       "approverUserProfileName": APPROVER, "description": "AUC above bar",
                                       "sourceEventId": u[9],
                                       "sourceEventType": "SageMaker Model Package State Change"}}},
            "job": {"namespace": NAMESPACE, "name": f"model_registry.approval.{self.group}", "facets": {}},
            "inputs": [], "outputs": [package("Approved")],
        })

        deploy_run = {"run": {"runId": u[7]}, "job": {"namespace": NAMESPACE, "name": self.deploy_dag}}
        start = int((self.deployed(w) - monday).total_seconds() // 60) - 10
        dag_event("START", u[7], self.deploy_dag, start)
        task("deploy", u[8], start + 1, start + 10, parent=deploy_run, dag=self.deploy_dag,
             inputs=[package("Approved")], run_facets={"crossline_deployment": {
                 **_crossline("CrosslineDeploymentRunFacet"), "endpointName": self.endpoint,
                 "endpointArn": self.endpoint_arn, "variantName": self.variant_name(w),
                 "modelName": f"{self.group}-{v}", "deployedTime": _iso(self.deployed(w)), "modelPackageArn": arn,
                 "endpointConfigName": f"{self.endpoint}-config-v{v}"}})
        dag_event("COMPLETE", u[7], self.deploy_dag, start + 11)
        return events

    # -- SageMaker-side records ---------------------------------------------------------
    def sagemaker_records(self, w: int) -> tuple[list[Node], list[Edge]]:
        """What the SageMaker and data-capture sources would record for the week."""
        d = self._draws[w]
        label, v = self.label(w), FIRST_VERSION + w
        src = "sagemaker"
        job_name = self.training_job(w)
        job_arn = f"{SM}:training-job/{job_name.lower()}"
        model_uri = f"s3://credit/{self.slug}/models/{job_name}/output/model.tar.gz"
        train_uri = f"s3://credit/{self.slug}/train/{label}/"
        arn = self.package_arn(w)
        decided, deployed = self.decided(w), self.deployed(w)
        nodes = [
            Node(NodeId(job_arn), NodeKind.TRAINING_JOB, job_name, src, {
                "status": "Completed", "hyperparameters": {"max_depth": str(d["max_depth"]), "eta": "0.2"},
                "inputs": [{"channel": "train", "s3Uri": train_uri}], "modelArtifacts": model_uri,
                "api": "DescribeTrainingJob"}),
            *(Node(NodeId(f"{SM}:processing-job/{kind}-{self.slug}-{label}".lower()), NodeKind.PROCESSING_JOB,
                   f"{kind}-{self.slug}-{label}", src, {"status": "Completed", "api": "DescribeProcessingJob"})
              for kind in ("assemble", "evaluate")),
            Node(NodeId(arn), NodeKind.MODEL_PACKAGE, f"{self.group}/{v}", src, {
                "group": self.group, "version": v, "status": "Approved", "modelDataUrl": model_uri,
                "approvals": [{"status": "Approved", "approver": APPROVER, "time": _iso(decided)}],
                "api": "DescribeModelPackage"}),
            Node(approval_id(arn, decided), NodeKind.APPROVAL, f"{self.group}/{v} Approved", src,
                 {"status": "Approved", "approver": APPROVER, "package": arn, "time": _iso(decided)},
                 valid_from=decided),
            Node(variant_id(self.endpoint_arn, self.variant_name(w)), NodeKind.ENDPOINT_VARIANT,
                 f"{self.endpoint}/{self.variant_name(w)}", src,
                 {"endpoint": self.endpoint, "endpointArn": self.endpoint_arn, "variant": self.variant_name(w),
                  "api": "DescribeEndpointConfig"}, valid_from=deployed),
        ]
        artifacts = {uri: NodeId(f"{SM}:artifact/{e}") for uri, e in zip((train_uri, model_uri), d["etags"][4:6])}
        nodes += [Node(a, NodeKind.SM_ARTIFACT, uri, src, {"SourceUri": uri, "api": "ListArtifacts"})
                  for uri, a in artifacts.items()]
        tc = NodeId(f"{SM}:experiment-trial-component/{job_name.lower()}-aws-training-job")
        nodes.append(Node(tc, NodeKind.SM_TRIAL_COMPONENT, f"{job_name}-aws-training-job", src,
                          {"source": job_arn, "api": "DescribeTrialComponent"}))
        variant = variant_id(self.endpoint_arn, self.variant_name(w))
        edges = [
            Edge(artifacts[train_uri], tc, EdgeKind.CONTRIBUTED_TO, src, {"api": "ListAssociations"}),
            Edge(tc, artifacts[model_uri], EdgeKind.SM_PRODUCED, src, {"api": "ListAssociations"}),
            Edge(approval_id(arn, decided), NodeId(arn), EdgeKind.APPROVED, src, {"status": "Approved"},
                 valid_from=decided),
            Edge(NodeId(arn), variant, EdgeKind.SERVES, src, {"modelName": f"{self.group}-{v}"},
                 valid_from=deployed),
            Edge(variant, NodeId(self.endpoint_arn), EdgeKind.VARIANT_OF, src, {"api": "DescribeEndpointConfig"}),
        ]
        if w == 0:
            nodes.append(Node(NodeId(self.endpoint_arn), NodeKind.ENDPOINT, self.endpoint, src,
                              {"status": "InService", "api": "DescribeEndpoint"}))
        for inference, at in self.week(w).inferences:
            key = inference.rsplit("/", 1)[1]
            nodes.append(Node(inference, NodeKind.INFERENCE, key, "data-capture", {
                "inferenceId": key, "inferenceTime": at.isoformat(), "endpoint": self.endpoint,
                "variant": self.variant_name(w)}, valid_from=at))
            edges.append(Edge(variant, inference, EdgeKind.SERVED, "data-capture", {"api": "data capture"},
                              valid_from=at))
        return nodes, edges


def pipelines(n: int, weeks: int, seed: int = 6) -> Iterator[Pipeline]:
    for p in range(n):
        yield Pipeline(p, weeks, seed)


def check_facets() -> None:
    """The hand-built facet dicts are what crossline's facet classes accept and serialize.

    Builds each custom facet of pipeline 0, week 0 with its class and compares the JSON, so
    the generator cannot drift from the emitters it stands for.
    """
    import json

    from openlineage.client.serde import Serde

    from crossline.emitters import facets as F

    classes = {cls.KEY: cls for cls in F.FACETS.values()}
    seen = set()
    for event in Pipeline(0, 2).events(0):
        holders = [event["run"]["facets"], *(ds.get("facets", {}) for ds in event["inputs"] + event["outputs"])]
        for holder in holders:
            for key, facet in holder.items():
                if key not in classes:
                    continue
                fields = {k: v for k, v in facet.items() if not k.startswith("_")}
                if key == "crossline_metrics":
                    fields["metrics"] = [F.CrosslineMetric(**m) for m in fields["metrics"]]
                built = json.loads(Serde.to_json(classes[key](**fields)))
                if built != facet:
                    raise AssertionError(f"synthetic facet {key} differs from its class: {facet} != {built}")
                seen.add(key)
    missing = set(classes) - seen
    if missing:
        raise AssertionError(f"synthetic events never carry {sorted(missing)}")
