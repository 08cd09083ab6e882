"""Reading message rows for the faces (CLI, console, demo): the queries live here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.db.models import Message, Patient, QuestionnaireRun
from worker.enums import PENDING_MESSAGE, MessageKind, MessageStatus

# `--upcoming` still shows a message due this recently that has not gone out yet.
UPCOMING_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class MessageRow:
    """A message with what the operator reads beside it: its patient's zone (None for texts
    to staff) and the questionnaire it belongs to (None for texts of no questionnaire)."""

    message: Message
    zone: str | None
    questionnaire: str | None


def list_messages(
    session: Session,
    *,
    status: MessageStatus | None = None,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    upcoming_at: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[MessageRow], int]:
    """One page of messages by due time, and how many match in all.
    With `upcoming_at`: only those still to go out from about then on."""
    query = (
        select(Message, Patient.timezone, QuestionnaireRun.questionnaire)
        .outerjoin(Patient, Patient.id == Message.patient_id)
        .outerjoin(QuestionnaireRun, QuestionnaireRun.id == Message.run_id)
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
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.offset(offset).limit(limit))
    return [
        MessageRow(m, zone, run_questionnaire or _questionnaire(m)) for m, zone, run_questionnaire in rows
    ], total


def _questionnaire(message: Message) -> str | None:
    # A check-in not yet started has no run: its template is the questionnaire's id.
    return message.template if message.kind == MessageKind.CHECKIN else None


def messages_of_appointment(session: Session, appointment_id: int) -> list[Message]:
    query = select(Message).where(Message.appointment_id == appointment_id).order_by(Message.due_at)
    return list(session.scalars(query))


def patient_zone(session: Session, patient_id: int) -> str:
    return session.get_one(Patient, patient_id).timezone
