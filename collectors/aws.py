"""AWS access shared by the collectors: the config fields, the clients, and error text.

Contract:
- ``AwsConfig`` holds the fields every AWS reader and writer takes: ``region`` and
  ``profile`` (``None``: boto3's own configuration, ``AWS_DEFAULT_REGION``, the default
  profile), ``endpoint_url`` (e.g. the bed's moto server) and ``max_attempts``. A source's
  config subclasses it (its own fields keyword-only) and calls ``check_aws`` from its
  ``from_dict``; ``unknown_keys`` names keys a config does not know.
- ``Clients(config)`` makes one boto3 session and one client per service, on first use,
  with boto3's adaptive retry mode (it absorbs throttling) and ``max_attempts``. A
  client that cannot be made is a ``ConfigError`` when no region is configured, else a
  ``SourceError``.
- ``error_text(err)`` is how a ``ClientError`` reads in a warning: ``Code: Message``;
  ``error_code(err)`` the code alone (``S3_GONE`` holds S3's "no such object" codes);
  ``gone(err)`` whether SageMaker says the entity does not exist (it was deleted
  between a list and a describe). ``unreachable(err, doing)`` is
  the ``SourceError`` for a ``BotoCoreError`` (no connection, no credentials): AWS could
  not be asked at all, which stops a read, where a ``ClientError`` about one entity is
  a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import boto3
from botocore.config import Config as BotoConfig
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


class Clients:
    """One boto3 session for ``config``, one client per service, made on first use."""

    def __init__(self, config: AwsConfig) -> None:
        self.config = config
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            try:
                if self._session is None:
                    self._session = boto3.Session(profile_name=self.config.profile, region_name=self.config.region)
                self._clients[service] = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.config.endpoint_url,
                    config=BotoConfig(retries={"mode": "adaptive", "max_attempts": self.config.max_attempts}),
                )
            except NoRegionError as err:
                raise ConfigError(f"no AWS region for the {service} client: give one (a source's 'region', "
                                  "--region), or set AWS_DEFAULT_REGION or a profile's region") from err
            except BotoCoreError as err:
                raise SourceError(f"cannot make an {service} client: {err}") from err
        return self._clients[service]


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


__all__ = ["S3_GONE", "SAGEMAKER_GONE", "AwsConfig", "Clients", "check_aws", "error_code", "error_text", "gone", "unknown_keys", "unreachable"]
