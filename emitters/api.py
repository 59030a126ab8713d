"""Lineage for any Python job, outside Airflow: START, then COMPLETE or FAIL.

Contract:

- ``with lineage_run("credit.assemble", inputs=[...], outputs=[...]) as run:`` emits
  START on enter, COMPLETE on normal exit and FAIL, with the standard ``errorMessage``
  run facet (message, ``python``, stack trace), when the body raises; the body's
  exception always propagates unchanged. ``KeyboardInterrupt``/``SystemExit`` give ABORT.
  ``@lineage("credit.assemble", ...)`` is the same around a function.
- Secrets never leave the process: each event is redacted (``crossline.redact``: URI
  credentials, secret-named facet keys and arguments, tokens in messages and stack
  traces) before the client sees it, whatever transport it uses.
- Lineage never fails the job: building and emitting events is the fail-open boundary.
  Any error there (a URI with no naming rule, a transport that raises, a client that
  cannot be configured) is logged, counted in ``STATS`` and skipped; a dataset that
  cannot be named is left out of the event, the rest is still sent.
- Datasets are ``(namespace, name)`` pairs, OpenLineage ``InputDataset``/``OutputDataset``
  objects, or URIs/ARNs, which go through the one naming function
  ``crossline.emitters.naming.dataset_name``.
- Run ids: ``run_id_from(*keys)`` is deterministic. Without ``instant`` it is a UUIDv5 of
  the keys under crossline's namespace UUID: it depends on the keys only, so a retry of
  the same logical run gets the same id. With ``instant`` (e.g. the logical date) it is
  the OpenLineage client's ``generate_static_uuid`` (UUIDv7): time-ordered as the
  OpenLineage spec recommends, and the same scheme the Airflow provider uses. Without
  ``run_id`` a run gets a fresh UUIDv7.
- The client defaults to ``OpenLineageClient()``, configured the OpenLineage way
  (``openlineage.yml``, ``OPENLINEAGE__TRANSPORT__*``), e.g. with the durable transport
  ``crossline.emitters.transport.durable.DurableHttpTransport``; one client per process.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, Union

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run
from openlineage.client.uuid import generate_new_uuid, generate_static_uuid

from crossline.emitters.naming import dataset_name
from crossline.emitters.producer import PRODUCER
from crossline.errors import CrosslineError
from crossline.redact import redact_event
from crossline.times import now, stamp

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient
    from openlineage.client.facet_v2 import JobFacet, RunFacet

log = logging.getLogger(__name__)


RUN_ID_NAMESPACE = uuid.UUID("6f0c2a8e-3b1d-5c47-9a5e-2d4f8b1c7e90")
"""The uuid5 namespace of ``run_id_from``; fixed forever, or ids change."""

DatasetLike = Union[tuple[str, str], InputDataset, OutputDataset, str]
_F = TypeVar("_F", bound=Callable[..., Any])


@attr.define
class ApiStats:
    """What the fail-open boundary swallowed, per process."""

    emitted: int = 0
    errors: int = 0


STATS = ApiStats()


def run_id_from(*keys: object, instant: datetime | None = None) -> str:
    """A run id that is the same whenever the keys (and ``instant``) are."""
    if not keys:
        raise ValueError("run_id_from needs at least one key")
    # A datetime key is spelled as given (naive stays naive): ids made before must not change.
    data = json.dumps([k.isoformat() if isinstance(k, datetime) else str(k) for k in keys])
    if instant is not None:
        return str(generate_static_uuid(instant, data.encode("utf-8")))
    return str(uuid.uuid5(RUN_ID_NAMESPACE, data))


class LineageRun:
    """One run of a job; collects datasets and facets until the run ends."""

    def __init__(
        self,
        job_name: str,
        namespace: str,
        run_id: str,
        inputs: list[InputDataset],
        outputs: list[OutputDataset],
        run_facets: dict[str, RunFacet],
        job_facets: dict[str, JobFacet],
        producer: str,
    ) -> None:
        self.job_name = job_name
        self.namespace = namespace
        self.run_id = run_id
        self.inputs = inputs
        self.outputs = outputs
        self.run_facets = run_facets
        self.job_facets = job_facets
        self.producer = producer

    def add_input(self, dataset: DatasetLike) -> None:
        """Record one more input; reported on COMPLETE/FAIL. A bad one is logged, never raised."""
        ds = _guard(lambda: _as_input(dataset), f"input {dataset!r}")
        if ds is not None:
            self.inputs.append(ds)

    def add_output(self, dataset: DatasetLike) -> None:
        """Record one more output; reported on COMPLETE/FAIL. A bad one is logged, never raised."""
        ds = _guard(lambda: _as_output(dataset), f"output {dataset!r}")
        if ds is not None:
            self.outputs.append(ds)

    def add_run_facet(self, name: str, facet: RunFacet) -> None:
        self.run_facets[name] = facet

    def add_job_facet(self, name: str, facet: JobFacet) -> None:
        self.job_facets[name] = facet

    def event(self, state: RunState, extra_run_facets: Mapping[str, RunFacet] | None = None) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=stamp(now()),
            run=Run(runId=self.run_id, facets={**self.run_facets, **(extra_run_facets or {})}),
            job=Job(namespace=self.namespace, name=self.job_name, facets=dict(self.job_facets)),
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            producer=self.producer,
        )


@contextmanager
def lineage_run(
    job_name: str,
    *,
    inputs: Iterable[DatasetLike] = (),
    outputs: Iterable[DatasetLike] = (),
    run_facets: Mapping[str, RunFacet] | None = None,
    job_facets: Mapping[str, JobFacet] | None = None,
    client: OpenLineageClient | None = None,
    namespace: str | None = None,
    run_id: str | None = None,
    producer: str = PRODUCER,
) -> Iterator[LineageRun]:
    """Emit START now, COMPLETE or FAIL when the block ends; see the module docstring.

    ``namespace`` defaults to ``OPENLINEAGE_NAMESPACE``, else ``default`` (the
    OpenLineage integrations' convention).
    """
    run = LineageRun(
        job_name=job_name,
        namespace=namespace or os.environ.get("OPENLINEAGE_NAMESPACE") or "default",
        run_id=run_id or str(generate_new_uuid()),
        inputs=[ds for ds in (_guard(lambda d=d: _as_input(d), f"input {d!r}") for d in inputs) if ds is not None],
        outputs=[ds for ds in (_guard(lambda d=d: _as_output(d), f"output {d!r}") for d in outputs) if ds is not None],
        run_facets=dict(run_facets or {}),
        job_facets=dict(job_facets or {}),
        producer=producer,
    )
    _emit(client, lambda: run.event(RunState.START))
    try:
        yield run
    except Exception as exc:
        _emit(client, lambda: run.event(RunState.FAIL, {"errorMessage": _error_facet(exc, producer)}))
        raise
    except BaseException:
        _emit(client, lambda: run.event(RunState.ABORT))
        raise
    _emit(client, lambda: run.event(RunState.COMPLETE))


def lineage(
    job_name: str | None = None,
    *,
    inputs: Iterable[DatasetLike] = (),
    outputs: Iterable[DatasetLike] = (),
    **options: Any,
) -> Callable[[_F], _F]:
    """Decorator: each call of the function is one run (``lineage_run`` around it).

    ``job_name`` defaults to the function's ``module.qualname``; other keyword options
    are those of ``lineage_run``.
    """
    inputs, outputs = tuple(inputs), tuple(outputs)

    def decorate(func: _F) -> _F:
        name = job_name or f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lineage_run(name, inputs=inputs, outputs=outputs, **options):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# -- the boundary -------------------------------------------------------------------------
def _guard(build: Callable[[], Any], what: str) -> Any:
    try:
        return build()
    except CrosslineError as err:  # a dataset crossline cannot name: say which, briefly
        STATS.errors += 1
        log.error("crossline lineage: leaving %s out of the event: %s", what, err)
        return None
    except Exception:  # the boundary: a bad dataset must not fail the job
        STATS.errors += 1
        log.exception("crossline lineage: leaving %s out of the event", what)
        return None


def _emit(client: OpenLineageClient | None, build: Callable[[], RunEvent]) -> None:
    try:
        (client or _default_client()).emit(redact_event(build()))
        STATS.emitted += 1
    except Exception:  # the boundary: lineage never fails the job
        STATS.errors += 1
        log.exception("crossline lineage: could not emit an OpenLineage event")


_clients: dict[int, OpenLineageClient] = {}
_clients_lock = threading.Lock()


def _default_client() -> OpenLineageClient:
    # One per process: a forked child must not share its parent's HTTP connections.
    pid = os.getpid()
    with _clients_lock:
        client = _clients.get(pid)
        if client is None:
            import crossline.emitters.transport  # noqa: F401  registers crossline_durable_http
            from openlineage.client import OpenLineageClient

            client = _clients[pid] = OpenLineageClient()
        return client


# -- datasets and facets ------------------------------------------------------------------
def _name_of(dataset: DatasetLike) -> tuple[str, str]:
    if isinstance(dataset, str):
        return tuple(dataset_name(dataset))  # type: ignore[return-value]
    if isinstance(dataset, tuple) and len(dataset) == 2 and all(isinstance(p, str) for p in dataset):
        return dataset[0], dataset[1]
    raise TypeError(
        f"a dataset is a (namespace, name) pair, an InputDataset/OutputDataset or a URI, not {dataset!r}"
    )


def _as_input(dataset: DatasetLike) -> InputDataset:
    if isinstance(dataset, InputDataset):
        return dataset
    if isinstance(dataset, OutputDataset):
        return InputDataset(namespace=dataset.namespace, name=dataset.name, facets=dataset.facets)
    namespace, name = _name_of(dataset)
    return InputDataset(namespace=namespace, name=name)


def _as_output(dataset: DatasetLike) -> OutputDataset:
    if isinstance(dataset, OutputDataset):
        return dataset
    if isinstance(dataset, InputDataset):
        return OutputDataset(namespace=dataset.namespace, name=dataset.name, facets=dataset.facets)
    namespace, name = _name_of(dataset)
    return OutputDataset(namespace=namespace, name=name)


def _error_facet(exc: BaseException, producer: str) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(
        message=f"{type(exc).__name__}: {exc}",
        programmingLanguage="python",
        stackTrace="".join(traceback.format_exception(exc)),
        producer=producer,
    )
