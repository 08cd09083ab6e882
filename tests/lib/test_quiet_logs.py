"""Quiet logs: routine runs at DEBUG with a summary a minute at INFO, no Alembic lines per
health check, no ANSI colour copies in log lines; then the real processes, as deployed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings
from tests.helpers import add_appointment, add_patient, eventually, messages_of
from tests.twilio_standin import StandIn
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import current_revision, upgrade
from worker.db.models import utcnow
from worker.lib.logs import JsonFormatter, Summary, TextFormatter, configure_logging


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """configure_logging changes the root logger and celery.beat's filters: put them back."""
    root, beat = logging.getLogger(), logging.getLogger("celery.beat")
    handlers, level, filters = root.handlers[:], root.level, beat.filters[:]
    yield
    root.handlers[:], beat.filters[:] = handlers, filters
    root.setLevel(level)


def _uvicorn_record() -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "uvicorn.error", "levelno": logging.INFO, "levelname": "INFO"})
    record.msg = "Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"
    record.color_message = "Uvicorn running on \x1b[1mhttp://127.0.0.1:8000\x1b[0m (Press CTRL+C to quit)"
    record.count = 3
    return record


def test_given_uvicorns_colour_copy_of_a_message_expect_neither_format_to_carry_it() -> None:
    entry = json.loads(JsonFormatter().format(_uvicorn_record()))
    assert "color_message" not in entry and entry["count"] == 3
    assert entry["msg"].startswith("Uvicorn running on http://127.0.0.1:8000")
    text = TextFormatter().format(_uvicorn_record())
    assert "\x1b" not in text and "color_message" not in text and text.endswith("count=3")


def _sent_by_beat(capsys: pytest.CaptureFixture[str], level: str) -> list[str]:
    configure_logging(level, "json")
    beat = logging.getLogger("celery.beat")
    beat.info("beat: Starting...")
    beat.info("Scheduler: Sending due task %s (%s)", "dispatch-due-messages", "worker.outbound.dispatch")
    return capsys.readouterr().err.splitlines()


def test_given_info_level_expect_beats_routine_sending_lines_dropped_and_its_start_kept(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    lines = [json.loads(line) for line in _sent_by_beat(capsys, "INFO")]
    assert [(e["level"], e["msg"]) for e in lines] == [("info", "beat: Starting...")]


def test_given_debug_level_expect_beats_sending_lines_kept_at_debug(
    capsys: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    lines = [json.loads(line) for line in _sent_by_beat(capsys, "DEBUG")]
    assert [e["level"] for e in lines] == ["info", "debug"]
    assert lines[1]["msg"].startswith("Scheduler: Sending due task dispatch-due-messages")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_given_runs_within_a_minute_expect_one_info_summary_with_their_total(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    summary = Summary(logging.getLogger("test.summary"), "dispatcher summary", clock=clock)
    caplog.set_level(logging.DEBUG, "test.summary")
    for count in (2, 0, 5):
        summary.add(dispatched=count)
        clock.now += 20
    assert caplog.records == []  # 40 s in: nothing yet
    summary.add(dispatched=1)  # 60 s in
    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == ("INFO", "dispatcher summary")
    assert (record.dispatched, record.runs, record.seconds) == (8, 4, 60)  # type: ignore[attr-defined]
    clock.now += 30
    summary.add(dispatched=4)  # counted from the last summary, not from the start
    clock.now += 30
    summary.add(dispatched=0)
    assert [r.dispatched for r in caplog.records] == [8, 4]  # type: ignore[attr-defined]


def test_given_a_minute_with_nothing_dispatched_expect_the_summary_at_debug_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    summary = Summary(logging.getLogger("test.summary"), "dispatcher summary", clock=clock)
    caplog.set_level(logging.DEBUG, "test.summary")
    clock.now += 61
    summary.add(dispatched=0)
    assert [(r.levelname, r.dispatched) for r in caplog.records] == [("DEBUG", 0)]  # type: ignore[attr-defined]


def test_given_a_schema_check_expect_no_alembic_lines_while_a_migration_still_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'quiet.sqlite3'}"
    caplog.set_level(logging.INFO)
    upgrade(url)
    assert any(r.name.startswith("alembic") for r in caplog.records), "db upgrade says what it does"
    caplog.clear()
    engine = make_engine(url)
    try:
        for _ in range(3):
            assert current_revision(engine) is not None
    finally:
        engine.dispose()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []


@pytest.mark.slow
def test_given_the_deployed_processes_expect_no_routine_info_lines_no_alembic_and_no_ansi(
    db_url: str, redis_server: RedisServer, standin: StandIn, spawn: Any
) -> None:
    settings = make_settings(
        db_url, redis_server.url, standin.url, reminder_offsets="4s", dispatch_interval=1.0, log_format="json"
    )
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    port = free_port()
    procs = {
        "web": spawn(["web", "--port", str(port)], settings, "web"),
        "worker": spawn(["worker", "--concurrency", "2"], settings, "worker"),
        "beat": spawn(["beat"], settings, "beat"),
    }
    for name, ready in (("web", "Uvicorn running"), ("worker", "ready"), ("beat", "beat: Starting")):
        procs[name].wait_for(ready)
    appt = add_appointment(
        sessions, settings, add_patient(sessions, settings), utcnow() + timedelta(seconds=8)
    )
    for _ in range(3):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    eventually(lambda: messages_of(sessions, appt)[0].status == "sent", timeout=30)
    eventually(lambda: procs["beat"].output().count("\n") >= 1, timeout=5)

    out = {name: proc.output() for name, proc in procs.items()}
    assert "Sending due task" not in out["beat"], out["beat"][-2000:]
    assert '"msg": "dispatched"' not in out["worker"]
    assert "Context impl" not in out["web"] and "transactional DDL" not in out["web"], out["web"][-2000:]
    assert "color_message" not in out["web"] and "\\u001b[" not in out["web"]
    assert '"msg": "Uvicorn running on' in out["web"]
