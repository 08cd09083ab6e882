"""Database errors told in one line, for the faces (CLI, web) that must not know SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError, StatementError

from worker.lib.errors import ClinicWorkerError


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
