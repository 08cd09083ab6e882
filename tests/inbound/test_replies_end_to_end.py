"""Replies as deployed: signed webhooks posted to a real `clinic-worker web`, processed by real
worker and beat processes on a private Redis that is stopped and started mid-test."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_CIPHER, RedisServer, free_port, make_settings
from tests.helpers import add_appointment, add_patient, answering, eventually, messages_of
from tests.twilio_standin import StandIn
from tests.webhooks import inbound_form, signed, status_form
from worker.db.engine import make_engine, session_factory
from worker.db.models import Appointment, InboundMessage, Patient, utcnow

pytestmark = pytest.mark.slow


def test_replies_confirm_flag_opt_out_and_survive_a_redis_outage(
    db_url: str, standin: StandIn, spawn: Any, tmp_path: Path, private_redis: RedisServer
) -> None:
    redis_server = private_redis
    port = free_port()
    settings = make_settings(
        db_url, redis_server.url, standin.url, reminder_offsets="40s", dispatch_interval=1.0, send_rate=20.0
    )
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    web = spawn(["web", "--port", str(port), "--workers", "2"], settings, "web")  # as compose runs it
    worker = spawn(["worker", "--concurrency", "2"], settings, "worker")
    beat = spawn(["beat"], settings, "beat")
    for proc, ready in ((web, "Uvicorn running"), (worker, "ready"), (beat, "beat: Starting")):
        proc.wait_for(ready)
    eventually(lambda: answering(f"http://127.0.0.1:{port}"), timeout=60)
    phones = [f"+1202555{n:04d}" for n in (161, 162, 163)]
    appts = []
    for phone in phones:
        pid = add_patient(sessions, settings, phone)
        appts.append(add_appointment(sessions, settings, pid, utcnow() + timedelta(seconds=42)))
    eventually(lambda: len(standin.accepted) == 3)  # each patient got the reminder

    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")

    def post(path: str, form: list[tuple[str, str]], **kw: Any) -> int:
        return client.post(path, **signed(path, form, **kw)).status_code

    def status_of(appt: int) -> str:
        with sessions() as session:
            return session.get_one(Appointment, appt).status

    def opted_out(phone: str) -> bool:
        with sessions() as session:
            return next(p for p in session.query(Patient) if p.phone == phone).opted_out

    def inbound_count() -> int:
        with sessions() as session:
            return len(session.query(InboundMessage).all())

    # C confirms, R flags.
    assert post("/twilio/sms", inbound_form("C", phones[0])) == 200
    assert post("/twilio/sms", inbound_form("R", phones[1])) == 200
    eventually(lambda: status_of(appts[0]) == "confirmed" and status_of(appts[1]) == "reschedule_requested")

    # STOP opts out; a tampered copy is refused; the same MessageSid twice is one row.
    stop = inbound_form("STOP", phones[2])
    tampered = signed("/twilio/sms", stop)
    tampered["content"] = tampered["content"].replace(b"STOP", b"HELP")
    assert client.post("/twilio/sms", **tampered).status_code == 403
    assert (
        client.post(
            "/twilio/sms",
            content=signed("/twilio/sms", stop)["content"],
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
        == 403
    )
    assert post("/twilio/sms", stop) == 200
    assert post("/twilio/sms", stop) == 200
    eventually(lambda: opted_out(phones[2]))
    assert inbound_count() == 3

    # Callbacks out of order: delivered then sent leaves it delivered.
    first = messages_of(sessions, appts[0])[0]
    assert post("/twilio/status", status_form(first.twilio_sid or "", "delivered")) == 200
    assert post("/twilio/status", status_form(first.twilio_sid or "", "sent")) == 200
    assert messages_of(sessions, appts[0])[0].status == "delivered"

    # START while Redis is down: stored and answered at once, processed when Redis is back.
    redis_server.stop()
    started = time.monotonic()
    assert post("/twilio/sms", inbound_form("START", phones[2])) == 200
    assert time.monotonic() - started < 10
    assert inbound_count() == 4
    redis_server.start()
    eventually(lambda: not opted_out(phones[2]), timeout=40)
    assert "beat lost its lock" in beat.output()
    assert phones[0] not in web.output() + worker.output() + beat.output()
    redis_server.stop()
