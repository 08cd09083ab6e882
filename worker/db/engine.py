"""Engines and sessions, created from a URL by whoever holds the Settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from worker.db.cipher import attach_cipher
from worker.db.errors import NoDatabase
from worker.lib.crypto import Cipher
from worker.lib.errors import InputError
from worker.lib.files import create_private
from worker.retries import DB_RETRY_FIRST_PAUSE_SECONDS, DB_RETRY_MAX_PAUSE_SECONDS
from worker.settings import Settings, normalise_database_url

log = logging.getLogger(__name__)
T = TypeVar("T")
# What an entry point holds and hands to services: opens sessions on one engine.
Sessions = sessionmaker[Session]

# Several processes (web, worker, beat, CLI) share one SQLite file: WAL lets readers run
# beside the one writer, and busy_timeout makes a writer wait instead of failing at once.
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=15000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)

# A connection that dies without a reset (a failover, a network partition) must fail within
# about a minute rather than hang: a group-commit writer blocked on it would hold every
# write queued behind it. libpq's TCP keepalives and user timeout do that below SQL.
_PG_CONNECT = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


def engine_for(settings: Settings, **kwargs: Any) -> Engine:
    """The engine of CLINIC_DATABASE_URL, carrying the cipher of CLINIC_ENCRYPTION_KEYS."""
    return make_engine(settings.database_url, cipher=cipher_for(settings), **kwargs)


def cipher_for(settings: Settings) -> Cipher:
    """CLINIC_ENCRYPTION_KEYS for values, CLINIC_BLIND_INDEX_KEYS for phone lookups."""
    return Cipher(settings.key_list(), settings.index_key_list())


def make_engine(url: str, *, cipher: Cipher | None = None, **kwargs: Any) -> Engine:
    """An engine for `url`. Without `cipher` it cannot touch encrypted columns (MissingCipher)."""
    engine = _create(url, **kwargs)
    if cipher is not None:
        attach_cipher(engine, cipher)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (absolute), or None for PostgreSQL, :memory: and file: URIs."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).absolute()


def require_database(url: str) -> None:
    """Only `db upgrade` creates a database: a command started in the wrong folder (no .env,
    no CLINIC_DATABASE_URL) must not make a second, empty one there and carry on."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise NoDatabase(
            f"no database at {path}; run `clinic-worker db upgrade` to create it, or set CLINIC_DATABASE_URL"
        )


def _create(url: str, **kwargs: Any) -> Engine:
    # URLs from --url and --admin-url are not read through Settings: the same one-line refusal.
    try:
        url = normalise_database_url(url)
    except ValueError as exc:
        raise InputError(f"database URL: {exc}") from None
    # A failed statement's parameters (numbers, texts) must not reach a log via the error.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 15}, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        # pysqlite's own BEGIN handling defers the lock until the first write, which lets two
        # writers deadlock on upgrade; we emit BEGIN IMMEDIATE ourselves instead.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {**_PG_CONNECT, **kwargs.get("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _private_sqlite_file(url: str) -> None:
    # Created 0600 before SQLite opens it: SQLite would create it with the process umask
    # (usually 0644, readable by every local user) and gives the WAL the database's mode.
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        if path.parent.is_dir():
            create_private(path)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we send BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def unavailable(exc: BaseException) -> bool:
    """The database is down, restarting or locked: worth waiting for, unlike a bad query."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def retry_while_unavailable(
    work: Callable[[], T], within: float, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run `work`, retrying it while the database is unavailable, for up to `within` seconds.

    For results that exist nowhere else, such as the SID Twilio just returned: giving up
    would leave the message unexplained, so a short outage is waited out instead.
    """
    deadline = time.monotonic() + within
    pause = DB_RETRY_FIRST_PAUSE_SECONDS
    while True:
        try:
            return work()
        except Exception as exc:
            if not unavailable(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("database unavailable, retrying", extra={"error": type(exc).__name__})
        sleep(pause)
        pause = min(pause * 2, DB_RETRY_MAX_PAUSE_SECONDS)
