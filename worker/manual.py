"""Messages an operator asks for now, outside the plan."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from worker import audit
from worker.db.models import ACTIVE_APPOINTMENT, Appointment, Message, MessageStatus
from worker.errors import InputError, NotFound
from worker.scheduling import REMINDER
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
    message = Message(
        # Each request is its own message: an operator asking twice wants two texts.
        key=f"appt:{appointment_id}:manual:{uuid.uuid4().hex}",
        appointment_id=appointment_id,
        patient_id=appointment.patient_id,
        kind=REMINDER,
        template=REMINDER,
        due_at=now,
        status=MessageStatus.QUEUED,
        queued_at=now,
        lease_until=now + settings.claim_lease,
        attempts=0,
    )
    session.add(message)
    session.flush()
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
