"""Alembic driven from code, so no alembic.ini is needed where the worker is installed."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from worker.lib.crypto import Cipher

_MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic logs "Context impl ..." and "Will assume ... DDL" at INFO each time it looks at a
# database: right for `db upgrade`, two lines of noise for every /healthz and doctor check.
_ALEMBIC_CHECK_LOGS = ("alembic.runtime.migration",)
_checking = threading.local()  # per thread: a check never hides a migration running beside it


class _QuietWhileChecking(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_checking, "on", False)


_QUIET = _QuietWhileChecking()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # ConfigParser treats % as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", *, cipher: Cipher | None = None) -> None:
    """Migrate to `revision`. `cipher`: the keys a migration needs to encrypt existing rows
    (an empty database needs none)."""
    config = alembic_config(url)
    config.attributes["cipher"] = cipher
    command.upgrade(config, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def known_revision(revision: str) -> bool:
    """Whether this code's migrations include `revision` (False: a newer release migrated)."""
    try:
        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for an unknown or garbled id
        return False


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, read without Alembic's INFO lines (a health check runs often)."""
    for name in _ALEMBIC_CHECK_LOGS:
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)
    _checking.on = True
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        _checking.on = False
