"""Least privilege for data: each service's PostgreSQL role reaches its own database only.

The roles are made by ``scripts/infra/postgres-service-role.sql``, the script ``make infra`` runs
for every service; here it runs, twice (it is idempotent), on two databases of the test's own.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.application import Application
from psycopg import errors

from crm_platform.eventstore import open_application
from crm_platform.settings import PostgresSettings
from crm_platform.web.rate_limit import PostgresHitCounter

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[4] / "scripts" / "infra" / "postgres-service-role.sql"
PASSWORD = "a password; with 'quotes'"


def psql() -> str:
    found = shutil.which("psql") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None
    )
    assert found, "psql is installed with PostgreSQL by scripts/infra/postgres.sh"
    return found


def make_role(server: Any, role: str, database: str) -> None:
    subprocess.run(
        [
            psql(),
            "-XAtq",
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-d",
            "postgres",
            "-v",
            f"role={role}",
            "-v",
            f"database={database}",
            "-v",
            f"password={PASSWORD}",
            "-f",
            str(SCRIPT),
        ],
        env={"PGPASSWORD": server.password, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def services(
    postgres_server: Any, fresh_database: Callable[[str], str]
) -> Iterator[dict[str, str]]:
    """Two services' databases, each with its role: {database: role}."""
    databases = [fresh_database("roles_a"), fresh_database("roles_b")]
    # A table the administrator made before the roles existed (an earlier start, as crm).
    with psycopg.connect(postgres_server.dsn(databases[0]), autocommit=True) as conn:
        conn.execute("CREATE TABLE earlier (id bigserial PRIMARY KEY, n int)")
    roles = {db: f"crm_test_{uuid.uuid4().hex[:8]}" for db in databases}
    for db, role in roles.items():
        make_role(postgres_server, role, db)
        make_role(postgres_server, role, db)  # a second `make infra` changes nothing
    yield roles
    for db, role in roles.items():
        with psycopg.connect(postgres_server.dsn(db), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{db}" OWNER TO CURRENT_USER')
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP ROLE "{role}"')


def as_role(server: Any, role: str) -> PostgresSettings:
    return PostgresSettings(host=server.host, port=server.port, user=role, password=PASSWORD)


def test_a_service_role_cannot_reach_another_service_s_database(
    postgres_server: Any, services: dict[str, str]
) -> None:
    (own, role), (other, _) = services.items()
    with psycopg.connect(postgres_server.dsn(other), autocommit=True) as conn:
        conn.execute("CREATE TABLE secrets (value text)")

    for elsewhere in (other, "postgres"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(as_role(postgres_server, role).dsn(elsewhere))
    with psycopg.connect(as_role(postgres_server, role).dsn(own), autocommit=True) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE stolen")
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert superuser.fetchone() == (False,)


def test_a_service_works_on_its_own_database_with_its_role(
    postgres_server: Any, services: dict[str, str]
) -> None:
    own, role = next(iter(services.items()))
    settings = as_role(postgres_server, role)

    application = open_application(Application, settings, own)  # the event store's tables
    counter = PostgresHitCounter(settings.dsn(own))  # and the rate limiter's
    try:
        assert counter.hit("form:192.0.2.1", 60)[0] == 1
    finally:
        counter.close()
        application.close()
    with psycopg.connect(settings.dsn(own), autocommit=True) as conn:
        # Made by the administrator, now the role's: it writes, and migrates it.
        conn.execute("INSERT INTO earlier (n) VALUES (1)")
        conn.execute("CREATE INDEX IF NOT EXISTS earlier_n ON earlier (n)")
        assert conn.execute("SELECT count(*) FROM earlier").fetchone() == (1,)
