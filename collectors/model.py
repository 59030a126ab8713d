"""The typed graph crossline builds: node and edge kinds, ids, and the records sources emit.

Contract: every source turns what it reads into ``Node`` and ``Edge`` records; the store
keeps them; queries walk them. Nothing else defines a node id: ``*_id`` functions below
build every id, from the one naming function's ``(namespace, name)`` where one applies,
in Marquez's form (``dataset:<ns>:<name>``, ``job:<ns>:<name>``, ``run:<uuid>``) so ids
read the same in both tools. SageMaker entities are their ARN.

Edges point the way influence flows: a dataset version *feeds* a run, the run *produces*
the next version, a package is *served by* an endpoint variant. Queries walk "ancestors"
against the arrows and "descendants" with them. Structural edges (a run of a job, a
version of a dataset, a variant of an endpoint) are kept apart from flow edges so that
a walk does not wander from one run of a job to every other run of it.

Time is data, and it is event time (DESIGN.md decision 3):

- ``at`` is when the record's facts became true: an OpenLineage event's ``eventTime``,
  a SageMaker entity's LastModifiedTime (else CreationTime), the decision time of an
  approval, the capture time of an inference. When a record gives none, its
  ``valid_from`` stands for it; a record with neither has no time, and loses to any
  record that has one. The store merges records by these times, never by arrival.
- ``times`` are per prop (plus ``@name`` and ``@kind``) the time of the value kept:
  filled when read back from the store; a record written with ``times`` gives its props
  those times instead of ``at`` (a dump written back stays the same graph).
- ``valid_from``/``valid_to`` (UTC, ``valid_to`` ``None`` while still true) bound facts
  that hold for a while: which package a variant served, each approval decision. Where
  an interval ends because a later fact replaced it, the end is *derived* from the whole
  set of facts (``collectors.timeline``, run by reconciliation) and kept with the
  derivation's other findings in ``derived``; sources record the facts, not the ends.

Every edge made by reconciliation carries ``rule`` and ``evidence`` in its ``props``.

Kinds per source: OpenLineage gives datasets, versions, jobs, runs, feature groups, code
commits, approvals and deployments; SageMaker its lineage entities, jobs, packages,
endpoints, feature groups, pipelines and their executions (an execution is the PARENT
of its step jobs), experiments and trials; the Glue Data Catalog databases and tables
(DATASETs named by the naming function's Glue rule, PART_OF their database); MLflow
experiments, runs, logged models, registered models and their versions; a manual table
MANUAL_FACTs, each RECORDS what it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NewType

from crossline.emitters.naming import dataset_name
from crossline.times import stamp

NodeId = NewType("NodeId", str)


class NodeKind(StrEnum):
    DATASET = "dataset"
    DATASET_VERSION = "dataset_version"
    JOB = "job"
    RUN = "run"
    SM_ARTIFACT = "sagemaker_artifact"
    SM_ACTION = "sagemaker_action"
    SM_CONTEXT = "sagemaker_context"
    SM_TRIAL_COMPONENT = "sagemaker_trial_component"
    TRAINING_JOB = "training_job"
    PROCESSING_JOB = "processing_job"
    MODEL_PACKAGE = "model_package"
    MODEL = "model"
    ENDPOINT = "endpoint"
    ENDPOINT_VARIANT = "endpoint_variant"
    APPROVAL = "approval"
    CODE_COMMIT = "code_commit"
    INFERENCE = "inference"
    FEATURE_GROUP = "feature_group"
    # SageMaker Pipelines and Experiments
    PIPELINE = "sagemaker_pipeline"
    PIPELINE_EXECUTION = "sagemaker_pipeline_execution"
    SM_EXPERIMENT = "sagemaker_experiment"
    SM_TRIAL = "sagemaker_trial"
    # the Glue Data Catalog (tables are DATASET nodes, named by the naming function's Glue rule)
    GLUE_DATABASE = "glue_database"
    # MLflow
    MLFLOW_EXPERIMENT = "mlflow_experiment"
    MLFLOW_RUN = "mlflow_run"
    MLFLOW_LOGGED_MODEL = "mlflow_logged_model"
    MLFLOW_REGISTERED_MODEL = "mlflow_registered_model"
    MLFLOW_MODEL_VERSION = "mlflow_model_version"
    # facts a team keeps by hand (an audit table): evidence, never a system's record
    MANUAL_FACT = "manual_fact"


class EdgeKind(StrEnum):
    # flow: influence moves from src to dst
    CONSUMED = "consumed"  # dataset (version) -> run that read it
    PRODUCED = "produced"  # run -> dataset (version) it wrote
    CONTRIBUTED_TO = "ContributedTo"  # SageMaker association types, as SageMaker names them
    ASSOCIATED_WITH = "AssociatedWith"
    DERIVED_FROM = "DerivedFrom"
    SM_PRODUCED = "Produced"
    SERVES = "serves"  # model package -> endpoint variant, with a validity interval
    SERVED = "served"  # endpoint variant -> inference
    APPROVED = "approved"  # approval -> model package
    CODE = "code"  # code commit -> run
    RECORDS = "records"  # manual fact -> what it is about (a package, a dataset)
    # structural
    RUN_OF = "run_of"  # run -> job
    PARENT = "parent"  # parent run -> child run
    VERSION_OF = "version_of"  # dataset version -> dataset
    VARIANT_OF = "variant_of"  # endpoint variant -> endpoint
    PART_OF = "part_of"  # table -> database, partition -> table, run -> experiment, version -> model
    SAME_AS = "SameAs"  # reconciliation: the same thing seen by two systems


FLOW_EDGES = frozenset(
    {
        EdgeKind.CONSUMED, EdgeKind.PRODUCED, EdgeKind.CONTRIBUTED_TO, EdgeKind.ASSOCIATED_WITH,
        EdgeKind.DERIVED_FROM, EdgeKind.SM_PRODUCED, EdgeKind.SERVES, EdgeKind.SERVED, EdgeKind.APPROVED,
        EdgeKind.CODE, EdgeKind.RECORDS, EdgeKind.SAME_AS,
    }
)


@dataclass(frozen=True)
class Node:
    id: NodeId
    kind: NodeKind
    name: str
    source: str  # which source recorded it: "marquez", "openlineage-file", "sagemaker", "mlflow", "manual", ...
    props: dict[str, Any] = field(default_factory=dict)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    # When, not what: a record read back equals the one written (the dump carries both).
    at: datetime | None = field(default=None, compare=False)
    times: dict[str, str] = field(default_factory=dict, compare=False)
    derived: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    src: NodeId
    dst: NodeId
    kind: EdgeKind
    source: str
    props: dict[str, Any] = field(default_factory=dict)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    # When, not what: a record read back equals the one written (the dump carries both).
    at: datetime | None = field(default=None, compare=False)
    times: dict[str, str] = field(default_factory=dict, compare=False)
    derived: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of an edge: the same fact recorded twice is one edge."""
        return (self.src, self.dst, self.kind.value, stamp(self.valid_from) if self.valid_from else "")


# -- ids ----------------------------------------------------------------------------------
def dataset_id(uri_or_namespace: str, name: str | None = None) -> NodeId:
    """``dataset:<ns>:<name>`` from an OpenLineage pair, or from any URI/ARN via the naming function."""
    if name is None:
        namespace, name = dataset_name(uri_or_namespace)
    else:
        namespace = uri_or_namespace
    return NodeId(f"dataset:{namespace}:{name}")


def dataset_version_id(dataset: NodeId, version: str) -> NodeId:
    return NodeId(f"{dataset}#{version}")


def job_id(namespace: str, name: str) -> NodeId:
    return NodeId(f"job:{namespace}:{name}")


def run_id(run_uuid: str) -> NodeId:
    return NodeId(f"run:{run_uuid}")


def variant_id(endpoint_arn: str, variant: str) -> NodeId:
    return NodeId(f"{endpoint_arn}/variant/{variant}")


def inference_id(endpoint: str, inference: str) -> NodeId:
    return NodeId(f"inference:{endpoint}/{inference}")


def commit_id(repo_url: str, commit: str) -> NodeId:
    return NodeId(f"commit:{repo_url}@{commit}")


def approval_id(package_arn: str, decided_at: datetime, system: str | None = None) -> NodeId:
    """One system's record of one decision; ``system`` (e.g. ``openlineage``) keeps the
    records of two systems apart, so that joining them stays a finding with its rule."""
    base = f"approval:{package_arn}@{stamp(decided_at)}"
    return NodeId(f"{base}#{system}" if system else base)


def mlflow_experiment_id(server: str, experiment: str) -> NodeId:
    """An MLflow experiment: its id is only unique on its tracking server (``server``: host[:port][/path])."""
    return NodeId(f"mlflow-experiment:{server}/{experiment}")


def mlflow_run_id(run: str) -> NodeId:
    """An MLflow run: run ids are UUIDs (hex), unique across servers."""
    return NodeId(f"mlflow-run:{run}")


def mlflow_logged_model_id(model: str) -> NodeId:
    return NodeId(f"mlflow-logged-model:{model}")


def mlflow_model_id(server: str, name: str, version: str | int | None = None) -> NodeId:
    """A registered model (``version`` None) or one of its versions, on its tracking server."""
    base = f"mlflow-model:{server}/{name}"
    return NodeId(base if version is None else f"{base}/{version}")


def manual_fact_id(origin: str, record: str) -> NodeId:
    """A manual fact: its record id within the table it comes from (``origin``: the table's name)."""
    return NodeId(f"manual:{origin}/{record}")


def glue_database_id(region: str, account: str, database: str, partition: str = "aws") -> NodeId:
    """A Glue database by its ARN (the catalog's ``arn:{partition}:glue:{region}:{account}:database/{name}``)."""
    return NodeId(f"arn:{partition}:glue:{region}:{account}:database/{database}")
