"""AWS access shared by the collectors: the config fields, the clients, and error text.

Contract:
- ``AwsConfig`` holds the fields every AWS reader and writer takes: ``region`` and
  ``profile`` (``None``: boto3's own configuration, ``AWS_DEFAULT_REGION``, the default
  profile), ``endpoint_url`` (e.g. the bed's moto server), and how calls are retried:
  ``max_attempts`` per call, ``retry_base`` and ``retry_cap`` (seconds) of the backoff,
  ``retry_budget`` (seconds of waiting in all). A source's config subclasses it (its own
  fields keyword-only) and calls ``check_aws`` from its ``from_dict``; ``unknown_keys``
  names keys a config does not know.
- ``Clients(config)`` makes one boto3 session and one client per service, on first use.
  Each client is retried by ``Clients.retry``, one ``Retry`` for all of them (see its
  docstring: botocore's conditions, full-jitter exponential backoff from 10 ms, a
  budget), in place of boto3's retry modes. A client that cannot be made is a
  ``ConfigError`` when no region is configured, else a ``SourceError``.
- ``error_text(err)`` is how a ``ClientError`` reads in a warning: ``Code: Message``;
  ``error_code(err)`` the code alone (``S3_GONE`` holds S3's "no such object" codes);
  ``gone(err)`` whether SageMaker says the entity does not exist (it was deleted
  between a list and a describe). ``unreachable(err, doing)`` is
  the ``SourceError`` for a ``BotoCoreError`` (no connection, no credentials): AWS could
  not be asked at all, which stops a read, where a ``ClientError`` about one entity is
  a warning.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import boto3
from botocore.config import Config as BotoConfig
from botocore.retries import standard
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from crossline.errors import ConfigError, SourceError

# Answers that mean "the entity is gone", not "we could not read it". SageMaker also
# says so in a ValidationException's message ("Could not find ...", "... does not exist").
SAGEMAKER_GONE = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
S3_GONE = frozenset({"NoSuchKey", "404", "NotFound"})
_GONE_TEXT = ("could not find", "does not exist")


@attrs.frozen
class AwsConfig:
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    max_attempts: int = 10
    retry_base: float = 0.01
    """Seconds: the first retry waits up to this, each next one up to twice as long (full jitter)."""
    retry_cap: float = 5.0
    """Seconds: no single wait between attempts is longer."""
    retry_budget: float = 300.0
    """Seconds of waiting between attempts, all calls of the clients together; then errors surface."""


class Retry:
    """crossline's retry of AWS calls: botocore's conditions, a short backoff, a budget.

    What is retried is what botocore's standard mode retries (``StandardRetryConditions``:
    throttling codes and 429, transient errors and 5xx, connection errors and timeouts),
    up to ``max_attempts`` attempts per call. The wait before attempt ``n + 1`` is full
    jitter, ``uniform(0, min(cap, base * 2 ** (n - 1)))``, raised to an
    ``x-amz-retry-after`` the service sends (within ``cap``). Waits add up against
    ``budget`` (seconds, for every call these clients make); once it is spent, an error
    is no longer retried but raised, and the reader warns and holds its watermark.

    Why not boto3's modes: standard mode waits on a 1 s base after a throttle, adaptive
    mode also lets its client-side token bucket fall to 0.5 requests/s; reading a world
    where 30 % of calls are throttled, they were tens and hundreds of times slower than unthrottled
    (``benchmarks/throttle.py``). Throttles that are random (a busy service) pass after one
    short wait; sustained ones (a rate limit) meet waits that double, up to ``cap``: ten
    attempts wait about 2.5 s in all, so a throttled reader slows to what the service
    allows. The base is small because a wait is paid in full by a serial reader: with
    10 ms the bed's 30 %-throttled read is under 3x slower, with botocore's non-throttling
    50 ms about 5x (the bed answers a call in about 6 ms; against AWS, where a call takes
    tens of milliseconds, the waits matter less still).
    ``throttled``, ``retries`` and ``slept`` count what happened, for reports.
    """

    def __init__(self, max_attempts: int, base: float, cap: float, budget: float,
                 rng: Callable[[], float] = random.random) -> None:
        self.max_attempts, self.base, self.cap, self.budget = max_attempts, base, cap, budget
        self._rng = rng
        self._adapter = standard.RetryEventAdapter()
        self._conditions = standard.StandardRetryConditions(max_attempts=max_attempts)
        self._throttling = standard.ThrottlingErrorDetector(self._adapter)
        self.retries = self.throttled = 0
        self.slept = 0.0

    def __call__(self, **kwargs: Any) -> float | None:
        """botocore's ``needs-retry`` handler: seconds to wait before the next attempt, or None."""
        context = self._adapter.create_retry_context(**kwargs)
        if not self._conditions.is_retryable(context):
            return None
        ceiling = min(self.cap, self.base * 2 ** (context.attempt_number - 1))
        delay = self._rng() * ceiling
        asked = (context.http_response.headers.get("x-amz-retry-after") if context.http_response is not None
                 else None)
        if asked is not None and str(asked).isdigit():
            delay = max(delay, min(int(asked) / 1000, self.cap))
        if self.slept + delay > self.budget:
            return None
        self.slept += delay
        self.retries += 1
        self.throttled += self._throttling.is_throttling_error_from_context(context)
        return delay


def unknown_keys(cls: type, config: Mapping[str, Any], who: str, hint: Iterable[str] | None = None) -> None:
    """``ConfigError`` naming the keys of ``config`` that ``cls`` (an attrs class) has no field for."""
    known = {a.name for a in attrs.fields(cls)}
    unknown = set(config) - known
    if unknown:
        shown = ", ".join(hint) if hint is not None else str(sorted(known))
        raise ConfigError(f"{who}: unknown keys {sorted(unknown)}; known: {shown}")


def check_aws(config: AwsConfig, who: str) -> None:
    if isinstance(config.max_attempts, bool) or not isinstance(config.max_attempts, int) or config.max_attempts < 1:
        raise ConfigError(f"{who}: max_attempts must be a positive integer, not {config.max_attempts!r}")
    for name in ("retry_base", "retry_cap", "retry_budget"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{who}: {name} must be a number of seconds >= 0, not {value!r}")


class Clients:
    """One boto3 session for ``config``, one client per service, made on first use, one ``Retry`` for all."""

    def __init__(self, config: AwsConfig) -> None:
        self.config = config
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self.retry = Retry(config.max_attempts, config.retry_base, config.retry_cap, config.retry_budget)

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            try:
                if self._session is None:
                    self._session = boto3.Session(profile_name=self.config.profile, region_name=self.config.region)
                # botocore itself makes one attempt; crossline's Retry decides on the others.
                client = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.config.endpoint_url,
                    config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}),
                )
                _install(client, self.retry)
                self._clients[service] = client
            except NoRegionError as err:
                raise ConfigError(f"no AWS region for the {service} client: give one (a source's 'region', "
                                  "--region), or set AWS_DEFAULT_REGION or a profile's region") from err
            except BotoCoreError as err:
                raise SourceError(f"cannot make an {service} client: {err}") from err
        return self._clients[service]


def _install(client: Any, retry: Retry) -> None:
    """``retry`` as the client's only ``needs-retry`` handler (botocore's, with one attempt, is removed)."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"needs-retry.{service}"
    client.meta.events.unregister(event, unique_id=f"retry-config-{service}")
    client.meta.events.register(event, retry, unique_id=f"crossline-retry-{service}")


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_text(err: ClientError) -> str:
    error = err.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', '')}"


def gone(err: ClientError) -> bool:
    """A SageMaker error saying the entity does not exist (deleted since it was listed)."""
    message = str(err.response.get("Error", {}).get("Message", "")).lower()
    return error_code(err) in SAGEMAKER_GONE or any(text in message for text in _GONE_TEXT)


def unreachable(err: BotoCoreError, doing: str, service: str = "SageMaker") -> SourceError:
    return SourceError(f"{service} unreachable {doing}: {err}")


__all__ = ["S3_GONE", "SAGEMAKER_GONE", "AwsConfig", "Clients", "Retry", "check_aws", "error_code", "error_text", "gone", "unknown_keys", "unreachable"]
