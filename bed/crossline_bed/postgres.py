"""A PostgreSQL cluster of the bed's own, on loopback.

Contract: ``Postgres.up()`` gives a running cluster on 127.0.0.1:``CROSSLINE_PG_PORT``
with Debian's PostgreSQL binaries; it creates the cluster on first use and reuses it
after, so a second start takes about a second. ``ensure_database(name)`` creates a role
and database of that name if missing and returns their DSN. ``dsn(database, user)`` is
the DSN of a role the bed made, with its password. ``down()`` stops the cluster;
``status()`` says whether it runs.

Choices:
- The cluster is the bed's own (``initdb`` into a folder we own), never the machine's
  system cluster, so it can be created and removed without touching anything else.
- PostgreSQL refuses to run as root. When we are root, the cluster belongs to the
  ``postgres`` system user that Debian's package creates and lives in its home.
- Authentication is ``scram-sha-256`` for every connection, socket and loopback TCP
  alike: another local user cannot get in by knowing the port. The superuser and each
  role ``ensure_database`` makes get a generated password, kept in the cluster's folder
  in ``crossline.pgpass`` (libpq's password-file format, so
  ``PGPASSFILE=<it> psql -h 127.0.0.1 -p <port> -U <role>`` works), mode 0600 and owned
  by the bed's user. The DSNs carry the password; nothing here prints or logs one, and
  ``redact(dsn)`` hides it wherever a DSN is shown.
- A cluster made by an older bed with ``trust`` is moved to passwords on its next start.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from crossline_bed import config
from crossline_bed.process import LOOPBACK, port_is_free
from crossline_bed.errors import BedConfigError, BedError

SERVICE_USER = "postgres"
SUPERUSER = "postgres"
PASSWORD_FILE = "crossline.pgpass"
_HBA = """# Written by crossline_bed.postgres: passwords (SCRAM) for every connection.
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
"""
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):[^@/]*@", re.I)


def redact(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", dsn)


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
        if not self.status():
            self._start()
        if not self.password_file.exists():
            self._require_passwords()
        return self

    def _start(self) -> None:
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

    def _init(self) -> None:
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.datadir.parent, SERVICE_USER, SERVICE_USER)
        password = secrets.token_urlsafe(24)
        # initdb reads the superuser's password from a file the cluster's owner can read;
        # it lives only while initdb runs.
        fd, pwfile = tempfile.mkstemp(prefix=".initdb-", dir=self.datadir.parent)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(password + "\n")
            if self.as_root:
                shutil.chown(pwfile, SERVICE_USER, SERVICE_USER)
            self._run(
                "initdb", "-D", str(self.datadir), "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8",
                "--auth=scram-sha-256", f"--pwfile={pwfile}",
            )
        finally:
            os.unlink(pwfile)
        self._save_password(SUPERUSER, password)

    def _require_passwords(self) -> None:
        """Move a cluster an older bed made with ``trust`` to passwords; refuse one that lost its file."""
        from psycopg import sql

        hba = self.datadir / "pg_hba.conf"
        if not re.search(r"^\s*(local|host)\S*\s.*\btrust\s*$", hba.read_text(), re.M):
            raise BedError(
                f"the PostgreSQL cluster in {self.datadir} asks for passwords but its password file "
                f"{self.password_file.name} is gone; remove the cluster ({self.datadir}) to let the bed make a new one"
            )
        password = secrets.token_urlsafe(24)
        with self._connect_retrying(f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/postgres") as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(password)))
        self._save_password(SUPERUSER, password)
        with open(hba, "w") as out:  # rewriting in place keeps the file's owner
            out.write(_HBA)
        self._run("pg_ctl", "reload", "-D", str(self.datadir))

    # -- passwords ----------------------------------------------------------------
    @property
    def password_file(self) -> Path:
        return self.datadir / PASSWORD_FILE

    @contextmanager
    def _passwords_locked(self) -> Iterator[None]:
        with open(self.datadir.parent / f"cluster-{self.port}.pgpass.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _passwords(self) -> dict[str, str]:
        """role -> password, from the password file (lines ``host:port:database:role:password``)."""
        try:
            text = self.password_file.read_text()
        except FileNotFoundError:
            return {}
        found = {}
        for line in text.splitlines():
            parts = line.split(":", 4)
            if len(parts) == 5 and not line.startswith("#"):
                found[parts[3]] = parts[4]
        return found

    def _save_password(self, role: str, password: str | None = None) -> str:
        """Keep ``password`` for ``role`` (None: the one on file, else a new one); return it."""
        with self._passwords_locked():
            passwords = self._passwords()
            if password is None and role in passwords:
                return passwords[role]
            passwords[role] = password = password or secrets.token_urlsafe(24)
            lines = [f"{LOOPBACK}:{self.port}:*:{r}:{p}" for r, p in sorted(passwords.items())]
            fd, tmp = tempfile.mkstemp(prefix=".pgpass-", dir=self.datadir)  # created 0600
            with os.fdopen(fd, "w") as out:
                out.write("# The bed's PostgreSQL passwords (crossline_bed.postgres); libpq's format.\n")
                out.write("\n".join(lines) + "\n")
            os.replace(tmp, self.password_file)
        return password

    def password(self, role: str = SUPERUSER) -> str | None:
        """The password of a role the bed made, or None. Never print or log it."""
        return self._passwords().get(role)

    def down(self) -> None:
        if self.status():
            self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60")

    def destroy(self) -> None:
        """Stop the cluster and delete its files (tests that make throwaway clusters)."""
        self.down()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.log.unlink(missing_ok=True)
        (self.datadir.parent / f"cluster-{self.port}.pgpass.lock").unlink(missing_ok=True)

    def postmaster_pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        if not pidfile.exists():
            return None
        return int(pidfile.read_text().splitlines()[0])

    # -- databases ------------------------------------------------------------------
    def dsn(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """The DSN of ``user`` on ``database``, with the user's password if the bed made it."""
        password = self.password(user)
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}" if password else quote(user, safe="")
        return f"postgresql://{auth}@{LOOPBACK}:{self.port}/{database}"

    def _connect_retrying(self, dsn: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as err:
                if time.monotonic() > deadline:
                    raise BedError(f"cannot connect to PostgreSQL on port {self.port}: {err}") from err
                time.sleep(0.2)

    def ensure_database(self, name: str) -> str:
        """Create role ``name`` (with a generated password) and its database if missing; return the DSN."""
        from psycopg import sql

        with self._connect_retrying(self.dsn()) as conn:
            password = self._save_password(name)
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None
            verb = "ALTER" if exists else "CREATE"
            # A role that exists (an older bed's, or one made again) gets the password on file.
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)))
        return self.dsn(name, name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
