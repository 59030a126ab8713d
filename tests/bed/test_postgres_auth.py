"""The bed's PostgreSQL asks for passwords: none is refused, the bed's own get in, none leaks."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from crossline_bed.marquez_standin import StandinServer
from crossline_bed.postgres import SUPERUSER, Postgres, redact
from crossline_bed.process import LOOPBACK, free_port

ROLE = "crossline_auth_test"


def without_password(pg: Postgres, user: str, database: str, **where: str) -> psycopg.Connection:
    # passfile: not even a ~/.pgpass of this machine's may help.
    return psycopg.connect(user=user, dbname=database, host=where.get("host", LOOPBACK), port=pg.port,
                           passfile="/nonexistent", connect_timeout=5)


@pytest.fixture(scope="module")
def role(bed_postgres: Postgres) -> Iterator[str]:
    pg = bed_postgres.up()
    dsn = pg.ensure_database(ROLE)
    yield dsn
    pg.drop_database(ROLE)
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')


@pytest.mark.parametrize(("user", "database"), [(SUPERUSER, "postgres"), (ROLE, ROLE)])
def test_a_connection_without_the_password_is_refused(bed_postgres: Postgres, role: str, user: str, database: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        without_password(bed_postgres, user, database)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        without_password(bed_postgres, user, database, host=str(bed_postgres.datadir))  # the socket too


def test_a_wrong_password_is_refused(bed_postgres: Postgres, role: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(user=ROLE, dbname=ROLE, host=LOOPBACK, port=bed_postgres.port, password="guess",
                        connect_timeout=5)


def test_the_bed_dsns_carry_the_password_and_get_in(bed_postgres: Postgres, role: str) -> None:
    for dsn, user in ((role, ROLE), (bed_postgres.dsn(), SUPERUSER), (bed_postgres.dsn(ROLE), SUPERUSER)):
        assert bed_postgres.password(user) in dsn
        with psycopg.connect(dsn, passfile="/nonexistent", connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == user


def test_the_passwords_are_in_a_file_only_the_bed_user_reads(bed_postgres: Postgres, role: str) -> None:
    path = bed_postgres.password_file
    assert path.parent == bed_postgres.datadir
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()
    # libpq's own format: PGPASSFILE=<it> lets psql in.
    with psycopg.connect(user=ROLE, dbname=ROLE, host=LOOPBACK, port=bed_postgres.port, passfile=str(path)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert bed_postgres.password(SUPERUSER) != bed_postgres.password(ROLE)


def test_redact_hides_the_password() -> None:
    assert redact("postgresql://marquez:s3cr3t-pw@127.0.0.1:5432/marquez") == "postgresql://marquez:***@127.0.0.1:5432/marquez"
    assert redact("postgresql://marquez@127.0.0.1/marquez") == "postgresql://marquez@127.0.0.1/marquez"


def test_the_standin_gets_its_dsn_out_of_sight(own_standin: StandinServer, bed_postgres: Postgres) -> None:
    """The DSN goes by environment, not the command line every local user can read, nor the log."""
    password = bed_postgres.password("standin_test_postgres_auth")  # tests/bed/conftest.py names it
    assert password and password in own_standin.dsn
    cmdline = Path(f"/proc/{own_standin.pid}/cmdline").read_bytes().decode()
    assert password not in cmdline
    assert own_standin.log is not None and password not in own_standin.log.read_text()


def test_a_cluster_an_older_bed_made_with_trust_is_moved_to_passwords(bed_postgres: Postgres) -> None:
    port = free_port()
    pg = Postgres(port=port, datadir=bed_postgres.datadir.parent / f"cluster-{port}", as_root=bed_postgres.as_root)
    try:
        pg.datadir.parent.mkdir(parents=True, exist_ok=True)
        pg._run("initdb", "-D", str(pg.datadir), "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8", "--auth=trust")
        assert not pg.password_file.exists()
        pg.up()
        assert pg.password_file.exists()
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            without_password(pg, SUPERUSER, "postgres")
        dsn = pg.ensure_database("legacy")
        with psycopg.connect(dsn, passfile="/nonexistent") as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == "legacy"
    finally:
        pg.destroy()
