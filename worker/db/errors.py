"""Database errors told in one line, for the faces (CLI, web) that must not know SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError, StatementError

from worker.lib.errors import ClinicWorkerError


class NoDatabase(ClinicWorkerError):
    """The SQLite file named by the settings does not exist (only `db upgrade` creates one)."""


def our_error(exc: BaseException) -> ClinicWorkerError | None:
    """Our own error that SQLAlchemy wrapped (raised by a column type, e.g. MissingCipher)."""
    if isinstance(exc, StatementError) and isinstance(exc.orig, ClinicWorkerError):
        return exc.orig
    return None


def describe(exc: BaseException) -> str | None:
    """One line for a database error, or None if `exc` is not one."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    if isinstance(exc, OperationalError | ProgrammingError):
        text = str(getattr(exc, "orig", exc)).splitlines()[0]
        if "no such table" in text or ("does not exist" in text and "relation" in text):
            return "database: the schema is missing; run `clinic-worker db upgrade`"
        return f"database: {text}"
    return f"database: {type(exc).__name__}"


def connection_reason(exc: BaseException) -> str:
    """The driver's own reason, in one line: `Connection refused`, `password authentication
    failed for user "clinic_app"`, `unable to open database file`."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    line = lines[0].strip() if lines else type(original).__name__
    # psycopg: 'connection failed: connection to server at "h", port 5432 failed: FATAL:  ...';
    # the doctor line names the URL already, so only the reason is kept.
    line = line.removeprefix("connection failed: ")
    if line.startswith("connection to server") and " failed: " in line:
        line = line.split(" failed: ", 1)[1]
    return line.replace("FATAL:  ", "").strip() or type(original).__name__
