"""Reading patients and appointments for the faces (CLI, console): the queries live here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.db.blind import matches
from worker.db.models import Appointment, Patient
from worker.enums import AppointmentStatus
from worker.lib.errors import InputError
from worker.lib.phones import to_e164


def patient_with_phone(session: Session, phone: str | None) -> Patient | None:
    """The patient whose number this is (E.164), found by its blind index; None for None."""
    if not phone:
        return None
    return session.scalar(select(Patient).where(matches(session, Patient.phone_index, phone)))


def list_patients(session: Session, *, limit: int | None = None, offset: int = 0) -> list[Patient]:
    return list(session.scalars(select(Patient).order_by(Patient.id).offset(offset).limit(limit)))


def count_patients(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Patient)) or 0


@dataclass(frozen=True)
class Found:
    """The patients a search found, and how: by `phone` or by `name`."""

    patients: list[Patient]
    by: str


def find_patients(session: Session, text: str) -> Found:
    """Patients by phone number (any format the phone library reads) or by name (a
    case-insensitive part of it), in id order."""
    cleaned = text.strip()
    if not cleaned:
        raise InputError("give a name (or part of one) or a phone number to find")
    try:
        phone = to_e164(cleaned)
    except InputError:
        phone = None
    if phone is not None:
        found = patient_with_phone(session, phone)
        return Found([] if found is None else [found], "phone")
    # Names are encrypted at rest (each token differs, so SQL cannot search them): every
    # name is decrypted and compared here. A clinic has thousands of patients, not
    # millions; this stays well under a second.
    wanted = cleaned.casefold()
    return Found([p for p in list_patients(session) if wanted in p.name.casefold()], "name")


def appointments_of(session: Session, patient_id: int) -> list[Appointment]:
    query = select(Appointment).where(Appointment.patient_id == patient_id).order_by(Appointment.start_at)
    return list(session.scalars(query))


def list_appointments(
    session: Session, *, status: AppointmentStatus | None = None, patient_id: int | None = None
) -> list[Appointment]:
    """Soonest first."""
    query = select(Appointment).order_by(Appointment.start_at, Appointment.id)
    if status is not None:
        query = query.where(Appointment.status == status.value)
    if patient_id is not None:
        query = query.where(Appointment.patient_id == patient_id)
    return list(session.scalars(query))
