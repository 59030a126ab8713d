"""docker-compose.yml is the Docker user's bed: same services, ports and config as the launcher.

No Docker engine runs where the tests run, so this parses the file and compares it with
what ``crossline-bed marquez up`` and ``crossline-bed aws`` use.
"""

from pathlib import Path

import yaml

from crossline_bed import config
from crossline_bed.marquez import render_config

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _host_ports(service: dict) -> dict[int, int]:
    mapping = {}
    for entry in service["ports"]:
        host_ip, host_port, container_port = entry.split(":")
        assert host_ip == "127.0.0.1", f"{entry} must bind loopback only"
        mapping[int(container_port)] = int(host_port)
    return mapping


def test_services_and_versions() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "marquez", "marquez-web", "moto"}
    assert services["marquez"]["image"] == f"marquezproject/marquez:{config.MARQUEZ_VERSION}"
    assert services["marquez-web"]["image"] == f"marquezproject/marquez-web:{config.MARQUEZ_VERSION}"
    assert services["postgres"]["image"] == "postgres:14"


def test_ports_match_the_launcher_defaults() -> None:
    services = _compose()["services"]
    defaults = config.DEFAULT_PORTS
    assert _host_ports(services["postgres"]) == {5432: defaults["CROSSLINE_PG_PORT"]}
    assert _host_ports(services["marquez"]) == {
        5000: defaults["CROSSLINE_MARQUEZ_PORT"],
        5001: defaults["CROSSLINE_MARQUEZ_ADMIN_PORT"],
    }
    assert _host_ports(services["marquez-web"]) == {3000: defaults["CROSSLINE_MARQUEZ_WEB_PORT"]}
    assert _host_ports(services["moto"]) == {5000: defaults["CROSSLINE_MOTO_PORT"]}


def test_marquez_config_is_the_launchers_config() -> None:
    marquez = _compose()["services"]["marquez"]
    mount = next(v for v in marquez["volumes"] if v.endswith(marquez["environment"]["MARQUEZ_CONFIG"] + ":ro"))
    committed = (ROOT / mount.split(":")[0]).read_text()
    expected = render_config(bind_host="0.0.0.0", port=5000, admin_port=5001, db_host="postgres", db_port=5432)
    assert committed == expected
    parsed = yaml.safe_load(committed)
    assert parsed["search"] == {"enabled": False}
    assert parsed["migrateOnStartup"] is True
    assert "${" not in committed


def test_moto_service_runs_crosslines_emulator() -> None:
    command = " ".join(_compose()["services"]["moto"]["command"])
    assert "crossline-bed aws" in command
