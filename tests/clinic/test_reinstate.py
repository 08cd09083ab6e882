"""A cancel made by mistake is undone: the appointment is scheduled again with its reminders
and follow-ups planned as when it was added, audited; refused when not cancelled or past."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import make_settings
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from worker.clinic import records
from worker.db.engine import transaction
from worker.db.models import Appointment, AuditEntry, utcnow
from worker.enums import AppointmentStatus, MessageStatus
from worker.lib.errors import InputError, NotFound
from worker.settings import Settings


@pytest.fixture
def plan_settings(db_url: str) -> Settings:
    """Reminders and follow-ups both, so a reinstate must bring back each."""
    return make_settings(db_url, "memory://", followup_plan="checkin@24h,phq9@7d")


def _plan(sessions: sessionmaker[Session], appt: int) -> list[tuple[str, str, object]]:
    rows = messages_of(sessions, appt)
    return sorted((r.key, r.status, r.due_at) for r in rows if r.status == MessageStatus.PLANNED)


def _cancel(sessions: sessionmaker[Session], settings: Settings, appt: int) -> None:
    with transaction(sessions) as session:
        records.cancel_appointment(session, settings, appt, actor="test", now=utcnow())


def test_when_a_cancelled_appointment_ahead_is_reinstated_expect_it_planned_as_when_added(
    sessions: sessionmaker[Session], plan_settings: Settings
) -> None:
    appt = add_appointment(sessions, plan_settings, add_patient(sessions, plan_settings), in_minutes(60 * 72))
    added = _plan(sessions, appt)
    assert len(added) == 4  # two reminders, two follow-ups
    _cancel(sessions, plan_settings, appt)
    assert _plan(sessions, appt) == []
    with transaction(sessions) as session:
        appointment, result = records.reinstate_appointment(
            session, plan_settings, appt, actor="operator:dana", now=utcnow()
        )
        assert appointment.status == AppointmentStatus.SCHEDULED
    assert (result.planned, result.cancelled) == (4, 0)
    assert _plan(sessions, appt) == added  # the same rows, revived: never a second copy
    assert len(messages_of(sessions, appt)) == 4


def test_when_reinstated_expect_an_audit_row_like_the_cancel(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings, name="Maria Example")
    appt = add_appointment(sessions, db_settings, patient, in_minutes(600))
    _cancel(sessions, db_settings, appt)
    with transaction(sessions) as session:
        records.reinstate_appointment(session, db_settings, appt, actor="operator:dana", now=utcnow())
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None
    assert (entry.action, entry.actor, entry.entity, entry.entity_id, entry.patient_id) == (
        "appointment.reinstate",
        "operator:dana",
        "appointment",
        appt,
        patient,
    )
    assert "Maria" not in str(entry.detail)


def test_when_a_confirmed_appointment_is_cancelled_and_reinstated_expect_it_to_need_confirming_again(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), in_minutes(600))
    with transaction(sessions) as session:
        row = session.get(Appointment, appt)
        assert row is not None
        row.status = AppointmentStatus.CONFIRMED  # as a patient's C would
    _cancel(sessions, db_settings, appt)
    with transaction(sessions) as session:
        appointment, _ = records.reinstate_appointment(session, db_settings, appt, actor="test", now=utcnow())
        assert appointment.status == AppointmentStatus.SCHEDULED


def test_when_the_appointment_is_not_cancelled_expect_one_line_naming_its_state(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), in_minutes(600))
    with pytest.raises(InputError) as refused, transaction(sessions) as session:
        records.reinstate_appointment(session, db_settings, appt, actor="test", now=utcnow())
    assert str(refused.value) == f"appointment {appt} is already scheduled"
    start = in_minutes(60)
    done = add_appointment(
        sessions, db_settings, add_patient(sessions, db_settings, phone="+12025550144"), start
    )
    with transaction(sessions) as session:
        records.mark_appointment(
            session,
            db_settings,
            done,
            AppointmentStatus.COMPLETED,
            actor="test",
            now=start + timedelta(hours=1),
        )
    with pytest.raises(InputError) as refused, transaction(sessions) as session:
        records.reinstate_appointment(
            session, db_settings, done, actor="test", now=start + timedelta(hours=2)
        )
    assert (
        str(refused.value)
        == f"appointment {done} is completed; only a cancelled appointment can be reinstated"
    )


def test_when_its_start_has_passed_expect_it_refused_and_left_cancelled(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    start = in_minutes(600)
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), start)
    _cancel(sessions, db_settings, appt)
    with pytest.raises(InputError) as refused, transaction(sessions) as session:
        records.reinstate_appointment(
            session, db_settings, appt, actor="test", now=start + timedelta(minutes=1)
        )
    assert str(refused.value).startswith(f"appointment {appt} is cancelled and started ")
    assert str(refused.value).endswith("; only an appointment still ahead can be reinstated")
    assert {r.status for r in messages_of(sessions, appt)} == {MessageStatus.CANCELLED}


def test_when_an_unknown_id_is_reinstated_expect_not_found(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    with pytest.raises(NotFound, match="no appointment with id 42"), transaction(sessions) as session:
        records.reinstate_appointment(session, db_settings, 42, actor="test", now=utcnow())
