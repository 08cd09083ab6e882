"""What is checked at send time, by kind: consent, opt-out, the appointment, staleness and
quiet hours. Consent, cancellation and the clock can all change after planning."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import Appointment, Message, Patient
from worker.enums import (
    ACTIVE_APPOINTMENT,
    AFTER_SESSION,
    BEFORE_SESSION,
    IGNORES_CONSENT,
    OURS_TO_START,
    PENDING_MESSAGE,
    URGENT,
    AppointmentStatus,
    MessageKind,
)
from worker.lib.durations import format_duration
from worker.planning.quiet import Placement, place_after_session, place_before_session
from worker.planning.textable import textable_reason
from worker.settings import Settings

log = logging.getLogger(__name__)
# A post-session text goes out only if the session took place (or may have: not yet marked).
SESSION_HELD = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED)


def skip_reason(
    settings: Settings,
    message: Message,
    patient: Patient | None,
    appointment: Appointment | None,
    now: datetime,
) -> str | None:
    """Why this message must not go out now, or None."""
    reason = None
    if message.kind not in IGNORES_CONSENT:
        reason = patient_reason(patient)
    if reason is None and appointment is not None:
        reason = _appointment_reason(message.kind, appointment, now)
    if reason is None and message.kind not in URGENT:
        late = now - message.due_at
        grace = settings.checkin_grace if message.kind in AFTER_SESSION else settings.reminder_grace
        if late > grace:
            reason = f"stale: {format_duration(late)} late, grace is {format_duration(grace)}"
    return reason


def patient_reason(patient: Patient | None) -> str | None:
    """Why no text but an answer to a keyword or a safety text may go to this patient, or None."""
    if patient is None:
        return "no patient"
    return textable_reason(patient.opted_out, patient.sms_consent)


def _appointment_reason(kind: str, appointment: Appointment, now: datetime) -> str | None:
    if kind in BEFORE_SESSION:
        if appointment.status not in ACTIVE_APPOINTMENT:
            return f"appointment {appointment.status}"
        if appointment.start_at <= now:
            return "appointment already started"
    if kind in AFTER_SESSION and appointment.status not in SESSION_HELD:
        return f"appointment {appointment.status}"
    return None


@dataclass(frozen=True)
class Held:
    """A message that reached a worker inside quiet hours: placed again, or not sent at all."""

    placement: Placement


def quiet_now(
    settings: Settings,
    session: Session,
    message: Message,
    zone: str,
    appointment: Appointment | None,
    now: datetime,
) -> Held | None:
    """Planning kept it out of quiet hours, but a backlog, a new setting or a new zone can
    still bring it there at send time: then it is placed again, never sent in the window."""
    quiet = settings.quiet_hours
    if message.kind not in OURS_TO_START or quiet is None or not quiet.contains(now, zone):
        return None
    if appointment is not None and message.kind == MessageKind.REMINDER:
        place = place_before_session(now, appointment.start_at, now, zone, quiet)
    else:
        place = place_after_session(now, zone, quiet)
    if place.due_at is not None and _another_at(session, message, place.due_at):
        place = Placement(None, f"{place.reason}; another reminder already goes then")
    return Held(place)


def _another_at(session: Session, message: Message, due_at: datetime) -> bool:
    """Moving a message must not land it on top of another one of its kind for the appointment."""
    if message.appointment_id is None:
        return False
    found = session.scalar(
        select(Message.id).where(
            Message.appointment_id == message.appointment_id,
            Message.kind == message.kind,
            Message.id != message.id,
            Message.status.in_(PENDING_MESSAGE),
            Message.due_at == due_at,
        )
    )
    return found is not None
