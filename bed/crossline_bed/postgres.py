"""A PostgreSQL cluster of the bed's own, on loopback.

Contract: ``Postgres.up()`` gives a running cluster on 127.0.0.1:``CROSSLINE_PG_PORT``
with Debian's PostgreSQL binaries; it creates the cluster on first use and reuses it
after, so a second start takes about a second. ``ensure_database(name)`` creates a role
and database of that name if missing and returns their DSN. ``down()`` stops the
cluster; ``status()`` says whether it runs.

Choices:
- The cluster is the bed's own (``initdb`` into a folder we own), never the machine's
  system cluster, so it can be created and removed without touching anything else.
- PostgreSQL refuses to run as root. When we are root, the cluster belongs to the
  ``postgres`` system user that Debian's package creates and lives in its home.
- Authentication is ``trust`` on loopback only: this is a test bed, bound to
  127.0.0.1, and it keeps credentials out of configuration files.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from crossline_bed import config
from crossline_bed.process import LOOPBACK, port_is_free
from crossline_bed.errors import BedConfigError, BedError

SERVICE_USER = "postgres"


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise BedError(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb); "
        "install Debian's 'postgresql' package"
    )


@dataclass
class Postgres:
    port: int
    datadir: Path
    as_root: bool

    @classmethod
    def default(cls) -> "Postgres":
        as_root = os.geteuid() == 0
        if as_root:
            base = Path(os.path.expanduser(f"~{SERVICE_USER}")) / "crossline"
        else:
            base = config.home() / "postgres"
        port = config.port("CROSSLINE_PG_PORT")
        return cls(port=port, datadir=base / f"cluster-{port}", as_root=as_root)

    # -- commands -----------------------------------------------------------------
    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(_bindir() / argv[0]), *argv[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise BedError(f"{' '.join(argv[:2])} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    @property
    def log(self) -> Path:
        return self.datadir.parent / f"cluster-{self.port}.log"

    def status(self) -> bool:
        if not (self.datadir / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.datadir), check=False).returncode == 0

    def up(self) -> "Postgres":
        if self.status():
            return self
        if not (self.datadir / "PG_VERSION").exists():
            self._init()
        if not port_is_free(self.port):
            raise BedConfigError(
                f"cannot start PostgreSQL: port {LOOPBACK}:{self.port} is already in use by "
                "another process; stop it or choose another port with CROSSLINE_PG_PORT"
            )
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses={LOOPBACK}"
        proc = self._run(
            "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.log), "-w", "-t", "60", "-o", opts,
            check=False,
        )
        if proc.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:] if self.log.exists() else []
            raise BedError("PostgreSQL did not start:\n" + "\n".join([proc.stderr.strip(), *tail]))
        return self

    def _init(self) -> None:
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.datadir.parent, SERVICE_USER, SERVICE_USER)
        self._run(
            "initdb", "-D", str(self.datadir), "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--auth=trust",
        )

    def down(self) -> None:
        if self.status():
            self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60")

    def destroy(self) -> None:
        """Stop the cluster and delete its files (tests that make throwaway clusters)."""
        self.down()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.log.unlink(missing_ok=True)

    def postmaster_pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        if not pidfile.exists():
            return None
        return int(pidfile.read_text().splitlines()[0])

    # -- databases ------------------------------------------------------------------
    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@{LOOPBACK}:{self.port}/{database}"

    def ensure_database(self, name: str) -> str:
        """Create role and database ``name`` if missing; return the DSN."""
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError as err:
                if time.monotonic() > deadline:
                    raise BedError(f"cannot connect to PostgreSQL on port {self.port}: {err}") from err
                time.sleep(0.2)
        with conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)))
        return self.dsn(name, name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
