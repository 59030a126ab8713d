"""DurableHttpConfig: precedence, key spellings, the OpenLineage factory and client, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.transport import get_default_factory

import crossline.emitters.transport  # noqa: F401  registers the kind
from crossline.emitters.transport import DurableHttpConfig, DurableHttpTransport
from crossline.emitters.transport.durable import (
    DEFAULT_HTTP_RETRY,
    DEFAULT_MAX_BYTES,
    DEFAULTS,
    configured_params,
    spool_from_config,
)
from crossline.errors import ConfigError

DOTTED = "crossline.emitters.transport.durable.DurableHttpTransport"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("CROSSLINE_SPOOL_DIR", "CROSSLINE_SPOOL_MAX_BYTES", "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("CROSSLINE_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # no openlineage.yml
    return home


def test_defaults(clean_env: Path) -> None:
    config = DurableHttpConfig.from_dict({"url": "http://marquez:5000"})
    assert config.spool_dir == clean_env / "spool"
    assert config.max_bytes == DEFAULT_MAX_BYTES
    assert config.fsync is True
    assert (config.max_attempts, config.setup_attempts) == (DEFAULTS["max_attempts"], DEFAULTS["setup_attempts"])
    assert config.shutdown_timeout <= 2.0  # the issue: bounded wait at shutdown, default <= 2 s
    assert (config.backoff_base, config.backoff_max, config.retry_after_max) == (1.0, 60.0, 300.0)
    assert config.http.url == "http://marquez:5000"
    assert config.http.retry["total"] == DEFAULT_HTTP_RETRY["total"]
    assert config.http.retry["status_forcelist"] == []


def test_precedence_explicit_key_then_crossline_env_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("CROSSLINE_SPOOL_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("CROSSLINE_SPOOL_MAX_BYTES", "5000")
    from_env = DurableHttpConfig.from_dict({"url": "http://m"})
    assert (from_env.spool_dir, from_env.max_bytes) == (tmp_path / "from-env", 5000)

    explicit = DurableHttpConfig.from_dict({"url": "http://m", "spool_dir": str(tmp_path / "mine"), "max_bytes": 7})
    assert (explicit.spool_dir, explicit.max_bytes) == (tmp_path / "mine", 7)


@pytest.mark.parametrize(
    "params",
    [
        {"spool_dir": "S", "max_bytes": 10, "max_attempts": 3, "backoff_base": 2, "shutdown_timeout": 1,
         "redact_keys": ["ssn"], "fsync": False},
        {"spoolDir": "S", "maxBytes": 10, "maxAttempts": 3, "backoffBase": 2, "shutdownTimeout": 1,
         "redactKeys": "ssn", "fsync": "false"},
        {"spooldir": "S", "maxbytes": "10", "maxattempts": "3", "backoffbase": "2", "shutdowntimeout": "1",
         "redactkeys": "ssn", "fsync": "0"},
    ],
    ids=["snake_case", "camelCase", "lowercased-env"],
)
def test_key_spellings(params: dict, tmp_path: Path) -> None:
    params = {**params, "url": "http://m"}
    params = {k: (str(tmp_path / v) if v == "S" else v) for k, v in params.items()}
    config = DurableHttpConfig.from_dict(params)
    assert config.spool_dir == tmp_path / "S"
    assert (config.max_bytes, config.max_attempts, config.backoff_base, config.shutdown_timeout, config.fsync) == (
        10, 3, 2.0, 1.0, False)
    assert config.redact_keys == ("ssn",)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "url"),
        ({"url": "http://m", "max_bytes": "lots"}, "max_bytes='lots' is not an integer"),
        ({"url": "http://m", "max_bytes": 0}, "max_bytes=0 must be positive"),
        ({"url": "http://m", "backoff_base": "soon"}, "backoff_base='soon' is not a number"),
        ({"url": "http://m", "shutdown_timeout": -1}, "shutdown_timeout=-1 must be a number of seconds"),
        ({"url": "http://m", "max_attempts": 0}, "max_attempts=0 must be positive"),
        ({"url": "http://m", "fsync": "maybe"}, "fsync='maybe' is not a boolean"),
        ({"url": "http://m", "compression": "zip"}, "zip"),
    ],
)
def test_malformed_config_is_a_config_error_naming_the_key(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DurableHttpConfig.from_dict(params)


def test_unusable_spool_folder_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create the lineage spool folder"):
        DurableHttpTransport(DurableHttpConfig.from_dict({"url": "http://m", "spool_dir": str(tmp_path / "file" / "s")}))


@pytest.mark.parametrize("kind", [DOTTED, DurableHttpTransport.kind])
def test_the_openlineage_factory_builds_it_by_dotted_path_or_kind(kind: str, tmp_path: Path) -> None:
    transport = get_default_factory().create({"type": kind, "url": "http://m", "spoolDir": str(tmp_path)})
    assert isinstance(transport, DurableHttpTransport)
    assert transport.spool.directory == tmp_path


def test_the_openlineage_client_builds_it_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", DOTTED)
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", "http://marquez:5000")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__SPOOL_DIR", str(tmp_path / "env-spool"))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__MAX_BYTES", "12345")
    transport = OpenLineageClient().transport
    assert isinstance(transport, DurableHttpTransport)
    assert transport.spool.directory == tmp_path / "env-spool"
    assert transport.config.max_bytes == 12345

    # The CLI reads the same configuration; --spool overrides it.
    assert spool_from_config().directory == tmp_path / "env-spool"
    assert spool_from_config(tmp_path / "other").directory == tmp_path / "other"


def test_the_commands_find_the_spool_airflow_tasks_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On a worker the transport is in Airflow's config, not in OpenLineage's own."""
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no openlineage.yml here
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(
        {"type": DOTTED, "url": "http://marquez:5000", "spool_dir": str(tmp_path / "worker-spool")}))
    assert spool_from_config().directory == tmp_path / "worker-spool"
    assert configured_params()["url"] == "http://marquez:5000"
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", "{not json")
    with pytest.raises(ConfigError, match="AIRFLOW__OPENLINEAGE__TRANSPORT"):
        spool_from_config()


def test_the_openlineage_client_builds_it_from_openlineage_yml(tmp_path: Path) -> None:
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: {DurableHttpTransport.kind}\n  url: http://marquez:5000\n"
        f"  spoolDir: {tmp_path / 'yml-spool'}\n  maxBytes: 999\n"
    )
    transport = OpenLineageClient().transport
    assert isinstance(transport, DurableHttpTransport)
    assert (transport.spool.directory, transport.config.max_bytes) == (tmp_path / "yml-spool", 999)


def test_credentials_in_the_url_become_basic_auth_and_never_show(tmp_path: Path) -> None:
    config = DurableHttpConfig.from_dict({"url": "http://ops:s3cr%40t@marquez:5000", "spool_dir": str(tmp_path)})
    assert config.http.url == "http://marquez:5000"
    assert config.basic_auth == ("ops", "s3cr@t")
    assert "s3cr" not in repr(config) and "s3cr" not in config.display_url
    transport = DurableHttpTransport(config)
    assert "s3cr" not in str(transport) and "ops" not in transport.url
