"""Operator actions on patients and appointments. Each runs inside the caller's transaction,
re-plans messages in that same transaction and writes an audit row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clinic.kinds import canonical_kind
from worker.clinic.queries import patient_with_phone
from worker.clinic.transitions import Change, check_transition
from worker.db import audit
from worker.db.models import Appointment, Message, Patient
from worker.enums import (
    ACTIVE_APPOINTMENT,
    IGNORES_CONSENT,
    PENDING_MESSAGE,
    AppointmentStatus,
    MessageStatus,
)
from worker.lib import localtime
from worker.lib.errors import InputError, NotFound
from worker.lib.phones import to_e164
from worker.messages.replan import ReplanResult, replan
from worker.planning.followups import DEFAULT_KIND
from worker.questionnaires.runs import stop_active
from worker.settings import Settings, check_timezone

LANGUAGES = ("en", "es")
MAX_DURATION_MINUTES = 24 * 60
_MARKS = {AppointmentStatus.COMPLETED: Change.COMPLETE, AppointmentStatus.NO_SHOW: Change.NO_SHOW}


@dataclass(frozen=True)
class PatientInput:
    name: str
    phone: str
    timezone: str | None = None
    language: str = "en"
    consent: bool = True


def parse_start(text: str, zone: str) -> datetime:
    """An ISO 8601 time, returned in UTC; without an offset it is read on the wall clock of
    `zone` (the clinic's), and refused when that is no time there or two."""
    return localtime.read(text, check_timezone(zone))


def validate_patient(data: PatientInput, settings: Settings) -> PatientInput:
    name = data.name.strip()
    if not name:
        raise InputError("name must not be empty")
    language = data.language.strip().lower()
    if language not in LANGUAGES:
        raise InputError(f"language must be one of {', '.join(LANGUAGES)}, not {data.language!r}")
    zone = (data.timezone or settings.timezone).strip()
    try:
        check_timezone(zone)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return PatientInput(name, to_e164(data.phone), zone, language, data.consent)


def add_patient(
    session: Session, settings: Settings, data: PatientInput, actor: str, now: datetime
) -> Patient:
    data = validate_patient(data, settings)
    if patient_with_phone(session, data.phone) is not None:
        raise InputError("a patient with this phone number already exists")
    patient = Patient(
        name=data.name,
        phone=data.phone,
        timezone=data.timezone,
        language=data.language,
        sms_consent=data.consent,
        consent_at=now if data.consent else None,
        consent_source=actor if data.consent else None,
        opted_out=False,
        created_at=now,
    )
    session.add(patient)
    session.flush()
    audit.record(session, actor, "patient.add", patient_id=patient.id, consent=data.consent)
    return patient


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"no patient with id {patient_id}")
    return patient


def _locked_appointment(session: Session, appointment_id: int) -> Appointment:
    # The row lock orders us against a send in progress (see outbound.sending.begin_batch).
    appointment = session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None:
        raise NotFound(f"no appointment with id {appointment_id}")
    return appointment


def clinic_zone(settings: Settings) -> ZoneInfo:
    return check_timezone(settings.timezone)


def check_schedule(start_at: datetime, duration: int, now: datetime, zone: ZoneInfo) -> None:
    """`zone`: where the operator reads the time back (the clinic's), not UTC."""
    if start_at <= now:
        raise InputError(f"start {localtime.show(start_at, zone)} is in the past")
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        raise InputError(f"duration must be between 1 and {MAX_DURATION_MINUTES} minutes")


def add_appointment(
    session: Session,
    settings: Settings,
    patient_id: int,
    start_at: datetime,
    *,
    duration: int = 60,
    kind: str = DEFAULT_KIND,
    actor: str,
    now: datetime,
) -> tuple[Appointment, ReplanResult]:
    get_patient(session, patient_id)
    check_schedule(start_at, duration, now, clinic_zone(settings))
    appointment = Appointment(
        patient_id=patient_id,
        start_at=start_at,
        duration_minutes=duration,
        kind=canonical_kind(settings, kind) if kind.strip() else DEFAULT_KIND,
        status=AppointmentStatus.SCHEDULED,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    result = replan(session, appointment, settings, now, "appointment added")
    audit.record(
        session,
        actor,
        "appointment.add",
        patient_id=patient_id,
        entity="appointment",
        entity_id=appointment.id,
        planned=result.planned,
    )
    return appointment, result


def reschedule_appointment(
    session: Session,
    settings: Settings,
    appointment_id: int,
    start_at: datetime,
    *,
    actor: str,
    now: datetime,
) -> tuple[Appointment, ReplanResult]:
    appointment = _locked_appointment(session, appointment_id)
    zone = clinic_zone(settings)
    # Scheduled again whatever it was: a new time needs a new confirmation.
    status = check_transition(appointment, Change.RESCHEDULE, now, zone)
    check_schedule(start_at, appointment.duration_minutes, now, zone)
    appointment.start_at = start_at
    appointment.status = status
    appointment.updated_at = now
    result = replan(session, appointment, settings, now, "appointment rescheduled")
    audit.record(
        session,
        actor,
        "appointment.reschedule",
        patient_id=appointment.patient_id,
        entity="appointment",
        entity_id=appointment.id,
        planned=result.planned,
        cancelled=result.cancelled,
    )
    return appointment, result


def cancel_appointment(
    session: Session, settings: Settings, appointment_id: int, *, actor: str, now: datetime
) -> tuple[Appointment, ReplanResult]:
    return _change_state(
        session, settings, appointment_id, Change.CANCEL, "cancel", "cancelled", actor=actor, now=now
    )


def reinstate_appointment(
    session: Session, settings: Settings, appointment_id: int, *, actor: str, now: datetime
) -> tuple[Appointment, ReplanResult]:
    """Undo a cancel made by mistake: back to scheduled (a confirmation given before the cancel
    no longer holds) with its reminders and follow-ups planned again, while it is still ahead."""
    return _change_state(
        session, settings, appointment_id, Change.REINSTATE, "reinstate", "reinstated", actor=actor, now=now
    )


def _change_state(
    session: Session,
    settings: Settings,
    appointment_id: int,
    change: Change,
    action: str,
    done: str,
    *,
    actor: str,
    now: datetime,
) -> tuple[Appointment, ReplanResult]:
    """Every staff change of an appointment's state: lock it, check the transition table,
    re-plan its messages and audit it. `done` names the change in the re-plan's reason and
    picks the count the audit row keeps (what a cancel stopped, what a reinstate planned)."""
    appointment = _locked_appointment(session, appointment_id)
    appointment.status = check_transition(appointment, change, now, clinic_zone(settings))
    appointment.updated_at = now
    result = replan(session, appointment, settings, now, f"appointment {done}")
    counts: dict[str, dict[str, Any]] = {
        "cancelled": {"cancelled": result.cancelled},
        "reinstated": {"planned": result.planned},
    }
    audit.record(
        session,
        actor,
        f"appointment.{action}",
        patient_id=appointment.patient_id,
        entity="appointment",
        entity_id=appointment.id,
        **counts.get(done, {}),
    )
    return appointment, result


def cancel_pending_for_patient(session: Session, patient_id: int, reason: str) -> int:
    """Cancel every message of the patient not yet handed to the provider, except those that go
    out whatever the consent: "stop texting me, i want to die" must still bring the 988 text."""
    rows = session.scalars(
        select(Message).where(
            Message.patient_id == patient_id,
            Message.status.in_(PENDING_MESSAGE),
            Message.kind.not_in(IGNORES_CONSENT),
        )
    ).all()
    for row in rows:
        row.status, row.reason, row.lease_until = MessageStatus.CANCELLED, reason, None
    return len(rows)


def replan_patient(session: Session, settings: Settings, patient_id: int, now: datetime) -> int:
    """Plan again every upcoming reminder of the patient (after an opt-in): reminders that an
    opt-out cancelled come back if they are still ahead. Returns how many were planned."""
    upcoming = session.scalars(
        select(Appointment).where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(ACTIVE_APPOINTMENT),
            Appointment.start_at > now,
        )
    )
    return sum(replan(session, a, settings, now, "re-planned").planned for a in upcoming)


def set_opt_out(
    session: Session,
    settings: Settings,
    patient_id: int,
    opted_out: bool,
    *,
    actor: str,
    source: str,
    now: datetime,
) -> tuple[Patient, int]:
    """Record an opt-out (cancelling every pending message) or an opt-in, audited.
    Returns the patient and how many messages were cancelled."""
    patient = get_patient(session, patient_id)
    cancelled = 0
    if opted_out:
        stop_active(session, patient_id, now)
        if not patient.opted_out:
            patient.opted_out, patient.opted_out_at, patient.opt_out_source = True, now, source
        cancelled = cancel_pending_for_patient(session, patient_id, f"patient opted out ({source})")
    else:
        patient.opted_out, patient.opted_out_at, patient.opt_out_source = False, None, None
        replan_patient(session, settings, patient_id, now)
    audit.record(
        session,
        actor,
        "patient.opt_out" if opted_out else "patient.opt_in",
        patient_id=patient_id,
        entity="patient",
        entity_id=patient_id,
        source=source,
    )
    return patient, cancelled


def mark_appointment(
    session: Session,
    settings: Settings,
    appointment_id: int,
    status: AppointmentStatus,
    *,
    actor: str,
    now: datetime,
) -> tuple[Appointment, ReplanResult]:
    """Completed keeps the follow-ups; no-show cancels everything still pending. Either only
    once the appointment has started, and only from an open state (see transitions)."""
    change = _MARKS.get(status)
    if change is None:
        raise InputError(f"an appointment cannot be marked {status.value}")
    return _change_state(
        session, settings, appointment_id, change, status.value, status.value, actor=actor, now=now
    )
