"""Alembic environment. The URL comes from the caller's Settings (see worker.db.migrate)."""

from __future__ import annotations

from alembic import context

from worker.db.engine import make_engine
from worker.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "worker.db.migrate sets sqlalchemy.url"

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
