"""``crossline-bed marquez up|down|status``: a Marquez backend on loopback, without Docker.

Contract: ``MarquezBed.up()`` leaves a Marquez API answering on
127.0.0.1:``CROSSLINE_MARQUEZ_PORT`` (admin and ``/healthcheck`` on
``CROSSLINE_MARQUEZ_ADMIN_PORT``) backed by the bed's PostgreSQL, and records what it
started in a state file; ``down()`` stops it and the PostgreSQL cluster so that no
process of ours is left; ``status()`` reports both. ``up()`` is idempotent: if our
Marquez already answers it returns at once.

Two implementations, chosen by ``impl``:

- ``real``: Marquez 0.50.0 itself. Maven resolves ``io.github.marquezproject:marquez-api``
  and its runtime dependencies into a cache outside the repository (``$CROSSLINE_HOME``),
  or ``CROSSLINE_MARQUEZ_JARS`` names a folder that already holds them. We write our own
  config (loopback ports, OpenSearch off, no ``${VAR}`` without default) and start
  ``java -Duser.timezone=UTC -cp <jars> marquez.MarquezApp server marquez.yml``.
- ``standin``: crossline's Marquez API stand-in (``crossline_bed.marquez_standin``),
  which serves the subset of Marquez 0.50's API that crossline uses, on the same
  PostgreSQL. It exists because the Maven repository reachable on our build machines
  does not serve marquez-api (HTTP 404 for every version) and no Docker engine runs
  there. It is a stand-in, and everything that uses it says so.
- ``auto`` (the default): ``real`` when the jars can be had, else ``standin`` with a
  warning that says why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from crossline_bed import config
from crossline_bed.postgres import Postgres
from crossline_bed.process import (
    LOOPBACK,
    log_tail,
    pid_alive,
    require_free_port,
    stop_process_group,
    wait_http,
)
from crossline_bed.errors import BedConfigError, BedError

IMPLS = ("auto", "real", "standin")
MAVEN_COORDS = ("io.github.marquezproject", "marquez-api")

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.crossline</groupId>
  <artifactId>marquez-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{group}</groupId>
      <artifactId>{artifact}</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""

CONFIG = """# Written by crossline (crossline_bed.marquez.render_config); do not edit by hand.
server:
  applicationConnectors:
  - type: http
    bindHost: {bind_host}
    port: {port}
    httpCompliance: RFC7230_LEGACY
  adminConnectors:
  - type: http
    bindHost: {bind_host}
    port: {admin_port}
db:
  driverClass: org.postgresql.Driver
  url: jdbc:postgresql://{db_host}:{db_port}/marquez
  user: marquez
  password: {db_password}
migrateOnStartup: true
graphql:
  enabled: true
search:
  enabled: false
logging:
  level: INFO
  appenders:
  - type: console
"""


def render_config(*, bind_host: str, port: int, admin_port: int, db_host: str, db_port: int,
                  db_password: str = "") -> str:
    """Marquez's config, shared by the launcher and docker/marquez.yml (which has no password)."""
    return CONFIG.format(bind_host=bind_host, port=port, admin_port=admin_port, db_host=db_host, db_port=db_port,
                         db_password=json.dumps(db_password))


@dataclass
class MarquezState:
    impl: str
    pid: int
    url: str
    admin_url: str
    log: str
    reason: str = ""


class MarquezBed:
    def __init__(self, impl: str = "auto", version: str = config.MARQUEZ_VERSION) -> None:
        if impl not in IMPLS:
            raise BedConfigError(f"unknown Marquez implementation {impl!r}; choose one of {', '.join(IMPLS)}")
        self.impl = impl
        self.version = version
        self.port = config.port("CROSSLINE_MARQUEZ_PORT")
        self.admin_port = config.port("CROSSLINE_MARQUEZ_ADMIN_PORT")
        self.postgres = Postgres.default()
        self.root = config.home() / "marquez"
        self.root.mkdir(parents=True, exist_ok=True)
        self.jar_root = config.cache() / "marquez"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    @property
    def state_file(self) -> Path:
        return self.root / f"state-{self.port}.json"

    # -- jars -----------------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        override = os.environ.get("CROSSLINE_MARQUEZ_JARS")
        return Path(override) if override else self.jar_root / self.version / "lib"

    def resolve_jars(self) -> Path:
        """Marquez's jars, from the cache or resolved by Maven into it."""
        lib = self.lib_dir
        marker = lib / ".complete"
        if marker.exists() or (os.environ.get("CROSSLINE_MARQUEZ_JARS") and any(lib.glob("marquez-api-*.jar"))):
            return lib
        if os.environ.get("CROSSLINE_MARQUEZ_JARS"):
            raise BedError(f"CROSSLINE_MARQUEZ_JARS={lib} holds no marquez-api-*.jar")
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BedError("Maven (mvn) is not installed; it resolves Marquez's jars (Debian package 'maven')")
        work = self.jar_root / self.version
        work.mkdir(parents=True, exist_ok=True)
        group, artifact = MAVEN_COORDS
        (work / "pom.xml").write_text(POM.format(group=group, artifact=artifact, version=self.version))
        staging = work / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        proc = subprocess.run(
            [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            plain = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
            errors = [line.strip() for line in plain.splitlines() if "[ERROR]" in line][:1]
            raise BedError(
                f"Maven could not resolve {group}:{artifact}:{self.version}: "
                + (" ".join(errors) or proc.stderr.strip()[-500:])
            )
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        marker.write_text(self.version)
        return lib

    # -- lifecycle ------------------------------------------------------------------
    def read_state(self) -> MarquezState | None:
        if not self.state_file.exists():
            return None
        return MarquezState(**json.loads(self.state_file.read_text()))

    def running(self) -> MarquezState | None:
        state = self.read_state()
        if state is None or not pid_alive(state.pid):
            return None
        try:
            ok = requests.get(f"{state.admin_url}/healthcheck", timeout=2).status_code < 500
        except requests.RequestException:
            ok = False
        return state if ok else None

    def up(self, timeout: float = 180.0) -> MarquezState:
        state = self.running()
        if state is not None:
            return state
        if self.read_state() is not None:
            self._stop_recorded()
        impl, reason, lib = self._choose()
        require_free_port(self.port, "Marquez", "CROSSLINE_MARQUEZ_PORT")
        require_free_port(self.admin_port, "Marquez's admin connector", "CROSSLINE_MARQUEZ_ADMIN_PORT")
        self.postgres.up()
        dsn = self.postgres.ensure_database("marquez")
        log = self.root / f"marquez-{self.port}.log"
        if impl == "real":
            assert lib is not None
            pid = self._start_real(lib, log)
        else:
            pid = self._start_standin(dsn, log, timeout)
        state = MarquezState(impl=impl, pid=pid, url=self.url, admin_url=self.admin_url, log=str(log), reason=reason)
        self.state_file.write_text(json.dumps(asdict(state)))
        try:
            wait_http(f"{self.admin_url}/healthcheck", what=f"Marquez ({impl})", timeout=timeout, pid=pid, log=log)
        except BedError:
            self._stop_recorded()
            raise
        return state

    def _choose(self) -> tuple[str, str, Path | None]:
        if self.impl == "standin":
            return "standin", "asked for the stand-in", None
        try:
            return "real", "", self.resolve_jars()
        except BedError as err:
            if self.impl == "real":
                raise
            return "standin", f"real Marquez {self.version} unavailable: {err}", None

    def _start_real(self, lib: Path, log: Path) -> int:
        java = shutil.which("java")
        if java is None:
            raise BedError("Java 17 is not installed; Marquez needs it (Debian package 'openjdk-17-jre-headless')")
        cfg = self.root / f"marquez-{self.port}.yml"
        # The file holds the marquez role's password: only the bed's user may read it.
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(render_config(
                bind_host=LOOPBACK, port=self.port, admin_port=self.admin_port,
                db_host=LOOPBACK, db_port=self.postgres.port, db_password=self.postgres.password("marquez") or "",
            ))
        with log.open("w") as out:
            proc = subprocess.Popen(
                [java, "-Duser.timezone=UTC", "-cp", f"{lib}/*", "marquez.MarquezApp", "server", str(cfg)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return proc.pid

    def _start_standin(self, dsn: str, log: Path, timeout: float) -> int:
        from crossline_bed.marquez_standin import StandinServer

        server = StandinServer(dsn=dsn, port=self.port, admin_port=self.admin_port, log=log)
        server.start(timeout=timeout)
        return server.pid

    def _stop_recorded(self) -> None:
        state = self.read_state()
        if state is not None and pid_alive(state.pid):
            stop_process_group(state.pid)
        self.state_file.unlink(missing_ok=True)

    def down(self) -> None:
        self._stop_recorded()
        self.postgres.down()

    def status(self) -> dict[str, object]:
        state = self.running()
        return {
            "marquez": asdict(state) if state else None,
            "postgres": {"running": self.postgres.status(), "port": self.postgres.port},
        }

    def log_tail(self) -> str:
        state = self.read_state()
        return log_tail(Path(state.log)) if state else "(not started)"


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False
