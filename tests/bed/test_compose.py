"""docker-compose.yml is the Docker user's bed: same services, ports and config as the launchers.

No Docker engine runs where the tests run, so the file is checked two ways: parsed here
and compared with what ``crossline-bed marquez up`` and ``crossline-bed aws`` use, and
resolved by ``docker-compose config`` (Compose's own parser and validator, which needs no
engine) with the ``CROSSLINE_*`` port variables unset and set. The bootstrap installs
Debian's ``docker-compose`` for the tests; where neither ``docker compose`` nor
``docker-compose`` is installed that test fails, it does not skip.
"""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from crossline_bed import config
from crossline_bed.marquez import render_config

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _with_defaults(text: str) -> str:
    """What Compose would interpolate with none of the variables set."""
    return _VAR.sub(lambda m: m.group(2) or "", text)


def _host_ports(service: dict) -> dict[int, int]:
    mapping = {}
    for entry in service["ports"]:
        host_ip, host_port, container_port = _with_defaults(entry).split(":")
        assert host_ip == "127.0.0.1", f"{entry} must bind loopback only"
        mapping[int(container_port)] = int(host_port)
    return mapping


def test_services_and_versions() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "marquez", "marquez-web", "moto"}
    assert services["marquez"]["image"] == f"marquezproject/marquez:{config.MARQUEZ_VERSION}"
    assert services["marquez-web"]["image"] == f"marquezproject/marquez-web:{config.MARQUEZ_VERSION}"
    assert services["postgres"]["image"] == "postgres:14"


def test_ports_are_the_launchers_variables_and_defaults() -> None:
    services = _compose()["services"]
    defaults = config.DEFAULT_PORTS
    assert _host_ports(services["postgres"]) == {5432: defaults["CROSSLINE_PG_PORT"]}
    assert _host_ports(services["marquez"]) == {
        5000: defaults["CROSSLINE_MARQUEZ_PORT"],
        5001: defaults["CROSSLINE_MARQUEZ_ADMIN_PORT"],
    }
    assert _host_ports(services["marquez-web"]) == {3000: defaults["CROSSLINE_MARQUEZ_WEB_PORT"]}
    assert _host_ports(services["moto"]) == {5000: defaults["CROSSLINE_MOTO_PORT"]}
    used = set(_VAR.findall((ROOT / "docker-compose.yml").read_text()))
    assert {name for name, _ in used} == set(defaults), "every port variable, and only those"
    assert all(default == str(defaults[name]) for name, default in used)


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _compose()["services"]
    for name in ("postgres", "marquez", "moto"):
        assert services[name]["healthcheck"]["test"], name
    assert services["marquez-web"]["depends_on"]["marquez"]["condition"] == "service_healthy"


def test_no_dead_variables() -> None:
    """Every environment variable a service gets is read by its image or our config."""
    services = _compose()["services"]
    assert set(services["marquez"]["environment"]) == {"MARQUEZ_CONFIG"}
    assert set(services["postgres"]["environment"]) == {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_HOST_AUTH_METHOD"}
    assert set(services["marquez-web"]["environment"]) == {"MARQUEZ_HOST", "MARQUEZ_PORT", "WEB_PORT"}


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


def test_moto_service_installs_the_bed_with_the_pins_and_runs_the_emulator() -> None:
    command = " ".join(_compose()["services"]["moto"]["command"])
    assert "-c /src/constraints.txt" in command
    assert "crossline-bed aws" in command


def _compose_config(env: dict[str, str]) -> dict:
    if shutil.which("docker-compose"):
        argv = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"]
    else:
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True) if shutil.which("docker") else None
        assert plugin is not None and plugin.returncode == 0, (
            "neither docker-compose nor the docker compose plugin is installed; "
            "scripts/bootstrap test installs Debian's docker-compose")
        argv = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config"]
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("CROSSLINE_")}
    proc = subprocess.run(argv, capture_output=True, text=True, env={**clean, **env}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def _published(service: dict) -> set[tuple[str, int]]:
    found = set()
    for port in service["ports"]:
        if isinstance(port, dict):  # the long form, as compose v2 prints it
            found.add((port.get("host_ip", ""), int(port["published"])))
        else:
            host_ip, published, _ = str(port).split(":")
            found.add((host_ip, int(published)))
    return found


def test_compose_resolves_the_file_with_defaults_and_with_our_variables() -> None:
    default = _compose_config({})["services"]
    assert _published(default["marquez"]) == {("127.0.0.1", 15000), ("127.0.0.1", 15001)}
    moved = _compose_config({"CROSSLINE_PG_PORT": "25432", "CROSSLINE_MARQUEZ_PORT": "25000",
                             "CROSSLINE_MARQUEZ_ADMIN_PORT": "25001", "CROSSLINE_MARQUEZ_WEB_PORT": "23000",
                             "CROSSLINE_MOTO_PORT": "25050"})["services"]
    assert _published(moved["postgres"]) == {("127.0.0.1", 25432)}
    assert _published(moved["marquez"]) == {("127.0.0.1", 25000), ("127.0.0.1", 25001)}
    assert _published(moved["marquez-web"]) == {("127.0.0.1", 23000)}
    assert _published(moved["moto"]) == {("127.0.0.1", 25050)}
