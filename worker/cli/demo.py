"""`clinic-worker demo`: the real pipeline on throwaway defaults, finished in under a minute.

One patient, one appointment two minutes out, and then, in order: its two reminders, the
patient confirming, a short check-in answered by text, and a crisis text (the patient gets
the crisis numbers, on-call is paged). Every text is printed by the console SMS backend,
led by its local send time; nothing is sent anywhere. It ends with commands to try next.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet

from worker.cli.demo_console import StampedConsole
from worker.cli.demo_patient import Demo, TooSlow
from worker.cli.output import say, say_error
from worker.clinic import records
from worker.db.engine import cipher_for, engine_for, session_factory, transaction
from worker.db.migrate import upgrade
from worker.db.models import Appointment, utcnow
from worker.enums import FINAL_MESSAGE, MessageStatus
from worker.jobs.celery_app import app, attach_settings
from worker.jobs.queueing import enqueue_sends
from worker.lib.localtime import show
from worker.lib.privacy import mask_phone
from worker.messages.queries import messages_of_appointment
from worker.outbound.manual import queue_checkin
from worker.questionnaires.definitions import load_catalogue
from worker.questionnaires.results import result_rows
from worker.runtime import load_crisis_screener
from worker.safety.alerts import list_alerts
from worker.safety.notices import told_about
from worker.settings import Settings, config_file, load_settings, urgent_queue

DEMO_PHONE = "+12025550143"  # 555-01xx numbers: reserved for fiction
CLINIC_PHONE = "+12025550100"
ONCALL_PHONE = "+12025550199"
APPOINTMENT_IN = timedelta(minutes=2)
OFFSETS = "115s,105s"  # due 5 s and 15 s from now
TIME_LIMIT = 55.0
LOCAL_REDIS = "redis://localhost:6379/0"

CONFIRMATION = "Yes see you then"
CHECKIN = "checkin"
CHECKIN_ANSWERS = ("7", "no", "feeling calmer, thanks")
CRISIS_TEXT = "I want to end my life tonight"
NEXT_STEPS = (
    "clinic-worker replies list",
    "clinic-worker replies list --needs-attention",
    "clinic-worker alerts list --open",
    "clinic-worker alerts ack ID --by NAME",
    "clinic-worker results list",
    "clinic-worker appointments list --date today",
    "clinic-worker messages list --upcoming",
    "clinic-worker audit list --since 1h",
)


def _broker_url(url: str) -> str:
    """The given Redis when it answers, else Celery's in-process broker."""
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
        # Whatever the hour: quiet hours and planned follow-ups are in docs/; the demo starts
        # its check-in by hand.
        quiet_hours="off",
        followup_plan="none",
        send_rate=5.0,
        encryption_keys=Fernet.generate_key().decode(),  # throwaways: the data goes with the folder
        blind_index_keys=Fernet.generate_key().decode(),
        clinic_name="Riverside Clinic",
        clinic_phone=CLINIC_PHONE,
        oncall_number=ONCALL_PHONE,
        config_dir=None,
    )


def run_demo(redis_url: str = LOCAL_REDIS) -> None:
    with tempfile.TemporaryDirectory(prefix="clinic-worker-demo-") as folder:
        settings = demo_settings(Path(folder), redis_url)
        zone = ZoneInfo(settings.timezone)
        with contextlib.redirect_stdout(StampedConsole(sys.stdout, zone)):
            _run(settings, zone)


def _run(settings: Settings, zone: ZoneInfo) -> None:
    heading("Setting up")
    say(f"demo: database {settings.database_url} (deleted at the end)")
    say(f"demo: broker {settings.redis_url}, console SMS (texts are printed, not sent)")
    say(f"demo: clinic time zone {settings.timezone}; on-call {mask_phone(ONCALL_PHONE)}")
    upgrade(settings.database_url, cipher=cipher_for(settings))
    sessions = session_factory(engine_for(settings))
    demo = Demo(
        settings, sessions, load_crisis_screener(settings), 0, DEMO_PHONE, time.monotonic() + TIME_LIMIT
    )
    appointment_id = _seed(demo, zone)
    with _worker(settings):
        try:
            _reminders(demo, appointment_id)
            _confirmation(demo, appointment_id)
            _questionnaire(demo, zone)
            _safety_alert(demo, zone)
        except TooSlow:
            say_error("demo: the worker did not finish in time; the steps above show how far it got")
            raise SystemExit(1) from None
    _next_steps()


def heading(title: str) -> None:
    say("")
    say(f"== {title} ==")


def _seed(demo: Demo, zone: ZoneInfo) -> int:
    now = utcnow()
    with transaction(demo.sessions) as session:
        patient = records.add_patient(
            session, demo.settings, records.PatientInput("Demo Patient", DEMO_PHONE), "demo", now
        )
        appointment, result = records.add_appointment(
            session, demo.settings, patient.id, now + APPOINTMENT_IN, actor="demo", now=now
        )
        demo.patient_id = patient.id
        say(
            f"demo: patient {patient.id} (Demo Patient, {mask_phone(DEMO_PHONE)}), appointment "
            f"{appointment.id} at {show(appointment.start_at, zone)}, {result.planned} reminders "
            f"planned ({OFFSETS} before)"
        )
        return appointment.id


@contextlib.contextmanager
def _worker(settings: Settings) -> Any:
    """A real Celery worker in this process, on both queues (sends, and the urgent one:
    replies and safety texts)."""
    from celery.contrib.testing.worker import start_worker

    attach_settings(app, settings)
    queues = [settings.queue_name, urgent_queue(settings)]
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=10,
        queues=queues,
    ):
        yield


def _reminders(demo: Demo, appointment_id: int) -> None:
    heading("1. Reminders go out when they are due")
    demo.wait_for(lambda: _all_sent(demo, appointment_id))
    with demo.sessions() as session:
        rows = messages_of_appointment(session, appointment_id)
    for row in rows:
        late = (row.sent_at - row.due_at).total_seconds() if row.sent_at else None
        timing = f", {late:.1f}s after due" if late is not None else ""
        say(f"demo: message {row.id} {row.status}{timing}")
    sent = sum(1 for row in rows if row.status == MessageStatus.SENT)
    say(f"demo: {sent} of {len(rows)} reminders sent")


def _all_sent(demo: Demo, appointment_id: int) -> bool:
    with demo.sessions() as session:
        statuses = [m.status for m in messages_of_appointment(session, appointment_id)]
    done = (*FINAL_MESSAGE, MessageStatus.SENT, MessageStatus.AMBIGUOUS)
    return bool(statuses) and all(status in done for status in statuses)


def _confirmation(demo: Demo, appointment_id: int) -> None:
    heading("2. The patient confirms by text")
    say(f'patient texts: "{CONFIRMATION}"')
    inbound_id = demo.answer(CONFIRMATION)
    with demo.sessions() as session:
        appointment = session.get(Appointment, appointment_id)
        status = appointment.status if appointment is not None else "gone"
    say(f"demo: reply {inbound_id} read as a confirmation; appointment {appointment_id} is {status}")


def _questionnaire(demo: Demo, zone: ZoneInfo) -> None:
    heading("3. A short check-in, answered by text")
    catalogue = load_catalogue(config_file(demo.settings, "questionnaires"))
    with transaction(demo.sessions) as session:
        message = queue_checkin(
            session,
            demo.settings,
            catalogue,
            demo.patient_id,
            CHECKIN,
            appointment_id=None,
            actor="demo",
            now=utcnow(),
        )
        message_id = message.id
    enqueue_sends(demo.settings, [message_id])
    demo.wait_for(demo.settled)
    for answer in CHECKIN_ANSWERS:
        say(f'patient texts: "{answer}"')
        demo.answer(answer)
    with demo.sessions() as session:
        run = result_rows(session, catalogue, demo.patient_id)[-1]
    answers = ", ".join(f"{key} {_plain(value)}" for key, value in (run.get("answers") or {}).items())
    say(f"demo: check-in {run['id']} {run['status']}: {answers}")


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _safety_alert(demo: Demo, zone: ZoneInfo) -> None:
    heading("4. A crisis text raises a safety alert")
    say(f'patient texts: "{CRISIS_TEXT}"')
    inbound_id = demo.patient_texts(CRISIS_TEXT)
    alert_id = _alert_of(demo, inbound_id)
    demo.wait_for(lambda: demo.settled(inbound_id, alert_id))
    with demo.sessions() as session:
        alert = next(a for a in list_alerts(session) if a.id == alert_id)
        told = told_about(session, [alert_id])[alert_id]
        category, created = alert.category, alert.created_at
    say(f"demo: alert {alert_id} ({category}) opened {show(created, zone)}")
    say("demo: the patient got the crisis numbers at once; on-call was paged")
    for t in told:
        at = show(t.sent_at or t.queued_at, zone)
        say(f"demo: on-call {mask_phone(t.to_number)} paged ({t.template}), {t.status} {at}")
    say("demo: on-call is texted again until someone runs `alerts ack` (or texts back ACK)")


def _alert_of(demo: Demo, inbound_id: int) -> int:
    """The alert this text raised: committed with the text itself, before any worker ran."""
    with demo.sessions() as session:
        alert_id = next((a.id for a in list_alerts(session) if a.inbound_id == inbound_id), None)
    if alert_id is None:
        raise TooSlow  # the screener did not read it as a crisis: config/crisis_rules.yaml changed
    return alert_id


def _next_steps() -> None:
    heading("Next")
    say("demo: finished. Its database is gone; on your own (`clinic-worker db upgrade`,")
    say("      then `patients add` and `appointments add`), try:")
    for command in NEXT_STEPS:
        say(f"  {command}")
    say("Every command and setting: docs/operations.md")
