"""A large import is written in batches, each planning its messages at once, and plans
exactly what re-planning each appointment alone would."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli, RedisServer, make_settings, settings_env
from tests.twilio_standin import StandIn
from worker.clinic import import_write, importer
from worker.db import audit
from worker.db.models import Appointment, Message, Patient, utcnow
from worker.enums import MessageStatus
from worker.messages.replan import ReplanResult, replan
from worker.settings import Settings

AREAS = ("202", "312", "415", "617", "212")
ZONES = ("America/New_York", "America/Los_Angeles", "America/Chicago", "")
SPRING_FORWARD = date(2031, 3, 9)  # 02:00-02:59 is skipped on the clinic's clock (New York)


def _rows(count: int) -> str:
    """`count` appointments for count * 3 // 4 patients, spread over every hour of the day."""
    lines = ["name,phone,start,duration,kind,timezone,language\n"]
    first = datetime(2031, 3, 4, 6, 0)
    for n in range(count):
        person = n % (count * 3 // 4)
        phone = f"+1 {AREAS[person % 5]} 555 {person // 5:04d}"
        moment = first + timedelta(minutes=37 * n)
        if moment.date() == SPRING_FORWARD and moment.hour == 2:  # no such time: the import refuses it
            moment += timedelta(hours=1)
        start = moment.isoformat(timespec="minutes")
        lines.append(f"Person {person},{phone},{start},45,session,{ZONES[person % 4]},en\n")
    return "".join(lines)


def test_given_2000_rows_when_imported_expect_every_message_planned_as_replan_would(
    db_url: str,
    redis_server: RedisServer,
    standin: StandIn,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    settings = make_settings(
        db_url,
        redis_server.url,
        standin.url,
        reminder_offsets="48h,2h",
        quiet_hours="21:00-08:00",
        followup_plan="checkin@24h,phq9@7d",
    )
    path = tmp_path / "big.csv"
    path.write_text(_rows(2000))
    report = Cli(settings_env(settings), tmp_path).json("appointments", "import", str(path))
    assert (report["imported"], report["patients_created"], report["invalid"]) == (2000, 1500, [])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 1500
        # Two reminders and two follow-ups each; quiet hours move some and skip a few.
        assert session.scalar(select(func.count()).select_from(Message)) == 8000
        statuses = set(session.scalars(select(Message.status).distinct()))
        assert statuses <= {MessageStatus.PLANNED, MessageStatus.SKIPPED}
        moved = session.scalar(select(func.count()).where(Message.original_due_at.is_not(None)))
        assert moved and moved > 0
        sample = session.scalars(select(Appointment).where(Appointment.id % 97 == 1)).all()
        for appointment in sample:
            assert replan(session, appointment, settings, utcnow(), "check") == ReplanResult(0, 0)
        session.rollback()


def test_given_2500_ready_rows_expect_three_batches_each_reported_and_audited(
    db_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(_rows(2500))
    now = utcnow()
    report = importer.read_rows(path, db_settings, now)
    with sessions() as session:
        importer.check_against_database(session, report, update_patients=False)
    ticks: list[int] = []
    import_write.write(sessions, db_settings, report, actor="operator:test", now=now, progress=ticks.append)
    assert ticks == [1000, 1000, 500]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 2500
        rows = audit.entries(session, patient_id=1875)  # the last new patient
        assert [e.action for e in rows] == ["patients.import", "appointments.import"]
        actions = [e.action for e in audit.entries(session)]
    assert actions.count("appointments.import") == 3
