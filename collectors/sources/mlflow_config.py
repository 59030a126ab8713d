"""The mlflow source's config and the value helpers its records use.

Contract: ``MlflowConfig.from_dict`` takes ``tracking_uri`` (or ``url``: the server's
http(s) URL), ``experiments`` (names; default all), ``registry`` (read the model
registry; default true), ``page_size``, ``lookback_seconds``, ``max_retries`` and
``timeout`` (see ``mlflow_tracking``), refusing unknown keys and bad values with
``ConfigError``; ``server`` is the server as node ids name it. ``parse_watermark`` reads
the source's watermark (``{"runs": <epoch ms>}``; else ``SourceError``). The helpers turn
MLflow's values into the graph's: epoch milliseconds to stamps, a dataset source to the
URI it names, a model version to its logged model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs

from crossline.errors import ConfigError, SourceError
from crossline.times import from_millis, stamp


def _positive(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_: Any, __: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"mlflow source: {name} must be a non-negative integer, not {value!r}")
    return check


@attrs.frozen(kw_only=True)
class MlflowConfig:
    tracking_uri: str
    experiments: tuple[str, ...] | None = attrs.field(
        default=None, converter=lambda v: None if v is None else ((v,) if isinstance(v, str) else tuple(v)))
    registry: bool = True
    page_size: int = attrs.field(default=500, validator=_positive("page_size"))
    lookback_seconds: int = attrs.field(default=3600, validator=_positive("lookback_seconds"))
    max_retries: int = attrs.field(default=2, validator=_positive("max_retries"))
    timeout: int = attrs.field(default=30, validator=_positive("timeout"))

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> MlflowConfig:
        values = dict(config)
        if "url" in values:
            values.setdefault("tracking_uri", values.pop("url"))
        known = {a.name for a in attrs.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"mlflow source: unknown keys {sorted(unknown)}; known: {sorted(known | {'url'})}")
        uri = values.get("tracking_uri")
        if not isinstance(uri, str) or urlsplit(uri).scheme not in ("http", "https") or not urlsplit(uri).netloc:
            raise ConfigError(f"mlflow source: tracking_uri must be the server's http(s) URL, not {uri!r}")
        try:
            made = cls(**values)
        except TypeError as err:
            raise ConfigError(f"mlflow source: {err}") from err
        if made.page_size < 1:
            raise ConfigError("mlflow source: page_size must be at least 1")
        return made

    @property
    def server(self) -> str:
        """The server as ids name it: host[:port][/path]."""
        parts = urlsplit(self.tracking_uri)
        return f"{parts.netloc}{parts.path.rstrip('/')}"


def source_uri(source: Any) -> str | None:
    """The URI an MLflow dataset source names (its JSON ``uri``/``url``/``path``), or None."""
    if not isinstance(source, str):
        return None
    try:
        parsed = json.loads(source)
    except json.JSONDecodeError:
        return source if "://" in source else None
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path"):
            if isinstance(parsed.get(key), str) and "://" in parsed[key]:
                return str(parsed[key])
    return None


def logged_model_of(version: Any) -> str | None:
    model_id = getattr(version, "model_id", None)
    if model_id:
        return str(model_id)
    source = str(version.source or "")
    if source.startswith("models:/m-"):
        return source.removeprefix("models:/").split("/", 1)[0]
    return None


def millis(value: Any) -> str | None:
    return stamp(from_millis(value))


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def parse_watermark(since: str | None) -> int | None:
    if since is None:
        return None
    try:
        value = json.loads(since)["runs"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise SourceError(f"mlflow watermark is not {{\"runs\": <epoch ms>}}: {since!r}") from err
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"mlflow watermark is not {{\"runs\": <epoch ms>}}: {since!r}")
    return value


__all__ = ["MlflowConfig", "drop_none", "first_line", "logged_model_of", "millis", "parse_watermark", "source_uri"]
