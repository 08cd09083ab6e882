"""`clinic-worker demo`: the real pipeline on throwaway defaults, finished in under a minute."""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from worker.cli.output import say
from worker.clinic import records
from worker.db.engine import cipher_for, engine_for, session_factory, transaction
from worker.db.migrate import upgrade
from worker.db.models import utcnow
from worker.enums import FINAL_MESSAGE, MessageStatus
from worker.jobs.celery_app import app, attach_settings
from worker.jobs.tasks import dispatch
from worker.messages.queries import messages_of_appointment
from worker.settings import Settings, load_settings

DEMO_PHONE = "+12025550143"  # a 555-01xx number: reserved for fiction
APPOINTMENT_IN = timedelta(minutes=2)
OFFSETS = "110s,90s"  # due 10 s and 30 s from now
TIME_LIMIT = 55.0


LOCAL_REDIS = "redis://localhost:6379/0"


def _broker_url(url: str) -> str:
    """The local Redis when one answers, else Celery's in-process broker."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception:
        return "memory://localhost/"
    return url


def demo_settings(folder: Path, redis_url: str) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{folder / 'demo.sqlite3'}",
        redis_url=_broker_url(redis_url),
        # A queue of its own, so the demo never touches a real deployment's tasks.
        queue_name=f"clinic-worker-demo-{uuid.uuid4().hex[:8]}",
        sms_backend="console",
        reminder_offsets=OFFSETS,
        dispatch_interval=2.0,
        # Whatever the hour, and reminders only: quiet hours and questionnaires are in docs/.
        quiet_hours="off",
        followup_plan="none",
        send_rate=5.0,
        encryption_keys=Fernet.generate_key().decode(),  # throwaways: the data goes with the folder
        blind_index_keys=Fernet.generate_key().decode(),
        clinic_name="Riverside Clinic",
        clinic_phone="+12025550100",
        config_dir=None,
    )


def run_demo(redis_url: str = LOCAL_REDIS) -> None:
    with tempfile.TemporaryDirectory(prefix="clinic-worker-demo-") as folder:
        settings = demo_settings(Path(folder), redis_url)
        say(f"demo: database {settings.database_url}, broker {settings.redis_url}, console SMS")
        upgrade(settings.database_url, cipher=cipher_for(settings))
        sessions = session_factory(engine_for(settings))
        appointment_id = _seed(settings, sessions)
        _run_pipeline(settings, sessions, appointment_id)


def _seed(settings: Settings, sessions: Any) -> int:
    now = utcnow()
    with transaction(sessions) as session:
        patient = records.add_patient(
            session, settings, records.PatientInput("Demo Patient", DEMO_PHONE), "demo", now
        )
        appointment, result = records.add_appointment(
            session, settings, patient.id, now + APPOINTMENT_IN, actor="demo", now=now
        )
        say(
            f"demo: patient {patient.id}, appointment {appointment.id} at "
            f"{appointment.start_at:%H:%M:%S} UTC, {result.planned} reminders planned ({OFFSETS} before)"
        )
        return appointment.id


def _run_pipeline(settings: Settings, sessions: Any, appointment_id: int) -> None:
    from celery.contrib.testing.worker import start_worker

    attach_settings(app, settings)
    deadline = time.monotonic() + TIME_LIMIT
    with start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        while time.monotonic() < deadline:
            dispatch()  # what beat would start every CLINIC_DISPATCH_INTERVAL seconds
            if _all_final(sessions, appointment_id):
                break
            time.sleep(settings.dispatch_interval)
    _summary(sessions, appointment_id)


def _all_final(sessions: Any, appointment_id: int) -> bool:
    with sessions() as session:
        statuses = [m.status for m in messages_of_appointment(session, appointment_id)]
    done = (*FINAL_MESSAGE, MessageStatus.SENT, MessageStatus.AMBIGUOUS)
    return bool(statuses) and all(status in done for status in statuses)


def _summary(sessions: Any, appointment_id: int) -> None:
    with sessions() as session:
        rows = messages_of_appointment(session, appointment_id)
    for row in rows:
        late = (row.sent_at - row.due_at).total_seconds() if row.sent_at else None
        timing = f", {late:.1f}s after due" if late is not None else ""
        say(f"demo: message {row.id} {row.status}{timing}")
    sent = sum(1 for row in rows if row.status == MessageStatus.SENT)
    say(f"demo: finished, {sent} of {len(rows)} reminders sent")
