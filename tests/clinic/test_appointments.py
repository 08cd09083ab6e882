"""Appointments and their planned messages change together, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from worker.clinic import records
from worker.db.engine import transaction
from worker.db.models import AuditEntry, Message, utcnow
from worker.enums import MessageStatus
from worker.lib.errors import InputError
from worker.settings import Settings


def test_new_appointment_plans_one_reminder_per_offset(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    start = in_minutes(60 * 72)
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), start)
    rows = messages_of(sessions, appt)
    assert [r.due_at for r in rows] == [start - timedelta(hours=48), start - timedelta(hours=2)]
    assert {r.status for r in rows} == {MessageStatus.PLANNED}


def test_the_same_reminder_cannot_be_planned_twice(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), in_minutes(60 * 72))
    first = messages_of(sessions, appt)[0]
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.add(
            Message(
                key=first.key,
                appointment_id=appt,
                patient_id=first.patient_id,
                kind="reminder",
                template="reminder",
                due_at=first.due_at,
            )
        )


def test_reschedule_cancels_pending_reminders_and_plans_new_ones(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), in_minutes(60 * 72))
    new_start = in_minutes(60 * 96)
    with transaction(sessions) as session:
        _, result = records.reschedule_appointment(
            session, db_settings, appt, new_start, actor="test", now=utcnow()
        )
    assert (result.planned, result.cancelled) == (2, 2)
    rows = messages_of(sessions, appt)
    assert sorted(r.status for r in rows) == ["cancelled", "cancelled", "planned", "planned"]
    assert {r.due_at for r in rows if r.status == "planned"} == {
        new_start - timedelta(hours=48),
        new_start - timedelta(hours=2),
    }
    assert {r.reason for r in rows if r.status == "cancelled"} == {"appointment rescheduled"}


def test_moving_back_to_the_original_time_revives_rows_instead_of_doubling(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    start = in_minutes(60 * 72)
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), start)
    for when in (in_minutes(60 * 96), start):
        with transaction(sessions) as session:
            records.reschedule_appointment(session, db_settings, appt, when, actor="test", now=utcnow())
    rows = messages_of(sessions, appt)
    assert len(rows) == 4
    assert sorted(r.due_at for r in rows if r.status == "planned") == [
        start - timedelta(hours=48),
        start - timedelta(hours=2),
    ]


def test_cancel_stops_every_pending_message(sessions: sessionmaker[Session], db_settings: Settings) -> None:
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), in_minutes(60 * 72))
    with transaction(sessions) as session:
        _, result = records.cancel_appointment(session, db_settings, appt, actor="test", now=utcnow())
    assert result.cancelled == 2
    assert {r.status for r in messages_of(sessions, appt)} == {MessageStatus.CANCELLED}


def test_operator_actions_are_audited_without_phi(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings, name="Maria Example")
    appt = add_appointment(sessions, db_settings, patient, in_minutes(600))
    with transaction(sessions) as session:
        records.cancel_appointment(session, db_settings, appt, actor="operator:dana", now=utcnow())
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["patient.add", "appointment.add", "appointment.cancel"]
    assert entries[-1].actor == "operator:dana" and entries[-1].entity_id == appt
    assert all("Maria" not in str(e.detail) and "+1202" not in str(e.detail) for e in entries)


def test_past_start_and_unknown_zone_are_refused(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings)
    with pytest.raises(InputError, match="in the past"):
        add_appointment(sessions, db_settings, patient, in_minutes(-5))
    with pytest.raises(InputError, match="unknown time zone 'Moon/Base'"):
        add_patient(sessions, db_settings, phone="+12025550144", timezone="Moon/Base")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_phone_numbers_are_stored_as_e164(sessions: sessionmaker[Session], db_settings: Settings) -> None:
    patient = add_patient(sessions, db_settings, phone="(202) 555-0147")
    with sessions() as session:
        assert records.get_patient(session, patient).phone == "+12025550147"
    with pytest.raises(InputError, match="not a valid phone number"):
        add_patient(sessions, db_settings, phone="555-0000")


def test_naive_start_is_read_in_the_clinic_zone() -> None:
    start = records.parse_start("2026-07-01T09:00", "America/New_York")
    assert start.isoformat() == "2026-07-01T13:00:00+00:00"
    with pytest.raises(InputError, match="not an ISO 8601 time"):
        records.parse_start("next tuesday", "America/New_York")
