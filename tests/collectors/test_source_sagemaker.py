"""SageMakerSource against the moto server with crossline's lineage emulator, through real boto3.

The state is the scenario's, built with boto3 calls at the story's clock times: a training
job, versions 73 and 74 of ``credit-xgb`` (72 rejected ones before them, so pagination
runs), each approved by risk-ops through an assumed role, endpoint ``credit-prod``
created on v73 and updated to v74 on 15 March.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest

from crossline_bed.aws import TEST_ENV, MotoServer
from crossline.collectors.graph import Graph
from crossline.collectors.model import Edge, EdgeKind, Node, NodeKind, approval_id, variant_id
from crossline.collectors.reconcile import reconcile
from crossline.collectors.store import GraphStore
from crossline.collectors.sources import Batch, source_from_config
from crossline.collectors.sources.sagemaker import SageMakerSource
from crossline.errors import ConfigError, SourceError

REGION = "us-east-1"
ACCOUNT = "123456789012"
SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/credit-ml"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TRAIN = "s3://credit/train/2027-W10/"
JOB = "credit-xgb-2027W10-a3c7"
MODEL_DATA = f"s3://credit/models/{JOB}/output/model.tar.gz"
APPROVER = "risk-ops@company.com"
ENDPOINT_ARN = f"{SM}:endpoint/credit-prod"
V73, V74 = f"{SM}:model-package/credit-xgb/73", f"{SM}:model-package/credit-xgb/74"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Read:
    nodes: list[Node]
    edges: list[Edge]
    batches: list[Batch]
    report: Any = None

    @property
    def watermark(self) -> str | None:
        return self.batches[-1].watermark

    @property
    def warnings(self) -> list[str]:
        """Each warning as ``where: why``."""
        return [str(w) for b in self.batches for w in b.warnings]

    def node(self, node_id: str) -> Node:
        [node] = [n for n in self.nodes if n.id == node_id]
        return node

    def edges_of(self, kind: EdgeKind, src: str | None = None, dst: str | None = None) -> list[Edge]:
        return [e for e in self.edges if e.kind is kind and src in (None, e.src) and dst in (None, e.dst)]


def derived(records: Read) -> Graph:
    """The records in a store, with what reconciliation derives from them (intervals' ends)."""
    store = GraphStore.open("sqlite://")
    store.write(records.nodes, records.edges)
    reconcile(store)
    return Graph(store, owns_store=True)


def read(source: SageMakerSource, since: str | None = None) -> Read:
    batches = list(source.read(since))
    return Read([n for b in batches for n in b.nodes], [e for b in batches for e in b.edges], batches)


def client(aws: str, service: str, **creds: str) -> Any:
    return boto3.client(service, endpoint_url=aws, region_name=REGION, **creds)


def approve(moto_server: MotoServer, aws: str, package_arn: str, at: str, note: str, status: str = "Approved") -> None:
    """risk-ops decides in the registry, as a person would: through an assumed role."""
    moto_server.set_clock(utc(at))
    role = client(aws, "iam").get_role(RoleName="risk-ops")["Role"]["Arn"]
    creds = client(aws, "sts").assume_role(RoleArn=role, RoleSessionName=APPROVER)["Credentials"]
    approver = client(aws, "sagemaker", aws_access_key_id=creds["AccessKeyId"],
                      aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    approver.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=note)


def register(sm: Any, model_data: str, status: str = "PendingManualApproval") -> str:
    return sm.create_model_package(
        ModelPackageGroupName="credit-xgb",
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": model_data}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def endpoint_config(sm: Any, version: int, package_arn: str) -> str:
    sm.create_model(ModelName=f"credit-xgb-v{version}", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"ModelPackageName": package_arn})
    sm.create_endpoint_config(
        EndpointConfigName=f"credit-prod-v{version}",
        ProductionVariants=[{"VariantName": f"credit-prod-v{version}", "ModelName": f"credit-xgb-v{version}",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100,
                           "DestinationS3Uri": "s3://credit/datacapture/",
                           "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]},
    )
    return f"credit-prod-v{version}"


def build_story(moto_server: MotoServer, aws: str) -> None:
    """Two weeks of the scenario, SageMaker side only, at the story's times."""
    moto_server.set_clock(utc("2027-03-01T08:00:00Z"))
    s3, sm, iam = client(aws, "s3"), client(aws, "sagemaker"), client(aws, "iam")
    s3.create_bucket(Bucket="credit")
    s3.put_object(Bucket="credit", Key="train/2027-W10/part-00000.csv", Body=b"id,label\n8231,0\n")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="risk-ops", AssumeRolePolicyDocument=json.dumps(trust))
    sm.create_model_package_group(ModelPackageGroupName="credit-xgb")
    for version in range(1, 73):
        register(sm, f"s3://credit/models/history/v{version}/model.tar.gz", status="Rejected")

    moto_server.set_clock(utc("2027-03-06T03:13:00Z"))
    sm.create_training_job(
        TrainingJobName=JOB,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"max_depth": "6", "eta": "0.2", "num_round": "300", "objective": "binary:logistic"},
        InputDataConfig=[{"ChannelName": "train",
                          "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": TRAIN}}}],
        OutputDataConfig={"S3OutputPath": "s3://credit/models/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    moto_server.set_clock(utc("2027-03-06T04:00:00Z"))
    assert register(sm, MODEL_DATA) == V73
    approve(moto_server, aws, V73, "2027-03-08T09:42:00Z", "Validated by model risk; ticket MR-311")
    moto_server.set_clock(utc("2027-03-08T10:00:00Z"))
    sm.create_endpoint(EndpointName="credit-prod", EndpointConfigName=endpoint_config(sm, 73, V73))

    moto_server.set_clock(utc("2027-03-13T04:00:00Z"))
    assert register(sm, "s3://credit/models/credit-xgb-2027W11-b9d2/output/model.tar.gz") == V74
    approve(moto_server, aws, V74, "2027-03-15T08:55:00Z", "Validated by model risk; ticket MR-318")
    moto_server.set_clock(utc("2027-03-15T09:00:00Z"))
    sm.update_endpoint(EndpointName="credit-prod", EndpointConfigName=endpoint_config(sm, 74, V74))


@pytest.fixture
def story(moto_server: MotoServer, aws: str) -> str:
    build_story(moto_server, aws)
    yield aws
    moto_server.set_clock(None)


@pytest.fixture(scope="module")
def story_read(moto_server: MotoServer) -> Read:
    """The story read once from scratch, for the tests that only look at the records."""
    moto_server.reset()
    with pytest.MonkeyPatch.context() as env:
        for key, value in TEST_ENV.items():
            env.setenv(key, value)
        try:
            build_story(moto_server, moto_server.endpoint_url)
            source = SageMakerSource.from_config(
                {"region": REGION, "endpoint_url": moto_server.endpoint_url, "max_attempts": 4, "page_size": 10}
            )
            records = read(source)
            records.report = source.report
            return records
        finally:
            moto_server.set_clock(None)


@pytest.fixture
def source(aws: str) -> SageMakerSource:
    # A small page size so every processor pages.
    return SageMakerSource.from_config({"region": REGION, "endpoint_url": aws, "max_attempts": 4, "page_size": 10})


def test_packages_carry_every_approval_decision_who_and_when(story_read: Read) -> None:
    records = story_read

    package = records.node(V73)
    assert package.kind is NodeKind.MODEL_PACKAGE and package.name == "credit-xgb/73"
    assert package.props["group"] == "credit-xgb" and package.props["version"] == 73
    assert package.props["status"] == "Approved"
    assert package.props["modelDataUrl"] == MODEL_DATA
    assert package.props["lastModifiedBy"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/risk-ops/{APPROVER}"
    pending, approved = package.props["approvals"]
    assert pending["status"] == "PendingManualApproval"
    assert approved["status"] == "Approved" and approved["approver"] == APPROVER
    assert approved["time"].startswith("2027-03-08T09:42:00")
    assert approved["description"] == "Validated by model risk; ticket MR-311"

    decided_at = utc(approved["time"])
    approval = records.node(approval_id(V73, decided_at))
    assert approval.kind is NodeKind.APPROVAL
    assert approval.props["status"] == "Approved" and approval.props["approver"] == APPROVER
    assert approval.props["action"].startswith(f"{SM}:action/credit-xgb-73-")
    assert (approval.valid_from, approval.valid_to, approval.at) == (decided_at, None, decided_at)
    [edge] = records.edges_of(EdgeKind.APPROVED, src=approval.id)
    assert edge.dst == V73 and edge.valid_from == decided_at and edge.valid_to is None
    # The source records decisions; when each stopped being in force is derived from all of them:
    # the pending decision held until risk-ops decided.
    with derived(records) as graph:
        pending_node = graph.node(approval_id(V73, utc(pending["time"])))
        assert pending_node.valid_to == decided_at
        assert pending_node.derived["supersededBy"]["status"] == "Approved"
        assert graph.node(approval.id).valid_to is None
    assert records.node(V74).props["approvals"][-1]["time"].startswith("2027-03-15T08:55:00")
    # The 72 earlier versions are there too, rejected at registration.
    assert records.node(f"{SM}:model-package/credit-xgb/1").props["status"] == "Rejected"


def test_serves_intervals_follow_the_deployment_history_across_an_update(story_read: Read) -> None:
    records = story_read

    v73_variant, v74_variant = variant_id(ENDPOINT_ARN, "credit-prod-v73"), variant_id(ENDPOINT_ARN, "credit-prod-v74")
    [v73] = records.edges_of(EdgeKind.SERVES, src=V73)
    [v74] = records.edges_of(EdgeKind.SERVES, src=V74)
    assert (v73.dst, v74.dst) == (v73_variant, v74_variant)
    assert v73.valid_from.replace(microsecond=0) == utc("2027-03-08T10:00:00Z")
    assert v74.valid_from.replace(microsecond=0) == utc("2027-03-15T09:00:00Z")
    assert v73.valid_to is None and v74.valid_to is None  # facts; their ends are derived
    assert v73.props["endpointConfigName"] == "credit-prod-v73"
    assert v73.props["deploymentAction"].endswith("-aws-model-deployment")
    assert v73.props["model"] == f"{SM}:model/credit-xgb-v73"
    assert "DescribeEndpointConfig" in v73.props["api"]
    with derived(records) as graph:
        [stored73] = graph.edges(src=V73, kinds=[EdgeKind.SERVES])
        [stored74] = graph.edges(src=V74, kinds=[EdgeKind.SERVES])
        assert stored73.valid_to == v74.valid_from  # v73 served until v74 replaced it
        assert stored74.valid_to is None
        assert stored73.derived["replacedBy"]["refs"] == [v74.props["deploymentAction"]]
        assert graph.node(v73_variant).valid_to == v74.valid_from

    endpoint = records.node(ENDPOINT_ARN)
    assert endpoint.kind is NodeKind.ENDPOINT and endpoint.props["endpointConfigName"] == "credit-prod-v74"
    assert endpoint.props["dataCapture"] == {"enabled": True, "destination": "s3://credit/datacapture/"}
    variant = records.node(v73_variant)
    assert variant.kind is NodeKind.ENDPOINT_VARIANT and variant.valid_from == v73.valid_from
    assert records.edges_of(EdgeKind.VARIANT_OF, src=v73_variant, dst=ENDPOINT_ARN)
    assert records.node(f"{SM}:model/credit-xgb-v74").kind is NodeKind.MODEL


def test_associations_keep_their_sagemaker_types(story_read: Read) -> None:
    records = story_read

    artifacts = {n.props.get("SourceUri"): n for n in records.nodes if n.kind is NodeKind.SM_ARTIFACT}
    # moto keeps the case of names in ARNs (AWS lowers it); ids are the ARNs the API gives.
    component = f"{SM}:experiment-trial-component/{JOB}-aws-training-job"
    assert records.node(component).kind is NodeKind.SM_TRIAL_COMPONENT
    assert records.edges_of(EdgeKind.CONTRIBUTED_TO, src=artifacts[TRAIN].id, dst=component)
    assert records.edges_of(EdgeKind.SM_PRODUCED, src=component, dst=artifacts[MODEL_DATA].id)
    package_artifact = artifacts[V73].id
    assert records.edges_of(EdgeKind.CONTRIBUTED_TO, src=artifacts[MODEL_DATA].id, dst=package_artifact)
    approvals = [e for e in records.edges_of(EdgeKind.ASSOCIATED_WITH, dst=package_artifact)
                 if e.props["SourceType"] == "Approval"]
    assert len(approvals) == 2
    # What SageMaker knows to be one thing is linked, with the rule that says so.
    [same] = records.edges_of(EdgeKind.SAME_AS, src=package_artifact, dst=V73)
    assert same.props["rule"] == "sagemaker:artifact-source-uri"
    job_arn = f"{SM}:training-job/{JOB}"
    assert records.edges_of(EdgeKind.SAME_AS, src=component, dst=job_arn)
    job = records.node(job_arn)
    assert job.kind is NodeKind.TRAINING_JOB
    assert job.props["hyperparameters"]["max_depth"] == "6" and job.props["image"] == IMAGE
    assert job.props["inputs"] == [{"channel": "train", "s3Uri": TRAIN}]
    assert job.props["modelArtifacts"] == MODEL_DATA
    assert not records.warnings
    assert records.report.scanned["model_package"] == 74 and records.report.scanned["endpoint"] == 1


def test_reading_from_the_watermark_gives_only_what_changed(story: str, source: SageMakerSource,
                                                           moto_server: MotoServer) -> None:
    first = read(source)
    assert first.watermark is not None
    # Every batch before the last holds the old watermark: a crash re-reads, never skips.
    assert {b.watermark for b in first.batches[:-1]} == {None}

    again = read(source, first.watermark)
    assert (again.nodes, again.edges, again.warnings) == ([], [], [])
    assert again.watermark == first.watermark

    # A later decision: v73 withdrawn on 1 April. Its whole approval history is read again.
    approve(moto_server, story, V73, "2027-04-01T12:00:00Z", "Withdrawn: drift", status="Rejected")
    later = read(source, first.watermark)
    assert later.watermark > first.watermark
    assert [n.id for n in later.nodes if n.kind is NodeKind.MODEL_PACKAGE] == [V73]
    assert later.node(V73).props["status"] == "Rejected"
    approvals = sorted((n for n in later.nodes if n.kind is NodeKind.APPROVAL), key=lambda n: n.valid_from)
    assert [a.props["status"] for a in approvals] == ["PendingManualApproval", "Approved", "Rejected"]
    with derived(later) as graph:  # approved until withdrawn
        assert graph.node(approvals[1].id).valid_to == approvals[2].valid_from
    assert not later.edges_of(EdgeKind.SERVES)  # the endpoint did not change
    assert read(source, later.watermark).nodes == []


def test_reading_twice_from_scratch_gives_identical_records(story: str, source: SageMakerSource) -> None:
    first, second = read(source), read(source)
    assert first.nodes == second.nodes
    assert first.edges == second.edges
    assert first.watermark == second.watermark


def test_a_deleted_endpoint_config_is_a_warning_not_a_crash(story: str, source: SageMakerSource) -> None:
    client(story, "sagemaker").delete_endpoint_config(EndpointConfigName="credit-prod-v73")
    records = read(source)
    assert any("credit-prod-v73 cannot be described" in w for w in records.warnings)
    # v74 still serves from the 15th; nothing is invented for v73.
    [v74] = records.edges_of(EdgeKind.SERVES)
    assert v74.src == V74 and v74.valid_to is None
    assert [str(w) for w in source.report.warnings] == records.warnings


def test_unreachable_sagemaker_is_a_source_error() -> None:
    source = SageMakerSource.from_config({"region": REGION, "endpoint_url": "http://127.0.0.1:9", "max_attempts": 1})
    with pytest.raises(SourceError, match="SageMaker unreachable during list_artifacts"):
        list(source.read(None))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"region": REGION, "bucket": "x"}, "unknown keys"),
        ({"max_attempts": 0}, "max_attempts must be a positive integer"),
        ({"page_size": 500}, "page_size must be 1..100"),
    ],
)
def test_bad_config_is_a_config_error(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SageMakerSource.from_config(config)


def test_a_bad_watermark_is_a_source_error(aws: str) -> None:
    source = SageMakerSource.from_config({"region": REGION, "endpoint_url": aws})
    with pytest.raises(SourceError, match="not an ISO time"):
        list(source.read("last tuesday"))
