"""PostgreSQL roles (`db roles`): the application role can add to the audit trail and nothing more.

Roles are cluster-wide: each test makes its own, with a unique suffix, in a database of its
own, and drops them at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PG_ADMIN_URL, Cli, make_settings, settings_env
from worker.db import roles
from worker.db.engine import make_engine

_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]


@dataclass
class Cluster:
    database: str
    owner: str
    app: str
    admin_url: str
    cli: Cli  # connects as the application role, like the worker, web and CLI in production
    owner_password_file: Path

    def url_as(self, role: str) -> str:
        return roles.url_as(self.admin_url, username=role, password="x")


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    request.getfixturevalue("postgres_url")  # skips when PostgreSQL is not reachable
    suffix = uuid.uuid4().hex[:8]
    database, owner, app = f"cw_roles_{suffix}", f"cw_owner_{suffix}", f"cw_app_{suffix}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin_url = f"{_BASE}/{database}"
    password_file = tmp_path / "owner_password"
    password_file.write_text("owner-secret\n")
    app_url = roles.url_as(admin_url, username=app, password="app-secret")
    env = settings_env(make_settings(app_url, "memory://"))
    try:
        yield Cluster(database, owner, app, admin_url, Cli(env, tmp_path), password_file)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            roles.drop_roles(connection, app, owner)
        admin.dispose()


def _set_up(c: Cluster) -> None:
    common = ("--admin-url", c.admin_url, "--owner-role", c.owner, "--app-role", c.app)
    c.cli.run("db", "roles", *common, "--owner-password-file", str(c.owner_password_file))
    c.cli.run("db", "upgrade", "--url", c.url_as(c.owner))


def _refused(url: str, statement: str) -> str:
    engine = make_engine(url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    return str(caught.value.orig)


def test_given_the_roles_when_the_app_role_changes_the_audit_trail_expect_each_attempt_refused(
    cluster: Cluster,
) -> None:
    _set_up(cluster)
    cluster.cli.run("--by", "dana", "patients", "add", "--name", "Ana Example", "--phone", "+12025550143")
    app_url = cluster.url_as(cluster.app)
    for statement in (
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_patients SET patient_id = 99",
        "DELETE FROM audit_patients",
        "TRUNCATE audit_patients CASCADE",
    ):
        assert "permission denied" in _refused(app_url, statement), statement
    assert "must be owner" in _refused(app_url, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    assert "permission denied" in _refused(app_url, "SET session_replication_role = replica")
    assert "permission denied" in _refused(app_url, "CREATE TABLE sneaky (id int)")
    assert "permission denied" in _refused(app_url, "UPDATE alembic_version SET version_num = '0001'")
    assert cluster.cli.json("audit", "verify")["ok"] is True


def test_given_the_roles_when_the_app_role_does_its_work_expect_it_to_succeed_and_be_audited(
    cluster: Cluster,
) -> None:
    _set_up(cluster)
    cluster.cli.run("--by", "dana", "patients", "add", "--name", "Ana Example", "--phone", "+12025550143")
    cluster.cli.run("--by", "dana", "patients", "opt-out", "1")
    cluster.cli.run("--by", "sam", "patients", "list")
    cluster.cli.run("db", "upgrade")  # as the app role at the current version: nothing to do, no error
    shown = cluster.cli.json("audit", "list", "--patient", "1")
    assert [e["action"] for e in shown][:2] == ["patient.add", "patient.opt_out"]
    assert all(e["os_user"].startswith("os:") for e in shown)
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{cluster.database}")
    with engine.connect() as connection:
        owners = set(
            connection.execute(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars()
        )
        attributes = connection.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
                "FROM pg_roles WHERE rolname = :r"
            ),
            {"r": cluster.app},
        ).one()
    engine.dispose()
    assert owners == {cluster.owner}
    assert tuple(attributes) == (False, False, False, False, False)


def test_given_the_owner_disables_the_trigger_when_it_updates_a_row_expect_verify_to_name_that_row(
    cluster: Cluster,
) -> None:
    _set_up(cluster)
    cluster.cli.run("--by", "dana", "patients", "add", "--name", "Ana Example", "--phone", "+12025550143")
    cluster.cli.run("--by", "dana", "patients", "list")
    engine = make_engine(cluster.url_as(cluster.owner))
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        connection.execute(text("UPDATE audit_log SET actor = 'operator:nobody' WHERE id = 2"))
        connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    engine.dispose()
    result = cluster.cli.run("audit", "verify", ok=False)
    assert result.returncode == 1
    assert "audit row 2: hash does not match" in result.stdout


def test_given_tables_made_by_the_superuser_when_roles_run_twice_expect_them_handed_over_and_grants_kept(
    cluster: Cluster,
) -> None:
    # An existing deployment: migrated as the superuser before roles existed.
    cluster.cli.run("db", "upgrade", "--url", cluster.admin_url)
    common = ("--admin-url", cluster.admin_url, "--owner-role", cluster.owner, "--app-role", cluster.app)
    first = cluster.cli.run("db", "roles", *common)
    assert f"password for {cluster.owner} (shown once" in first.stdout
    assert f"password for {cluster.app}" not in first.stdout  # taken from CLINIC_DATABASE_URL
    again = cluster.cli.run("db", "roles", *common, "--owner-password-file", str(cluster.owner_password_file))
    assert "created role" not in again.stdout and "shown once" not in again.stdout
    cluster.cli.run("db", "upgrade", "--url", cluster.url_as(cluster.owner))  # the owner can migrate
    assert "permission denied" in _refused(cluster.url_as(cluster.app), "DELETE FROM audit_log")
    cluster.cli.run("--by", "dana", "patients", "add", "--name", "Ana Example", "--phone", "+12025550143")


def test_given_a_sqlite_database_when_roles_are_asked_for_expect_one_clear_refusal(tmp_path: Path) -> None:
    env = settings_env(make_settings(f"sqlite:///{tmp_path / 'x.sqlite3'}", "memory://"))
    result = Cli(env, tmp_path).run("db", "roles", ok=False)
    assert result.returncode == 1
    assert "db roles is for PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
