"""The whole pipeline as deployed: real `clinic-worker worker` and `beat` processes on a
private Redis, the real twilio client talking to the stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import TEST_CIPHER, RedisServer, make_settings, settings_env
from tests.helpers import add_appointment, add_patient, all_settled, eventually, messages_of
from tests.twilio_standin import StandIn
from worker.clinic import records
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import Patient, utcnow

pytestmark = pytest.mark.slow


def test_reminders_go_out_once_each_on_time_and_only_to_those_who_should_get_them(
    db_url: str, redis_server: RedisServer, standin: StandIn, spawn: Any
) -> None:
    settings = make_settings(
        db_url, redis_server.url, standin.url, reminder_offsets="8s,4s", dispatch_interval=1.0, send_rate=20.0
    )
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    worker = spawn(["worker", "--concurrency", "2"], settings, "worker")
    beat = spawn(["beat"], settings, "beat")
    worker.wait_for("ready")
    beat.wait_for("beat: Starting")

    start = utcnow() + timedelta(seconds=14)
    phones = {
        name: f"+1202555{n:04d}"
        for n, name in enumerate(["ok", "stopped", "noconsent", "moved", "gone"], 150)
    }
    ids = {
        name: add_patient(sessions, settings, phone, consent=(name != "noconsent"))
        for name, phone in phones.items()
    }
    appts = {name: add_appointment(sessions, settings, pid, start) for name, pid in ids.items()}
    with transaction(sessions) as session:
        session.execute(update(Patient).where(Patient.id == ids["stopped"]).values(opted_out=True))
        records.reschedule_appointment(
            session, settings, appts["moved"], start + timedelta(seconds=4), actor="test", now=utcnow()
        )
        records.cancel_appointment(session, settings, appts["gone"], actor="test", now=utcnow())

    # Every row past sending: a second send of any of them could only have happened before.
    eventually(lambda: len(standin.accepted) >= 4 and all_settled(sessions, appts.values()), timeout=40)

    got = {name: standin.accepted_to(phone) for name, phone in phones.items()}
    assert {name: len(sms) for name, sms in got.items()} == {
        "ok": 2,
        "stopped": 0,
        "noconsent": 0,
        "moved": 2,
        "gone": 0,
    }, worker.output()[-2000:]
    for name in ("ok", "moved"):
        rows = [m for m in messages_of(sessions, appts[name]) if m.status == "sent"]
        assert len(rows) == 2
        for row in rows:
            [sms] = [s for s in got[name] if s.sid == row.twilio_sid]
            lateness = sms.at - row.due_at.timestamp()
            assert 0 <= lateness < 3.5, f"{name} sent {lateness:.1f}s after due"
            assert sms.body.endswith("Reply C to confirm or R to reschedule")
    assert {m.status for m in messages_of(sessions, appts["stopped"])} == {"skipped"}
    assert {m.status for m in messages_of(sessions, appts["noconsent"])} == {"skipped"}
    assert {m.status for m in messages_of(sessions, appts["gone"])} == {"cancelled"}
    assert phones["ok"] not in worker.output() + beat.output()


def test_with_quiet_hours_covering_now_reminders_are_moved_and_nothing_is_sent(
    db_url: str, redis_server: RedisServer, standin: StandIn, spawn: Any
) -> None:
    now = utcnow()
    window = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    settings = make_settings(
        db_url,
        redis_server.url,
        standin.url,
        timezone="UTC",
        reminder_offsets="80m",
        dispatch_interval=1.0,
        quiet_hours=window,
    )
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    worker = spawn(["worker", "--concurrency", "2"], settings, "worker")
    beat = spawn(["beat"], settings, "beat")
    worker.wait_for("ready")
    beat.wait_for("beat: Starting")
    pid = add_patient(sessions, settings, "+12025550171", timezone="UTC")
    appt = add_appointment(sessions, settings, pid, utcnow() + timedelta(minutes=90))
    planned = messages_of(sessions, appt)[0]
    assert planned.original_due_at is not None and planned.adjust_reason.endswith("moved to their end")
    # An operator's "send now" inside the window reaches a worker, which places it again.
    result = subprocess.run(
        [sys.executable, "-m", "worker", "send", "reminder", str(appt), "--json"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    manual = json.loads(result.stdout)["id"]
    unsettled = ("queued", "sending")
    eventually(
        lambda: next(m for m in messages_of(sessions, appt) if m.id == manual).status not in unsettled, 15
    )
    assert standin.accepted == []
    # Placed again it would land on the planned reminder's minute: one text, not two.
    moved = next(m for m in messages_of(sessions, appt) if m.id == manual)
    assert moved.status == "skipped" and moved.reason.endswith("another reminder already goes then")
