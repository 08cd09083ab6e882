"""Reading patients and appointments for the faces (CLI, console): the queries live here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.blind import matches
from worker.db.models import Appointment, Patient
from worker.enums import AppointmentStatus


def patient_with_phone(session: Session, phone: str | None) -> Patient | None:
    """The patient whose number this is (E.164), found by its blind index; None for None."""
    if not phone:
        return None
    return session.scalar(select(Patient).where(matches(session, Patient.phone_index, phone)))


def list_patients(session: Session) -> list[Patient]:
    return list(session.scalars(select(Patient).order_by(Patient.id)))


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
