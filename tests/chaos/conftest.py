"""The chaos scenarios' cluster: a private Redis, the Twilio stand-in, PostgreSQL when it
answers (SQLite otherwise), and real worker, beat and web processes started on demand."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.chaos.faults import TcpProxy
from tests.chaos.ledger import Row
from tests.conftest import (
    PG_ADMIN_URL,
    TEST_CIPHER,
    Proc,
    RedisServer,
    _postgres_reachable,
    make_settings,
    settings_env,
)
from tests.twilio_standin import StandIn
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import upgrade
from worker.settings import Settings

ROWS: list[Row] = []


@dataclass
class Cluster:
    settings: Settings
    sessions: sessionmaker[Session]
    standin: StandIn
    redis: RedisServer
    folder: Path
    proxy: TcpProxy | None = None  # between the processes and PostgreSQL, to cut it
    procs: list[Proc] = field(default_factory=list)

    @property
    def sqlite_path(self) -> str | None:
        url = self.settings.database_url
        return url.removeprefix("sqlite:///") if url.startswith("sqlite") else None

    def start(self, name: str, *args: str) -> Proc:
        proc = Proc(list(args), settings_env(self.settings), self.folder / f"{name}.log")
        self.procs.append(proc)
        return proc

    def worker(self, name: str = "worker", concurrency: int = 4, *extra: str) -> Proc:
        proc = self.start(
            name, "worker", "--concurrency", str(concurrency), "--hostname", f"{name}@%h", *extra
        )
        proc.wait_for("ready", timeout=60)
        return proc

    def beat(self, name: str = "beat") -> Proc:
        proc = self.start(name, "beat")
        proc.wait_for("beat: Starting", timeout=60)
        return proc

    def web(self, port: int) -> Proc:
        proc = self.start("web", "web", "--port", str(port))
        proc.wait_for("Uvicorn running", timeout=60)
        return proc

    @staticmethod
    def kill(proc: Proc) -> None:
        """SIGKILL the process and its children at once, as the OOM killer or a lost host would."""
        os.killpg(proc.process.pid, signal.SIGKILL)
        proc.process.wait()

    def record(self, row: Row) -> Row:
        ROWS.append(row)
        return row

    def logs(self) -> str:
        return "\n".join(p.summary(40) for p in self.procs)


@contextlib.contextmanager
def _database(folder: Path) -> Iterator[tuple[str, TcpProxy | None]]:
    if not _postgres_reachable():
        url = f"sqlite:///{folder / 'chaos.sqlite3'}"
        upgrade(url)
        yield url, None
        return
    name = f"cw_chaos_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    upgrade(f"{base}/{name}")
    proxy = TcpProxy(admin.url.port or 5432, admin.url.host or "127.0.0.1")
    host = f"127.0.0.1:{proxy.port}"
    try:
        yield f"{base.rsplit('@', 1)[0]}@{host}/{name}", proxy
    finally:
        proxy.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def cluster(tmp_path: Path, private_redis: RedisServer, standin: StandIn) -> Iterator[Cluster]:
    with _database(tmp_path) as (url, proxy):
        settings = make_settings(
            url,
            private_redis.url,
            standin.url,
            reminder_offsets="1h",
            dispatch_interval=1.0,
            send_rate=400.0,
            claim_lease="10s",
            # The stand-in checks every request against Twilio's OpenAPI description in this
            # (busy) test process: under a burst it answers in seconds, not milliseconds.
            twilio_timeout=5.0,
        )
        cluster = Cluster(
            settings,
            session_factory(make_engine(url, cipher=TEST_CIPHER)),
            standin,
            private_redis,
            tmp_path,
            proxy,
        )
        try:
            yield cluster
        finally:
            for proc in cluster.procs:
                proc.stop()
            cluster.sessions.kw["bind"].dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The one table the suite exists to print."""
    if not ROWS:
        return
    header = Row.header()
    table = [header, *(row.cells() for row in ROWS)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    terminalreporter.section("chaos: every planned message, counted at the stand-in")
    for line in table:
        pairs = enumerate(zip(line, widths, strict=True))
        cells = [cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in pairs]
        terminalreporter.write_line("  ".join(cells))
