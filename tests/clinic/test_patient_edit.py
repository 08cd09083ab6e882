"""Correcting a patient's record: validated like `patients add`, audited by field name, and
the messages still to go planned again to match. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import make_settings
from tests.helpers import add_appointment, add_patient, messages_of
from worker.clinic.patient_edit import EditResult, PatientChanges, edit_patient
from worker.clinic.queries import patient_with_phone
from worker.db.engine import transaction
from worker.db.models import AuditEntry, Patient, utcnow
from worker.enums import MessageStatus
from worker.lib.errors import InputError
from worker.settings import Settings

ANA, BEN = "+12025550143", "+12025550144"
# 11:00 in New York; the reminders (48 h and 2 h before) fall at 09:00 there, 23:00 in Tokyo.
START = datetime(2031, 3, 4, 16, 0, tzinfo=UTC)


@pytest.fixture
def quiet_settings(db_url: str) -> Settings:
    return make_settings(db_url, "memory://", quiet_hours="21:00-08:00")


def _edit(
    sessions: sessionmaker[Session], settings: Settings, patient_id: int, **changes: object
) -> EditResult:
    with transaction(sessions) as session:
        return edit_patient(
            session,
            settings,
            patient_id,
            PatientChanges(**changes),
            actor="operator:dana",
            now=utcnow(),  # type: ignore[arg-type]
        )


def _edits(sessions: sessionmaker[Session]) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.edit")))


def test_given_a_new_zone_when_edited_expect_reminders_moved_out_of_its_quiet_hours_and_audited_by_name(
    sessions: sessionmaker[Session], quiet_settings: Settings
) -> None:
    patient = add_patient(sessions, quiet_settings, ANA, name="Ana Example")
    appointment = add_appointment(sessions, quiet_settings, patient, START)
    before = [m.due_at for m in messages_of(sessions, appointment) if m.status == MessageStatus.PLANNED]
    result = _edit(sessions, quiet_settings, patient, timezone="Asia/Tokyo", name="Ana María Example")
    assert result.changed == ("name", "timezone") and result.planned == 2
    after = [m for m in messages_of(sessions, appointment) if m.status == MessageStatus.PLANNED]
    assert [m.due_at for m in after] != before
    assert all(m.adjust_reason and "quiet hours" in m.adjust_reason for m in after)
    [entry] = _edits(sessions)
    assert (entry.actor, entry.patient_id) == ("operator:dana", patient)
    assert entry.detail == {"fields": ["name", "timezone"], "planned": 2, "cancelled": 0}
    assert "Ana" not in str(entry.detail) and "Tokyo" not in str(entry.detail)


def test_given_consent_withdrawn_when_edited_expect_pending_cancelled_and_given_again_expect_them_back(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings, ANA)
    appointment = add_appointment(sessions, db_settings, patient, START)
    withdrawn = _edit(sessions, db_settings, patient, consent=False)
    assert (withdrawn.changed, withdrawn.cancelled) == (("consent",), 2)
    assert {m.status for m in messages_of(sessions, appointment)} == {MessageStatus.CANCELLED}
    with sessions() as session:
        stored = session.get_one(Patient, patient)
        assert (stored.sms_consent, stored.consent_at, stored.consent_source) == (False, None, None)
    given = _edit(sessions, db_settings, patient, consent=True)
    assert given.planned == 2
    assert {m.status for m in messages_of(sessions, appointment)} == {MessageStatus.PLANNED}
    with sessions() as session:
        assert session.get_one(Patient, patient).consent_source == "operator:dana"


def test_given_another_patients_phone_when_edited_expect_one_line_refusal_and_nothing_changed(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    add_patient(sessions, db_settings, ANA)
    ben = add_patient(sessions, db_settings, BEN, name="Ben")
    with pytest.raises(InputError, match=r"^another patient already has this phone number$"):
        _edit(sessions, db_settings, ben, phone="(202) 555-0143", name="Benjamin")
    with sessions() as session:
        stored = session.get_one(Patient, ben)
        assert (stored.phone, stored.name) == (BEN, "Ben")
    assert _edits(sessions) == []


def test_given_a_phone_in_another_format_when_edited_expect_e164_and_findable_by_its_new_number(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings, ANA)
    assert _edit(sessions, db_settings, patient, phone="202.555.0199").changed == ("phone",)
    with sessions() as session:
        found = patient_with_phone(session, "+12025550199")
        assert found is not None and found.id == patient and patient_with_phone(session, ANA) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"language": "fr"}, "language must be one of en, es, not 'fr'"),
        ({"name": "  "}, "name must not be empty"),
        ({"timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"phone": "12"}, "'12' is not a valid phone number"),
        ({}, "nothing to change"),
    ],
)
def test_given_what_patients_add_refuses_when_edited_expect_the_same_refusal(
    sessions: sessionmaker[Session], db_settings: Settings, changes: dict[str, object], message: str
) -> None:
    patient = add_patient(sessions, db_settings, ANA)
    with pytest.raises(InputError) as raised:
        _edit(sessions, db_settings, patient, **changes)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_given_the_values_it_already_has_when_edited_expect_nothing_written(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings, ANA, name="Ana")
    result = _edit(sessions, db_settings, patient, name="Ana", language="EN", phone="202-555-0143")
    assert (result.changed, result.planned, result.cancelled) == ((), 0, 0)
    assert _edits(sessions) == []
