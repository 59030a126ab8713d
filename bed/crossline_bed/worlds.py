"""Small model worlds on the bed: a registry, people deciding, endpoints updated, inferences captured.

Contract: ``ModelWorld(aws, folder)`` drives the bed's AWS (moto server with crossline's
lineage emulator, endpoint and registry fidelity) through real boto3 calls, each at a
time of the caller's choosing (the bed's clock), and writes the OpenLineage side the way
crossline's emitters would: the approval emitter's event for every registry decision
(its real ``handle``, fed the EventBridge event), and a deployment event per endpoint
create or update (``emitters.sagemaker.deployment_facets`` from the Describe* records,
as the Airflow extractor builds it), to ``events_file`` with the OpenLineage client's
file transport. It is the story's machinery at a smaller scale, for the cases the story
does not play: decisions revoked and re-made by other people, a variant name reused
across updates, a package never deployed, two endpoints serving one package.

- ``seed(at)``: buckets, the ``risk-ops`` role people assume, the package group.
- ``register(at, model_data)``: a package version (PendingManualApproval); its ARN.
- ``decide(package, status, at, who, note)``: ``who`` (an e-mail, the role session's
  name) sets the status in the registry; EventBridge's event goes to the approval emitter.
- ``deploy(endpoint, package, at, variant="AllTraffic")``: a model and an endpoint config
  (data capture on) and CreateEndpoint, or UpdateEndpoint when the endpoint exists.
- ``infer(endpoint, inference_id, at)``: the data-capture record of one request.
- ``train(inputs, model_data, at)``: an OpenLineage COMPLETE of a job that read
  ``inputs`` and wrote ``model_data`` (lineage for impact questions).
- ``sources(sagemaker=True, openlineage=True, capture=True)``: collector source configs.

Errors are the bed's (``BedError``) or boto3's, raised: a world that cannot be built is
a broken test, never a silent one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from crossline_bed.aws import TEST_ENV
from crossline_bed.data_capture import record_inference

ACCOUNT = "123456789012"
REGION = TEST_ENV["AWS_DEFAULT_REGION"]
ROLE = "risk-ops"
CAPTURE = "s3://credit/datacapture/"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@dataclass
class ModelWorld:
    aws: Any  # crossline_bed.aws.MotoServer
    folder: Path
    group: str = "credit-xgb"
    namespace: str = "worlds"
    deployments: dict[str, int] = field(default_factory=dict)

    @property
    def events_file(self) -> Path:
        return self.folder / "events.jsonl"

    def client(self, service: str, **credentials: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.aws.endpoint_url, region_name=REGION,
            aws_access_key_id=credentials.get("key", TEST_ENV["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=credentials.get("secret", TEST_ENV["AWS_SECRET_ACCESS_KEY"]),
            aws_session_token=credentials.get("token", TEST_ENV["AWS_SESSION_TOKEN"]),
        )

    def lineage(self) -> Any:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.file import FileConfig, FileTransport

        return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(self.events_file), append=True)))

    # -- the world --------------------------------------------------------------------------
    def seed(self, at: datetime) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.aws.set_clock(at)
        s3, iam = self.client("s3"), self.client("iam")
        s3.create_bucket(Bucket="credit")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        self.client("sagemaker").create_model_package_group(ModelPackageGroupName=self.group)

    def register(self, at: datetime, model_data: str) -> str:
        self.aws.set_clock(at)
        return self.client("sagemaker").create_model_package(
            ModelPackageGroupName=self.group, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": model_data}],
                                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        )["ModelPackageArn"]

    def decide(self, package: str, status: str, at: datetime, who: str, note: str | None = None) -> None:
        """``who`` decides in the registry through the role; the approval emitter reports it."""
        from crossline.emitters.approval import DETAIL_TYPE, handle

        self.aws.set_clock(at)
        role = self.client("iam").get_role(RoleName=ROLE)["Role"]["Arn"]
        creds = self.client("sts").assume_role(RoleArn=role, RoleSessionName=who)["Credentials"]
        person = self.client("sagemaker", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                             token=creds["SessionToken"])
        update: dict[str, Any] = {"ModelPackageArn": package, "ModelApprovalStatus": status}
        if note:
            update["ApprovalDescription"] = note
        person.update_model_package(**update)
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPE, "source": "aws.sagemaker",
                 "account": ACCOUNT, "time": at.isoformat(), "region": REGION, "resources": [package],
                 "detail": {"ModelPackageArn": package, "ModelPackageGroupName": self.group,
                            "ModelApprovalStatus": status}}
        handle(event, sagemaker_client=self.client("sagemaker"), client=self.lineage(), namespace=self.namespace)

    def deploy(self, endpoint: str, package: str, at: datetime, variant: str = "AllTraffic") -> None:
        """Put ``package`` on ``endpoint``'s ``variant`` (the endpoint's whole config is replaced)."""
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

        from crossline.emitters import sagemaker
        from crossline.emitters.producer import PRODUCER
        from crossline.times import stamp

        self.aws.set_clock(at)
        sm = self.client("sagemaker")
        number = self.deployments[endpoint] = self.deployments.get(endpoint, 0) + 1
        model, config = f"{endpoint}-model-{number}", f"{endpoint}-config-{number}"
        sm.create_model(ModelName=model, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
                        PrimaryContainer={"ModelPackageName": package})
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[{"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1,
                                 "InstanceType": "ml.m5.large"}],
            DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": CAPTURE,
                               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]},
        )
        if number == 1:
            sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        else:
            sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        described = sm.describe_endpoint(EndpointName=endpoint)
        facets = sagemaker.deployment_facets(described, sm.describe_endpoint_config(EndpointConfigName=config),
                                             {model: sm.describe_model(ModelName=model)})
        self.lineage().emit(RunEvent(
            eventType=RunState.COMPLETE, eventTime=stamp(described["LastModifiedTime"]),
            run=Run(runId=str(uuid.uuid4()), facets={facets[0].KEY: facets[0]}),
            job=Job(namespace=self.namespace, name=f"deploy.{endpoint}"), producer=PRODUCER,
        ))

    def infer(self, endpoint: str, inference_id: str, at: datetime) -> str:
        self.aws.set_clock(at)
        return record_inference(self.client("s3"), self.client("sagemaker"), endpoint, inference_id, at, "1,2,3", "0.5")

    def train(self, inputs: list[str], model_data: str, at: datetime) -> None:
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

        from crossline.emitters import sagemaker
        from crossline.emitters.producer import PRODUCER
        from crossline.times import stamp

        self.lineage().emit(RunEvent(
            eventType=RunState.COMPLETE, eventTime=stamp(at), run=Run(runId=str(uuid.uuid4())),
            job=Job(namespace=self.namespace, name="train"), producer=PRODUCER,
            inputs=[sagemaker.input_dataset(uri) for uri in inputs], outputs=[sagemaker.output_dataset(model_data)],
        ))

    # -- collecting it ----------------------------------------------------------------------
    def sources(self, *, sagemaker: bool = True, openlineage: bool = True, capture: bool = True) -> list[dict[str, Any]]:
        aws = {"endpoint_url": self.aws.endpoint_url, "region": REGION}
        configs: list[dict[str, Any]] = []
        if openlineage:
            configs.append({"type": "openlineage-file", "paths": [str(self.events_file)]})
        if sagemaker:
            configs.append({"type": "sagemaker", **aws})
        if capture:
            configs.append({"type": "data-capture", "prefixes": [CAPTURE], **aws})
        return configs


__all__ = ["CAPTURE", "ModelWorld"]
