"""PostgreSQL roles: an owner that runs migrations, and the application role everything else uses.

The application role may read and write the clinic's tables but only SELECT and INSERT the
audit trail (audit_log, audit_patients): it cannot UPDATE, DELETE or TRUNCATE it, and since
it owns nothing and is no superuser it cannot disable the append-only triggers either
(ALTER TABLE needs the owner; session_replication_role needs a superuser). Everything here
is idempotent: run it again after any migration and it puts the grants back as they should be.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, make_url, text

from worker.db.engine import make_engine
from worker.lib.errors import InputError

APPEND_ONLY = ("audit_log", "audit_patients")
READ_ONLY = ("alembic_version",)  # the app checks the schema version, never moves it
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A login that can do nothing beyond what is granted below.
_APP_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
_OWNER_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


@dataclass
class RolesReport:
    created: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)  # generated ones, shown once
    reassigned: list[str] = field(default_factory=list)


def with_driver(url: str) -> str:
    """postgresql:// as psycopg 3, the driver we ship (as CLINIC_DATABASE_URL is read)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def url_as(url: str, *, username: str | None = None, password: str | None = None) -> str:
    """`url` with another user and/or password (a password may hold any character)."""
    parsed = make_url(with_driver(url))
    if username is not None:
        parsed = parsed.set(username=username)
    if password is not None:
        parsed = parsed.set(password=password)
    return parsed.render_as_string(hide_password=False)


def password_in(url: str, role: str) -> str | None:
    """The password `url` gives for `role`, if it connects as that role."""
    parsed = make_url(url)
    return parsed.password if parsed.username == role and parsed.password else None


def check_role_name(name: str) -> str:
    if not _ROLE_NAME.match(name):
        raise InputError(f"role name {name!r}: use lower-case letters, digits and _ (at most 63)")
    return name


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def ensure_roles(
    connection: Connection,
    owner: str,
    app: str,
    *,
    owner_password: str | None = None,
    app_password: str | None = None,
) -> RolesReport:
    """Create or correct both roles, hand every object to the owner and grant the app role.

    A password given is set; a new role without one gets a generated password (in the
    report, to print once); an existing role without one keeps its password.
    """
    if connection.dialect.name != "postgresql":
        raise InputError(
            "db roles is for PostgreSQL; SQLite has no roles (its triggers and the chain remain)"
        )
    check_role_name(owner)
    check_role_name(app)
    if owner == app:
        raise InputError("the owner and the application role must be different roles")
    me = connection.execute(text("SELECT current_user")).scalar_one()
    if me in (owner, app):
        raise InputError(f"connected as {me}: run db roles with an administrator's connection (--admin-url)")
    report = RolesReport()
    _ensure_role(connection, owner, _OWNER_ATTRIBUTES, owner_password, report)
    _ensure_role(connection, app, _APP_ATTRIBUTES, app_password, report)
    report.reassigned = _give_to_owner(connection, owner)
    apply_grants(connection, owner, app)
    return report


def _ensure_role(
    connection: Connection, name: str, attributes: str, password: str | None, report: RolesReport
) -> None:
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
    if not exists:
        connection.execute(text(f'CREATE ROLE "{name}" {attributes}'))
        report.created.append(name)
        if password is None:
            password = report.passwords[name] = generate_password()
    # Attributes are set every time: a role made a superuser by hand is put back.
    connection.execute(text(f'ALTER ROLE "{name}" {attributes}'))
    if password is not None:
        _set_password(connection, name, password)


def _set_password(connection: Connection, name: str, password: str) -> None:
    if not password or "\x00" in password:
        raise InputError(f"password for {name}: empty or containing a NUL byte")
    # Hashed here (SCRAM) so the clear password never reaches the server's statement log.
    raw: Any = connection.connection.dbapi_connection
    verifier = raw.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
    # Not text(): a SCRAM verifier holds colons, which text() would read as parameters.
    connection.exec_driver_sql(f"ALTER ROLE \"{name}\" PASSWORD '{_literal(verifier)}'")


def _literal(value: str) -> str:
    return value.replace("'", "''")


def _give_to_owner(connection: Connection, owner: str) -> list[str]:
    """Every table, view, sequence, function and type of the schema, owned by `owner`."""
    moved = []
    objects = connection.execute(
        text(
            "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' "
            "WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, quote_ident(c.relname) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
            "AND pg_get_userbyid(c.relowner) <> :owner "
            # A sequence a table owns follows its table.
            "AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d "
            "WHERE d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))) "
            "UNION ALL SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND pg_get_userbyid(p.proowner) <> :owner "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
            "UNION ALL SELECT 'TYPE', quote_ident(t.typname) FROM pg_type t "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd') "
            "AND pg_get_userbyid(t.typowner) <> :owner "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')"
        ),
        {"owner": owner},
    ).all()
    for kind, name in objects:
        connection.execute(text(f'ALTER {kind} {name} OWNER TO "{owner}"'))
        moved.append(name)
    connection.execute(text(f'ALTER SCHEMA "{_schema(connection)}" OWNER TO "{owner}"'))
    return moved


def _schema(connection: Connection) -> str:
    schema: str = connection.execute(text("SELECT current_schema()")).scalar_one()
    return schema.replace('"', '""')


def apply_grants(connection: Connection, owner: str, app: str) -> None:
    """The application role's privileges, on the tables there now and those made later."""
    schema = _schema(connection)
    database = connection.execute(text("SELECT current_database()")).scalar_one().replace('"', '""')
    statements = [
        # Nobody else creates objects in the schema or connects without a grant.
        f'REVOKE CREATE ON SCHEMA "{schema}" FROM PUBLIC',
        f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC',
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{owner}", "{app}"',
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{app}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{app}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{app}"',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" '
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{app}"',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" '
        f'GRANT USAGE, SELECT ON SEQUENCES TO "{app}"',
    ]
    for statement in statements:
        connection.execute(text(statement))
    for table, allowed in [(t, "SELECT, INSERT") for t in APPEND_ONLY] + [(t, "SELECT") for t in READ_ONLY]:
        if connection.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
            continue  # not created yet: the migration that creates it revokes (0010)
        connection.execute(text(f'REVOKE ALL ON "{table}" FROM PUBLIC, "{app}"'))
        connection.execute(text(f'GRANT {allowed} ON "{table}" TO "{app}"'))


_CHANGES = ["UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
_GRANTEES = text(
    "SELECT DISTINCT r.rolname FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a "
    "JOIN pg_roles r ON r.oid = a.grantee "
    "WHERE c.oid = to_regclass(:table) AND a.grantee <> c.relowner AND a.privilege_type = ANY(:denied)"
)


def restrict_tables(connection: Connection) -> None:
    """Take back from every role but the owner what it may not do to the audit trail and the
    schema version, however it got it (default privileges give a new table everything)."""
    if connection.dialect.name != "postgresql":
        return
    for tables, denied in ((APPEND_ONLY, _CHANGES), (READ_ONLY, ["INSERT", *_CHANGES])):
        for table in tables:
            if connection.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
                continue
            grantees = connection.execute(_GRANTEES, {"table": table, "denied": denied}).scalars().all()
            for grantee in ["PUBLIC", *(f'"{_ident(g)}"' for g in grantees)]:
                connection.execute(text(f'REVOKE {", ".join(denied)} ON "{table}" FROM {grantee}'))


def restrict_audit_grants(url: str) -> None:
    """restrict_tables on `url`, as whoever it connects as (the owner, after a migration)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            restrict_tables(connection)
    finally:
        engine.dispose()


def _ident(name: str) -> str:
    return name.replace('"', '""')


def drop_roles(connection: Connection, *names: str) -> None:
    """For tests and decommissioning: what the roles own goes to the current user, then they go."""
    for name in names:
        check_role_name(name)
        if connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first():
            connection.execute(text(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER'))
            connection.execute(text(f'DROP OWNED BY "{name}"'))
            connection.execute(text(f'DROP ROLE "{name}"'))
