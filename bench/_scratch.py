"""A throwaway database for one benchmark run, so no benchmark touches the caller's data."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from worker.db.engine import make_engine


@contextmanager
def scratch_database(database_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty database; it is gone afterwards, whatever happened.

    PostgreSQL: a database created beside the given one (the role needs CREATEDB, as the
    tests' does). SQLite: a file in a temporary folder next to the given file (or in the
    system's temporary folder for an in-memory URL), so it lands on the same disk.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database).resolve().parent if url.database not in (None, "", ":memory:") else None
        with tempfile.TemporaryDirectory(prefix="clinic-bench-", dir=folder) as scratch:
            yield url.set(database=str(Path(scratch) / "bench.sqlite3")).render_as_string(hide_password=False)
        return
    name = f"clinic_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            # FORCE: a connection left open (a server that had to be killed) must not keep it.
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
