"""fraud_scoring_weekly: a payments team's fraud model, trained as a SageMaker Pipeline.

The second story's DAG (see ``crossline_bed.scenario_fraud``), written as that team
writes DAGs, not in crossline's conventions:

1. ``curate_transactions``: a Glue job naming its data the Glue way, by catalog tables
   (``--source_database``/``--source_table``, ``--target_database``/``--target_table``);
2. ``train_pipeline``: starts the SageMaker Pipeline ``fraud-train`` (Processing ->
   Training -> RegisterModel) and waits for it. Its OpenLineage lineage is declared the
   OpenLineage provider's way for custom operators (``get_openlineage_facets_on_complete``):
   the three feature groups' offline stores it trains from, one of them
   (``feature_groups_by_table``) named only as its Glue table
   ``arn:aws:glue:{region}:{account}`` / ``table/{db}/{table}`` with a ``symlinks`` facet
   pointing at the table's S3 location, plus an ``externalQuery`` run facet naming the
   pipeline execution ARN;
3. ``link_mlflow``: finds the MLflow run the training job logged (tag
   ``sagemaker.training_job_arn``), registers it as a version of the MLflow model
   ``fraud-scorer`` tagged with the package ARN, alias ``challenger``, and records the run
   in the package's CustomerMetadataProperties (``mlflow.run_id``,
   ``mlflow.model_version``);
4. ``await_approval``: the registry says Approved (the team's release role approves after
   the change board; the audit log says who decided);
5. ``create_model`` -> ``create_endpoint_config`` (data capture on) -> ``deploy``;
6. ``promote_in_mlflow``: alias ``champion`` on the deployed version.

Settings come from the params (override them in the run's conf). AWS is the
``aws_default`` connection; MLflow is ``MLFLOW_TRACKING_URI``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
    SageMakerStartPipelineOperator,
)
from airflow.sdk import DAG, task
from airflow.sdk.bases.sensor import PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

PARAMS = {
    "week": "2027-W14",
    "pipeline": "fraud-train",
    "feature_groups": ["fraud-transactions", "fraud-merchants", "fraud-devices"],
    "feature_groups_by_table": ["fraud-merchants"],
    "blocklist": "s3://fraud-ml-eu/policy/blocked-merchants-2027-04.csv",
    "model_package_group": "fraud-scorer",
    "mlflow_model": "fraud-scorer",
    "endpoint": "fraud-scoring-prod",
    "role_arn": "arn:aws:iam::210987654321:role/fraud-ml",
    "data_bucket": "fraud-ml-eu",
    "endpoint_instance_type": "ml.c5.large",
}


class TrainingPipelineOperator(SageMakerStartPipelineOperator):
    """The team's pipeline operator: the provider's, plus the lineage the team declares for it."""

    def __init__(self, *, feature_groups: list[str], feature_groups_by_table: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_groups = feature_groups
        self.feature_groups_by_table = feature_groups_by_table
        self.execution_arn: str | None = None

    def execute(self, context: Any) -> str:
        # Kept for the lineage below: the OpenLineage listener builds COMPLETE in a forked
        # process, where asking Airflow for XComs is not possible.
        self.execution_arn = super().execute(context)
        return self.execution_arn

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.openlineage.extractors.base import OperatorLineage
        from openlineage.client.event_v2 import InputDataset
        from openlineage.client.facet_v2 import external_query_run, symlinks_dataset

        sm = self.hook.conn
        inputs = []
        for group in self.feature_groups:
            described = sm.describe_feature_group(FeatureGroupName=group)
            _, _, _, region, account, _ = described["FeatureGroupArn"].split(":", 5)
            location = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
            bucket, _, prefix = location.removeprefix("s3://").partition("/")
            if group in self.feature_groups_by_table:
                catalog = described["OfflineStoreConfig"]["DataCatalogConfig"]
                link = symlinks_dataset.Identifier(namespace=f"s3://{bucket}", name=prefix, type="LOCATION")
                inputs.append(InputDataset(
                    namespace=f"arn:aws:glue:{region}:{account}",
                    name=f"table/{catalog['Database']}/{catalog['TableName']}",
                    facets={"symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=[link])},
                ))
            else:
                inputs.append(InputDataset(namespace=f"s3://{bucket}", name=prefix))
        facets = {"externalQuery": external_query_run.ExternalQueryRunFacet(
            externalQueryId=self.execution_arn, source="sagemaker-pipelines")} if self.execution_arn else {}
        return OperatorLineage(inputs=inputs, run_facets=facets)


def _mlflow() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


with DAG(
    dag_id="fraud_scoring_weekly",
    description="Weekly fraud model: curate, SageMaker Pipeline training, MLflow, approval, deploy",
    schedule="0 3 * * MON",
    start_date=datetime(2027, 1, 4),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args={"retries": 0},
    tags=["fraud", "ml"],
) as dag:
    curate = GlueJobOperator(
        task_id="curate_transactions",
        job_name="fraud-curate-transactions",
        script_location="s3://fraud-code-eu/glue/curate_transactions.py",
        s3_bucket="fraud-code-eu",
        iam_role_arn="{{ params.role_arn }}",
        create_job_kwargs={"GlueVersion": "4.0", "WorkerType": "G.1X", "NumberOfWorkers": 2,
                           "DefaultArguments": {"--source_database": "fraud_raw"}},
        script_args={
            "--source_table": "card_transactions",
            "--target_database": "fraud_curated",
            "--target_table": "transactions_daily",
            "--week": "{{ params.week }}",
        },
        wait_for_completion=True,
        verbose=False,
    )

    train = TrainingPipelineOperator(
        task_id="train_pipeline",
        pipeline_name="{{ params.pipeline }}",
        display_name="weekly-{{ params.week }}",
        pipeline_params={"Week": "{{ params.week }}"},
        feature_groups=PARAMS["feature_groups"],
        feature_groups_by_table=PARAMS["feature_groups_by_table"],
        wait_for_completion=True,
        check_interval=2,
        verbose=True,
    )

    @task(task_id="link_mlflow")
    def link_mlflow(execution_arn: str, params: dict[str, Any] | None = None) -> dict[str, str]:
        """Join the training job's MLflow run, the MLflow model version and the package."""
        assert params is not None
        sm = SageMakerHook(aws_conn_id="aws_default").conn
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=execution_arn)["PipelineExecutionSteps"]
        job_arn = next(s["Metadata"]["TrainingJob"]["Arn"] for s in steps if "TrainingJob" in s.get("Metadata", {}))
        package_arn = next(s["Metadata"]["RegisterModel"]["Arn"] for s in steps if "RegisterModel" in s.get("Metadata", {}))
        client = _mlflow()
        deadline = time.monotonic() + 120
        while True:  # the training script's run ends with the job; wait for it to land
            runs = client.search_runs(
                [e.experiment_id for e in client.search_experiments()],
                filter_string=f"tags.`sagemaker.training_job_arn` = '{job_arn}' and attributes.status = 'FINISHED'",
            )
            if runs or time.monotonic() > deadline:
                break
            time.sleep(1)
        if not runs:
            raise AirflowFailException(f"no MLflow run names training job {job_arn}")
        run = runs[0]
        model_id = run.data.tags.get("mlflow.loggedModelId") or run.outputs.model_outputs[0].model_id
        import mlflow

        version = mlflow.register_model(f"models:/{model_id}", params["mlflow_model"],
                                        tags={"sagemaker.model_package_arn": package_arn})
        client.update_model_version(params["mlflow_model"], version.version, description=f"SageMaker package {package_arn}")
        client.set_registered_model_alias(params["mlflow_model"], "challenger", version.version)
        sm.update_model_package(ModelPackageArn=package_arn, CustomerMetadataProperties={
            "mlflow.run_id": run.info.run_id,
            "mlflow.model_version": f"{params['mlflow_model']}/{version.version}",
        })
        return {"package_arn": package_arn, "mlflow_version": version.version, "run_id": run.info.run_id}

    linked = link_mlflow(train.output)

    @task.sensor(task_id="await_approval", poke_interval=2, timeout=timedelta(days=7).total_seconds(), mode="poke")
    def await_approval(link: dict[str, str]) -> PokeReturnValue:
        package = SageMakerHook(aws_conn_id="aws_default").conn.describe_model_package(ModelPackageName=link["package_arn"])
        status = package["ModelApprovalStatus"]
        if status == "Rejected":
            raise AirflowFailException(f"{link['package_arn']} was rejected")
        return PokeReturnValue(is_done=status == "Approved", xcom_value=link)

    approved = await_approval(linked)
    version = "{{ ti.xcom_pull(task_ids='link_mlflow')['package_arn'].rsplit('/', 1)[1] }}"
    package = "{{ ti.xcom_pull(task_ids='link_mlflow')['package_arn'] }}"

    model = SageMakerModelOperator(
        task_id="create_model",
        config={
            "ModelName": "{{ params.model_package_group }}-v" + version,
            "PrimaryContainer": {"ModelPackageName": package},
            "ExecutionRoleArn": "{{ params.role_arn }}",
        },
    )
    endpoint_config = SageMakerEndpointConfigOperator(
        task_id="create_endpoint_config",
        config={
            "EndpointConfigName": "{{ params.endpoint }}-v" + version,
            "ProductionVariants": [{
                "VariantName": "{{ params.model_package_group }}-v" + version,
                "ModelName": "{{ params.model_package_group }}-v" + version,
                "InitialInstanceCount": 1,
                "InstanceType": "{{ params.endpoint_instance_type }}",
            }],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://{{ params.data_bucket }}/datacapture/",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        },
    )
    deploy = SageMakerEndpointOperator(
        task_id="deploy",
        operation="create",
        wait_for_completion=True,
        check_interval=2,
        config={"EndpointName": "{{ params.endpoint }}", "EndpointConfigName": "{{ params.endpoint }}-v" + version},
    )

    @task(task_id="promote_in_mlflow")
    def promote_in_mlflow(link: dict[str, str], params: dict[str, Any] | None = None) -> None:
        assert params is not None
        _mlflow().set_registered_model_alias(params["mlflow_model"], "champion", link["mlflow_version"])

    curate >> train
    approved >> model >> endpoint_config >> deploy >> promote_in_mlflow(linked)
