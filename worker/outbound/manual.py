"""Messages an operator asks for now, outside the plan."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.models import Appointment, Message, Patient
from worker.enums import ACTIVE_APPOINTMENT, MessageKind
from worker.lib.errors import InputError, NotFound
from worker.messages.outbox import queue_now
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
