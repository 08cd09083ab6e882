"""Messages an operator asks for now, outside the plan.

Each is written already claimed (queued, with a lease) and handed to a worker at once. When
Redis does not take it, `hand_over` puts it back to `planned`, due now, so the dispatcher
sends it on its first run with Redis back, instead of after the lease (minutes) runs out,
and tells the operator so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from worker.db import audit
from worker.db.engine import transaction
from worker.db.models import Appointment, Message, Patient
from worker.enums import ACTIVE_APPOINTMENT, AFTER_SESSION, MessageKind, MessageStatus
from worker.lib.durations import format_duration
from worker.lib.errors import InputError, NotFound
from worker.messages.outbox import queue_now
from worker.outbound.send_rules import patient_reason
from worker.questionnaires.definitions import Catalogue
from worker.settings import Settings


def queue_manual_reminder(
    session: Session, settings: Settings, appointment_id: int, *, actor: str, now: datetime
) -> Message:
    """A reminder row already claimed (queued, with a lease) so it can go straight to a worker."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment with id {appointment_id}")
    if appointment.status not in ACTIVE_APPOINTMENT:
        raise InputError(f"appointment {appointment_id} is {appointment.status}")
    if appointment.start_at <= now:
        raise InputError(f"appointment {appointment_id} has already started")
    _sendable_to(session, appointment.patient_id)
    message = queue_now(
        session,
        # Each request is its own message: an operator asking twice wants two texts.
        key=f"appt:{appointment_id}:manual:{uuid.uuid4().hex}",
        kind=MessageKind.REMINDER,
        template=MessageKind.REMINDER,
        now=now,
        lease=settings.claim_lease,
        appointment_id=appointment_id,
        patient_id=appointment.patient_id,
    )
    audit.record(
        session,
        actor,
        "message.send_now",
        patient_id=appointment.patient_id,
        entity="message",
        entity_id=message.id,
        appointment_id=appointment_id,
    )
    return message


def queue_checkin(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    patient_id: int,
    questionnaire_id: str,
    *,
    appointment_id: int | None,
    actor: str,
    now: datetime,
) -> Message:
    """A questionnaire to start now. If the patient is in the middle of another one, the worker
    holds this one until that one ends."""
    catalogue.get(questionnaire_id)  # a clear error for an unknown id, before anything is written
    if appointment_id is not None:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment with id {appointment_id}")
        patient_id = appointment.patient_id
    if session.get(Patient, patient_id) is None:
        raise NotFound(f"no patient with id {patient_id}")
    _sendable_to(session, patient_id)
    message = queue_now(
        session,
        key=f"patient:{patient_id}:manual-checkin:{uuid.uuid4().hex}",
        kind=MessageKind.CHECKIN,
        template=questionnaire_id,
        now=now,
        lease=settings.claim_lease,
        appointment_id=appointment_id,
        patient_id=patient_id,
    )
    audit.record(
        session,
        actor,
        "questionnaire.send_now",
        patient_id=patient_id,
        entity="message",
        entity_id=message.id,
        questionnaire=questionnaire_id,
    )
    return message


def _sendable_to(session: Session, patient_id: int) -> None:
    """Refuse at once what the worker would skip: saying "on the queue" for a text that can
    never go out (opted out, no consent) would mislead. The worker checks again at send time."""
    reason = patient_reason(session.get(Patient, patient_id))
    if reason is not None:
        raise InputError(f"not sent: patient {patient_id}: {reason}")


@dataclass(frozen=True)
class HandOver:
    """What became of a manual message after the hand-over to the queue."""

    message_id: int
    enqueued: bool  # a send task is on the queue
    status: MessageStatus  # queued (a worker has it), planned (the dispatcher will), or as found
    notice: str  # one line for the operator: when the text will go


def hand_over(
    sessions: sessionmaker[Session], settings: Settings, message_id: int, *, enqueued: bool, now: datetime
) -> HandOver:
    """Record the outcome of enqueueing a message `queue_manual_reminder` or `queue_checkin`
    wrote (the caller enqueued it after commit: this layer does not import the queue)."""
    if enqueued:
        return HandOver(
            message_id, True, MessageStatus.QUEUED, "on the queue; a worker sends it within seconds"
        )
    with transaction(sessions) as session:
        message = session.get_one(Message, message_id)
        kind, held_until = message.kind, message.lease_until
        # A conditional UPDATE, only while the row is still queued under its first claim: if a
        # task reached a worker after all, the row has moved on and is left alone.
        moved = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.status == MessageStatus.QUEUED,
                Message.lease_until == held_until,
            )
            .values(status=MessageStatus.PLANNED, queued_at=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not moved:
            session.refresh(message)
            return HandOver(
                message_id, False, message.status, f"already taken by a worker ({message.status})"
            )
    grace = settings.checkin_grace if kind in AFTER_SESSION else settings.reminder_grace
    what = "reminder" if kind == MessageKind.REMINDER else "message"
    return HandOver(message_id, False, MessageStatus.PLANNED, _offline_notice(settings, what, grace))


def _offline_notice(settings: Settings, what: str, grace: timedelta) -> str:
    return (
        f"Redis is not answering; the {what} stays planned and the dispatcher sends it when Redis is "
        f"back (next dispatch within {settings.dispatch_interval:g} s, CLINIC_DISPATCH_INTERVAL); "
        f"if that is more than {format_duration(grace)} from now it is skipped as stale"
    )
