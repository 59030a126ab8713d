"""Faults injected into the bed's AWS: Glue job runs that fail, and throttled API calls.

Contract: ``inject_glue_failure(job, error)`` makes the next run of Glue job ``job`` fail
with ``error``; injecting twice fails the next two runs. ``clear()`` drops every fault:
the Glue failures not yet used and the throttles. The job runner (``crossline_bed.job_runner``) asks ``take_glue_failure``
when a run starts; for a fault it calls ``fail_glue_run`` and writes no output, as a
failed job would leave none. A failed run goes through moto's own state manager
(``glue::job_run``: STARTING, RUNNING, then FAILED where moto would say SUCCEEDED), so
GetJobRun shows ``JobRunState: FAILED`` and the ``ErrorMessage``, and Airflow's
``GlueJobOperator`` (``wait_for_completion=True``) fails the task. ``install()`` adds
the ErrorMessage to moto's job-run output; moto has no field for it.

``throttle(service, operations, rate, seed)`` throttles calls to ``service`` (its SigV4
signing name: ``sagemaker``, ``s3``...) whose operation is listed (``*`` for all) at
``rate``, a fraction in [0, 1]: each such call draws from a random generator seeded with
``seed``, so one sequence of calls is throttled the same way every time. A new throttle
for a service replaces the old one and its counts. ``take_throttle(service, operation)``
is asked once per AWS call (``crossline_bed.bed_admin``) and says whether to answer it
as throttled; ``throttles()`` lists each throttle with ``calls`` (matching calls seen)
and ``throttled`` (answered as throttled); ``clear_throttles()`` drops them.

State lives in the moto server process, shared by its threads; ``/moto-api/reset``
clears it (see ``crossline_bed.bed_admin``).
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossline_bed.moto_ext import wrap_after

if TYPE_CHECKING:
    from moto.glue.models import FakeJobRun

_MARK = "_crossline_faults"
_ERROR = "_crossline_error_message"

_lock = threading.Lock()
_glue: defaultdict[str, deque[str]] = defaultdict(deque)


def inject_glue_failure(job_name: str, error: str) -> None:
    with _lock:
        _glue[job_name].append(error)


def take_glue_failure(job_name: str) -> str | None:
    """The error the run starting now must fail with, if a fault waits for this job."""
    with _lock:
        waiting = _glue.get(job_name)
        if not waiting:
            return None
        error = waiting.popleft()
        if not waiting:
            del _glue[job_name]
        return error


def pending() -> dict[str, list[str]]:
    """The faults not yet used, job name -> errors in the order they will be used."""
    with _lock:
        return {job: list(errors) for job, errors in _glue.items()}


def clear() -> None:
    with _lock:
        _glue.clear()
        _throttles.clear()


# ---- throttling -----------------------------------------------------------------------
@dataclass
class _Throttle:
    service: str
    operations: tuple[str, ...]
    rate: float
    seed: int
    calls: int = 0
    throttled: int = 0
    draws: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.draws = random.Random(self.seed)

    def state(self) -> dict[str, Any]:
        return {"service": self.service, "operations": list(self.operations), "rate": self.rate, "seed": self.seed,
                "calls": self.calls, "throttled": self.throttled}


_throttles: dict[str, _Throttle] = {}


def throttle(service: str, operations: list[str] | tuple[str, ...], rate: float, seed: int = 0) -> None:
    with _lock:
        _throttles[service] = _Throttle(service, tuple(operations), float(rate), seed)


def throttling() -> bool:
    """Whether any throttle is set (so a call need not be identified when none is)."""
    return bool(_throttles)


def take_throttle(service: str, operation: str | None) -> bool:
    with _lock:
        rule = _throttles.get(service)
        if rule is None or not ("*" in rule.operations or operation in rule.operations):
            return False
        rule.calls += 1
        hit = rule.draws.random() < rule.rate
        rule.throttled += hit
        return hit


def throttles() -> list[dict[str, Any]]:
    with _lock:
        return [rule.state() for _, rule in sorted(_throttles.items())]


def clear_throttles() -> None:
    with _lock:
        _throttles.clear()


def fail_glue_run(run: FakeJobRun, error: str) -> None:
    """Make moto's run end FAILED with ``error``, through the same state progression."""
    run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]
    setattr(run, _ERROR, error)


def _with_error_message(run: Any, result: dict[str, Any], _: dict[str, Any]) -> None:
    error = getattr(run, _ERROR, None)
    # AWS shows ErrorMessage once the run has failed, not while it is still running.
    if error is not None and result.get("JobRunState") == "FAILED":
        result["ErrorMessage"] = error


def install() -> None:
    """Teach moto's Glue job runs to report an ErrorMessage; calling it again changes nothing."""
    from moto.glue.models import FakeJobRun

    wrap_after(FakeJobRun, "as_dict", _with_error_message, _MARK)
