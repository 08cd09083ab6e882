"""clinic-worker db roles: the PostgreSQL owner and application roles (worker.db.roles)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worker.cli.context import ctx_of
from worker.cli.output import say
from worker.db import roles
from worker.db.engine import cipher_for, make_engine
from worker.db.migrate import upgrade
from worker.lib.errors import InputError

_ADMIN_URL_HELP = (
    "A superuser's connection to the clinic's database (env CLINIC_DATABASE_ADMIN_URL; "
    "default: CLINIC_DATABASE_URL)."
)


def db_roles(
    ctx: typer.Context,
    admin_url: Annotated[
        str | None, typer.Option("--admin-url", envvar="CLINIC_DATABASE_ADMIN_URL", help=_ADMIN_URL_HELP)
    ] = None,
    admin_password_file: Annotated[
        Path | None, typer.Option(help="The administrator's password, from a file (a Docker secret).")
    ] = None,
    owner_role: Annotated[str, typer.Option(help="Owns the schema; runs migrations.")] = "clinic_owner",
    app_role: Annotated[str, typer.Option(help="What the worker, web and CLI connect as.")] = "clinic_app",
    owner_password_file: Annotated[
        Path | None, typer.Option(help="The owner's password, from a file.")
    ] = None,
    app_password_file: Annotated[
        Path | None,
        typer.Option(help="The application role's password (default: the one in CLINIC_DATABASE_URL)."),
    ] = None,
    then_upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Then migrate the schema as the owner and grant again.")
    ] = False,
) -> None:
    """Create (or correct) the owner and application roles; the app may only add to the audit trail.

    A new role without a password file gets a generated password, printed once.
    """
    settings = ctx_of(ctx).settings
    admin = roles.url_as(admin_url or settings.database_url, password=_read(admin_password_file))
    owner_password = _read(owner_password_file)
    app_password = _read(app_password_file) or roles.password_in(settings.database_url, app_role)
    engine = make_engine(admin)
    try:
        if engine.dialect.name != "postgresql":
            raise InputError(
                "db roles is for PostgreSQL; SQLite has no roles (its triggers and the chain remain)"
            )
        with engine.begin() as connection:
            report = roles.ensure_roles(
                connection, owner_role, app_role, owner_password=owner_password, app_password=app_password
            )
        for name in report.created:
            say(f"created role {name}")
        for name, password in report.passwords.items():
            say(f"password for {name} (shown once, keep it in your secret store): {password}")
        say(f"roles {owner_role} (owner) and {app_role} (application) are set up")
        if then_upgrade:
            owner_secret = owner_password or report.passwords.get(owner_role)
            if owner_secret is None:
                raise InputError("--upgrade migrates as the owner: give --owner-password-file")
            owner_url = roles.url_as(admin, username=owner_role, password=owner_secret)
            upgrade(owner_url, cipher=cipher_for(settings))
            with engine.begin() as connection:
                roles.apply_grants(connection, owner_role, app_role)
            say("database schema is up to date; grants applied")
    finally:
        engine.dispose()


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not value:
        raise InputError(f"{path}: empty")
    return value
