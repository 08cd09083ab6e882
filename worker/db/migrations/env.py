"""Alembic environment. The URL comes from the caller's Settings (see worker.db.migrate)."""

from __future__ import annotations

from alembic import context

from worker.db.engine import make_engine
from worker.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "worker.db.migrate sets sqlalchemy.url"

# The keys of the caller's Settings, for migrations that encrypt rows already stored.
engine = make_engine(url, cipher=config.attributes.get("cipher"))
with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Batch migrations copy a table and drop the old one; with foreign keys enforced that
        # DROP fails as soon as other rows point at the table. Off for this connection, on the
        # raw connection (outside any transaction, where SQLite ignores the pragma).
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
