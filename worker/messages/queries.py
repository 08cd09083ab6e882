"""Reading message rows for the faces (CLI, console, demo): the queries live here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import Message, Patient
from worker.enums import PENDING_MESSAGE, MessageStatus

# `--upcoming` still shows a message due this recently that has not gone out yet.
UPCOMING_GRACE = timedelta(minutes=5)


def list_messages(
    session: Session,
    *,
    status: MessageStatus | None = None,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    upcoming_at: datetime | None = None,
    limit: int | None = None,
) -> list[tuple[Message, str | None]]:
    """Messages by due time, each with its patient's time zone (None for staff texts).
    With `upcoming_at`: only those still to go out from about then on."""
    query = (
        select(Message, Patient.timezone)
        .outerjoin(Patient, Patient.id == Message.patient_id)
        .order_by(Message.due_at, Message.id)
    )
    if status is not None:
        query = query.where(Message.status == status.value)
    if appointment_id is not None:
        query = query.where(Message.appointment_id == appointment_id)
    if patient_id is not None:
        query = query.where(Message.patient_id == patient_id)
    if upcoming_at is not None:
        not_long_ago = upcoming_at - UPCOMING_GRACE
        query = query.where(Message.status.in_(PENDING_MESSAGE), Message.due_at >= not_long_ago)
    if limit is not None:
        query = query.limit(limit)
    return [(message, zone) for message, zone in session.execute(query)]


def messages_of_appointment(session: Session, appointment_id: int) -> list[Message]:
    query = select(Message).where(Message.appointment_id == appointment_id).order_by(Message.due_at)
    return list(session.scalars(query))


def patient_zone(session: Session, patient_id: int) -> str:
    return session.get_one(Patient, patient_id).timezone
