"""Two S3 tasks for the bed's Airflow test: write an object, then copy it.

Both tasks go through ``S3Hook``, so their lineage is hook lineage, which the
OpenLineage provider collects in a process-wide collector: the case where, under
dag.test(), the first task's output would leak into the second task's events unless
the bed resets the collector. The bucket comes from the DAG params.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def write_raw(bucket: str) -> None:
    S3Hook().load_string("id,balance\n1,100\n", key="raw/accounts.csv", bucket_name=bucket, replace=True)


def copy_clean(bucket: str) -> None:
    S3Hook().copy_object(
        source_bucket_key="raw/accounts.csv",
        dest_bucket_key="clean/accounts.csv",
        source_bucket_name=bucket,
        dest_bucket_name=bucket,
    )


with DAG(
    dag_id="bed_two_task_s3",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"bucket": "bed-raw"},
) as dag:
    first = PythonOperator(task_id="write_raw", python_callable=write_raw, op_args=["{{ params.bucket }}"])
    second = PythonOperator(task_id="copy_clean", python_callable=copy_clean, op_args=["{{ params.bucket }}"])
    first >> second
