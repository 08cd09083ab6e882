"""Shared fixtures: a private redis-server, the Twilio stand-in, SQLite and PostgreSQL
databases, Settings for a test, and real worker/beat processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.twilio_standin import StandIn, load_openapi
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import upgrade
from worker.db.models import Base
from worker.lib.crypto import Cipher
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings, load_settings

TEST_KEY = Fernet.generate_key().decode()
TEST_INDEX_KEY = Fernet.generate_key().decode()
# Rows the tests read directly are encrypted under the keys every test's Settings carry.
TEST_CIPHER = Cipher([TEST_KEY], [TEST_INDEX_KEY])
ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "standin-auth-token"
FROM_NUMBER = "+12025550100"
PG_ADMIN_URL = os.environ.get("CLINIC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server with no persistence, restartable by the chaos tests."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (.ci/run installs it with apt)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _standin_session() -> Iterator[StandIn]:
    standin = StandIn(ACCOUNT_SID, AUTH_TOKEN, load_openapi())
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def standin(_standin_session: StandIn) -> Iterator[StandIn]:
    _standin_session.reset()
    yield _standin_session
    assert not _standin_session.invalid, "the worker sent requests Twilio's API would refuse"


def _postgres_reachable() -> bool:
    try:
        engine = make_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own on the server at PG_ADMIN_URL, named
    `prefix_<random>`: its URL while the block runs, dropped afterwards. Skips the test
    when PostgreSQL is not reachable."""
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not reachable")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_database("cw_test") as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and, when reachable, on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        upgrade(url)
        return url
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url, cipher=TEST_CIPHER)
    with engine.begin() as connection:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def make_settings(db_url: str, redis_url: str, standin_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "redis_url": redis_url,
        "queue_name": f"cw-test-{uuid.uuid4().hex[:8]}",
        "clinic_name": "Riverside Clinic",
        "clinic_phone": "+12025550111",
        "timezone": "America/New_York",
        "public_url": "https://clinic.example.org",
        "send_rate": 100.0,
        "config_dir": None,
        # Off unless a test is about them: the suite must pass at any hour of the day.
        "quiet_hours": "off",
        "followup_plan": "none",
        "encryption_keys": TEST_KEY,  # follow-ups are planned only where a test is about them
        "blind_index_keys": TEST_INDEX_KEY,
    }
    if standin_url is not None:
        values.update(
            sms_backend="twilio",
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_from_number=FROM_NUMBER,
            twilio_api_url=standin_url,
            twilio_timeout=2.0,
        )
    values.update(overrides)
    return load_settings(**values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as CLINIC_* variables, for a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name == "quiet_hours" and value is None:
            env["CLINIC_QUIET_HOURS"] = "off"
        elif value is not None:
            env[f"CLINIC_{name.upper()}"] = _env_value(name, value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _env_value(name: str, value: Any) -> str:
    if name == "reminder_offsets":
        return ",".join(f"{int(o.total_seconds())}s" for o in value)
    if hasattr(value, "total_seconds"):
        return f"{int(value.total_seconds())}s"
    if hasattr(value, "get_secret_value"):
        return str(value.get_secret_value())
    if isinstance(value, tuple):
        return ",".join(str(part) for part in value)
    return str(value)


@pytest.fixture
def settings(db_url: str, redis_server: RedisServer, standin: StandIn) -> Settings:
    """Settings for the real boundaries: the shared Redis and the Twilio stand-in."""
    return make_settings(db_url, redis_server.url, standin.url)


@pytest.fixture
def db_settings(db_url: str) -> Settings:
    """Settings for tests of the database alone: no Redis (in-memory broker), console SMS."""
    return make_settings(db_url, "memory://")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test database, for tests that need nothing else (no Redis, no SMS)."""
    engine = make_engine(db_url, cipher=TEST_CIPHER)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    upgrade(url)
    engine = make_engine(url, cipher=TEST_CIPHER)
    yield session_factory(engine)
    engine.dispose()


class Proc:
    """A clinic-worker child process (worker, beat, web) with its output kept in a file."""

    started: list[Proc] = []  # this test's processes, for the report of a failure

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        Proc.started.append(self)
        self.log = log
        self._file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker", *args],
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def summary(self, lines: int = 60) -> str:
        """Running or exit code, and the log's tail without the per-send lines that would
        fill it: what a failure needs to tell a hang from a death."""
        code = self.process.poll()
        state = "running" if code is None else f"exited {code}"
        kept = [line for line in self.output().splitlines() if '"msg": "message sent"' not in line]
        return f"--- {self.log.name} ({state})\n" + "\n".join(kept[-lines:])

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not seen; output:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._file.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test that started processes reports each one's state and log."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "setup":
        Proc.started = []
    elif report.failed and Proc.started:
        report.sections.append(("clinic-worker processes", "\n".join(p.summary() for p in Proc.started)))


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    started: list[Proc] = []

    def _spawn(args: list[str], settings: Settings, name: str) -> Proc:
        proc = Proc(args, settings_env(settings), tmp_path / f"{name}.log")
        started.append(proc)
        return proc

    yield _spawn
    for proc in started:
        proc.stop()


class Cli:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "worker", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def cli(db_url: str, redis_server: RedisServer, standin: StandIn, tmp_path: Path) -> Cli:
    settings = make_settings(db_url, redis_server.url, standin.url, reminder_offsets="48h,2h")
    return Cli(settings_env(settings), tmp_path)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, to stop and start mid-test; stopped however the test ends."""
    folder = tmp_path / "private-redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    server.stop()
