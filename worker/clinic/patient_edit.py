"""Correcting a patient's record: name, phone, zone, language, consent.

Validated as `patients add` validates, audited (the names of the fields changed, never
their values), and what depends on the record is planned again in the same transaction:
a new zone moves reminders and check-ins around quiet hours, a new language changes the
texts still to go, consent withdrawn cancels what is pending and consent given brings
back what is ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from worker.clinic.queries import patient_with_phone
from worker.clinic.records import PatientInput, cancel_pending_for_patient, get_patient, validate_patient
from worker.db import audit
from worker.db.models import Appointment, Message, Patient
from worker.enums import ACTIVE_APPOINTMENT, PENDING_MESSAGE
from worker.lib.errors import InputError
from worker.messages.replan import replan
from worker.settings import Settings

# Changes after which the patient's messages still to go are planned again.
REPLANS = frozenset({"timezone", "language", "consent"})


@dataclass(frozen=True)
class PatientChanges:
    """What the operator asked to change; None: leave as it is."""

    name: str | None = None
    phone: str | None = None
    timezone: str | None = None
    language: str | None = None
    consent: bool | None = None

    def given(self) -> bool:
        return any(value is not None for value in vars(self).values())


@dataclass(frozen=True)
class EditResult:
    patient: Patient
    changed: tuple[str, ...]  # field names, in PatientChanges order
    planned: int
    cancelled: int


def edit_patient(
    session: Session,
    settings: Settings,
    patient_id: int,
    changes: PatientChanges,
    *,
    actor: str,
    now: datetime,
) -> EditResult:
    """Apply `changes` to the patient, refusing (one line) what `patients add` refuses and a
    phone number another patient has. Nothing changed: nothing written, not even audit."""
    if not changes.given():
        raise InputError("nothing to change: give --name, --phone, --timezone, --language or --consent")
    patient = get_patient(session, patient_id)
    wanted = _validated(patient, changes, settings)
    changed = _differences(patient, wanted)
    if not changed:
        return EditResult(patient, (), 0, 0)
    if "phone" in changed:
        owner = patient_with_phone(session, wanted.phone)
        if owner is not None and owner.id != patient.id:
            raise InputError("another patient already has this phone number")
    _apply(patient, wanted, actor, now)
    planned, cancelled = _replan(session, settings, patient, changed, now)
    audit.record(
        session,
        actor,
        "patient.edit",
        patient_id=patient.id,
        entity="patient",
        entity_id=patient.id,
        fields=list(changed),
        planned=planned,
        cancelled=cancelled,
    )
    return EditResult(patient, changed, planned, cancelled)


def _validated(patient: Patient, changes: PatientChanges, settings: Settings) -> PatientInput:
    merged = PatientInput(
        name=patient.name if changes.name is None else changes.name,
        phone=patient.phone if changes.phone is None else changes.phone,
        timezone=patient.timezone if changes.timezone is None else changes.timezone,
        language=patient.language if changes.language is None else changes.language,
        consent=patient.sms_consent if changes.consent is None else changes.consent,
    )
    return validate_patient(merged, settings)


def _differences(patient: Patient, wanted: PatientInput) -> tuple[str, ...]:
    now_is = {
        "name": patient.name,
        "phone": patient.phone,
        "timezone": patient.timezone,
        "language": patient.language,
        "consent": patient.sms_consent,
    }
    to_be = {
        "name": wanted.name,
        "phone": wanted.phone,
        "timezone": wanted.timezone,
        "language": wanted.language,
        "consent": wanted.consent,
    }
    return tuple(field for field, value in to_be.items() if now_is[field] != value)


def _apply(patient: Patient, wanted: PatientInput, actor: str, now: datetime) -> None:
    if patient.sms_consent != wanted.consent:
        # As `patients add` records it: when and by whom consent was given; none when withdrawn.
        patient.consent_at = now if wanted.consent else None
        patient.consent_source = actor if wanted.consent else None
    patient.name, patient.phone, patient.language = wanted.name, wanted.phone, wanted.language
    patient.sms_consent = wanted.consent
    assert wanted.timezone is not None  # validate_patient fills it in
    patient.timezone = wanted.timezone


def _replan(
    session: Session, settings: Settings, patient: Patient, changed: tuple[str, ...], now: datetime
) -> tuple[int, int]:
    """(planned, cancelled) after the change."""
    if not REPLANS.intersection(changed):
        return 0, 0  # a name or a number is read when a text is sent: nothing to plan again
    if not patient.sms_consent or patient.opted_out:
        # Nothing may go out but safety texts and keyword answers (which the cancel keeps):
        # planning would bring back reminders that could only be skipped.
        reason = "consent withdrawn" if "consent" in changed else "patient cannot be texted"
        return 0, cancel_pending_for_patient(session, patient.id, reason)
    session.flush()  # planning reads the patient's new zone through the appointment
    planned = cancelled = 0
    for appointment in _with_messages_ahead(session, patient.id, now):
        result = replan(session, appointment, settings, now, "patient record edited")
        planned, cancelled = planned + result.planned, cancelled + result.cancelled
    return planned, cancelled


def _with_messages_ahead(session: Session, patient_id: int, now: datetime) -> list[Appointment]:
    """Appointments still to come, and those (completed ones) with follow-ups still pending."""
    pending = select(Message.appointment_id).where(
        Message.patient_id == patient_id, Message.status.in_(PENDING_MESSAGE)
    )
    query = select(Appointment).where(
        Appointment.patient_id == patient_id,
        or_(
            (Appointment.status.in_(ACTIVE_APPOINTMENT)) & (Appointment.start_at > now),
            Appointment.id.in_(pending),
        ),
    )
    return list(session.scalars(query.order_by(Appointment.start_at, Appointment.id)))
