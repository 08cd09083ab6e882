"""Beat stops: the webhook receivers must keep serving (liveness and readiness stay 200),
while /healthz/details and /metrics show the due backlog growing, so that someone is paged
about it rather than the receivers being restarted over it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_CIPHER, free_port
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of, start_stack
from tests.metrics.scraped import samples, value
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import Message, utcnow
from worker.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)]


def _overdue_reminder(
    sessions: sessionmaker[Session], settings: Settings, minutes_late: int, phone: str
) -> None:
    """An appointment far ahead whose first reminder is made due `minutes_late` ago."""
    patient = add_patient(sessions, settings, phone)
    appointment = add_appointment(sessions, settings, patient, in_minutes(7 * 24 * 60))
    first = messages_of(sessions, appointment)[0]
    with transaction(sessions) as session:
        late = utcnow() - timedelta(minutes=minutes_late)
        session.execute(update(Message).where(Message.id == first.id).values(due_at=late))


def _look(base: str) -> tuple[list[int], dict[str, Any], str]:
    probes = [
        httpx.get(f"{base}{path}", timeout=10).status_code for path in ("/livez", "/readyz", "/healthz")
    ]
    return probes, httpx.get(f"{base}/healthz/details", timeout=10).json(), httpx.get(f"{base}/metrics").text


def test_given_beat_stopped_when_reminders_fall_due_expect_probes_200_and_the_backlog_shown_growing(
    settings: Settings, spawn: Any
) -> None:
    port = free_port()
    web, _worker, beat = start_stack(spawn, settings, port)
    base = f"http://127.0.0.1:{port}"
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    beat.stop()

    _overdue_reminder(sessions, settings, 10, "+12025550141")
    probes, first, first_metrics = _look(base)
    _overdue_reminder(sessions, settings, 5, "+12025550142")
    _overdue_reminder(sessions, settings, 5, "+12025550143")
    again, second, second_metrics = _look(base)

    assert probes == again == [200, 200, 200]
    assert first["ok"] is False and "is beat running?" in first["checks"]["queue"]["detail"]
    assert (first["database"]["due_backlog"], second["database"]["due_backlog"]) == (1, 3)
    assert second["database"]["oldest_due_age_seconds"] >= 600
    for metrics, backlog in ((first_metrics, 1), (second_metrics, 3)):
        found = samples(metrics)
        assert value(found, "clinic_due_backlog_messages") == backlog
        assert (value(found, "clinic_oldest_due_age_seconds") or 0) >= 600
    assert web.process.poll() is None
