"""An Airflow listener for the bed: no hook lineage leaks from one task into the next.

Contract: when a task instance starts running, the process-wide cached hook-lineage
collector is cleared. Under dag.test() every task runs in one process lineage, so
without this the S3 hook lineage of task A shows up in task B's events. Clearing on
*running* (and not on success) keeps the current task's lineage intact until the
OpenLineage listener has read it at completion.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl


def _clear() -> None:
    from airflow.sdk.lineage import get_hook_lineage_collector

    get_hook_lineage_collector.cache_clear()


# tryfirst: the OpenLineage listener builds the START event in the same hook call,
# so the cache must be empty before it looks.
@hookimpl(tryfirst=True)
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _clear()
