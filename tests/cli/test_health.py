"""A stuck queue is visible: `clinic-worker doctor` and GET /healthz/details name it, while
the readiness probe, which an orchestrator acts on, stays 200."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_CIPHER, Cli
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import Message, utcnow
from worker.enums import MessageStatus
from worker.runtime import Runtime
from worker.settings import Settings, load_settings
from worker.web import create_app


def _stick(sessions: sessionmaker[Session], settings: Settings) -> None:
    """A reminder due ten minutes ago and never claimed, one whose task was lost long ago
    (queued, lease run out), and one held in `sending` past its lease."""
    patient = add_patient(sessions, settings)
    appointments = [
        add_appointment(sessions, settings, patient, in_minutes(days * 24 * 60)) for days in (9, 10)
    ]
    first, second, third = [m for a in appointments for m in messages_of(sessions, a)][:3]
    now = utcnow()
    long_ago = now - timedelta(minutes=10)
    with transaction(sessions) as session:
        session.execute(update(Message).where(Message.id == first.id).values(due_at=long_ago))
        session.execute(
            update(Message)
            .where(Message.id == second.id)
            .values(status=MessageStatus.QUEUED, due_at=long_ago, lease_until=long_ago)
        )
        session.execute(
            update(Message)
            .where(Message.id == third.id)
            .values(status=MessageStatus.SENDING, lease_until=now - timedelta(minutes=1))
        )


def test_doctor_names_a_stuck_queue_and_a_stuck_send(cli: Cli) -> None:
    settings = load_settings(database_url=cli.env["CLINIC_DATABASE_URL"], reminder_offsets="48h,2h")
    cli.run("db", "upgrade")
    engine = make_engine(settings.database_url, cipher=TEST_CIPHER)
    _stick(session_factory(engine), settings)
    engine.dispose()
    result = cli.run("doctor", "--json", ok=False)
    assert result.returncode == 1
    queue = json.loads(result.stdout)["queue"]
    assert queue["ok"] is False
    assert "2 due message(s) not claimed since" in queue["detail"]
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d E[SD]T:", queue["detail"])  # the clinic's clock
    assert "is beat running?" in queue["detail"]
    assert "1 message(s) stuck in sending" in queue["detail"]


@pytest.mark.anyio
async def test_a_stuck_queue_is_named_in_the_details_and_leaves_the_probes_at_200(runtime: Runtime) -> None:
    _stick(runtime.sessions, runtime.settings)
    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        probes = [await client.get(path) for path in ("/livez", "/readyz", "/healthz")]
        response = await client.get("/healthz/details")
    assert [probe.status_code for probe in probes] == [200, 200, 200]
    assert response.status_code == 200
    assert response.json()["ok"] is False
    queue = response.json()["checks"]["queue"]
    assert queue["ok"] is False and "not claimed" in queue["detail"] and "stuck in sending" in queue["detail"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
