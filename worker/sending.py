"""Sending one planned message: claim it, re-check it, send it, record what happened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from worker import audit
from worker.backoff import backoff_seconds
from worker.clinic import cancel_pending_for_patient
from worker.db.engine import transaction
from worker.db.models import (
    ACTIVE_APPOINTMENT,
    Appointment,
    Message,
    MessageStatus,
    Patient,
    utcnow,
)
from worker.dispatch import SENDING_LEASE, extend_lease
from worker.errors import SmsError
from worker.runtime import Runtime
from worker.settings import format_duration
from worker.sms.base import OutboundSms
from worker.templates import format_when

log = logging.getLogger(__name__)

MAX_VALIDITY = timedelta(seconds=36000)  # Twilio's ceiling for ValidityPeriod
RATE_WAIT = 10.0  # longest a task sleeps for a send slot before handing it back to the queue


@dataclass(frozen=True)
class Outcome:
    """What became of one send attempt. `retry_in` is set when the task should retry."""

    status: str
    reason: str | None = None
    retry_in: float | None = None


def deliver(rt: Runtime, message_id: int, clock: Callable[[], datetime] = utcnow) -> Outcome:
    granted, wait = rt.limiter.reserve(RATE_WAIT)
    if not granted:
        extend_lease(rt.sessions, message_id, clock() + timedelta(seconds=wait) + rt.settings.claim_lease)
        return Outcome(MessageStatus.QUEUED, "waiting for a send slot", retry_in=wait)
    if wait > 0:
        rt.sleep(wait)
    with transaction(rt.sessions) as session:
        prepared = begin_send(session, rt, message_id, clock())
    if isinstance(prepared, Outcome):
        return prepared
    try:
        sid = rt.sender.send(prepared)
    except SmsError as exc:
        return _record_failure(rt, message_id, exc, clock())
    with transaction(rt.sessions) as session:
        _finish(
            session,
            message_id,
            clock(),
            status=MessageStatus.SENT,
            twilio_sid=sid,
            sent_at=clock(),
            error_code=None,
            reason=None,
        )
    log.info("message sent", extra={"message_id": message_id})
    return Outcome(MessageStatus.SENT)


def begin_send(session: Session, rt: Runtime, message_id: int, now: datetime) -> OutboundSms | Outcome:
    """Claim the row (queued -> sending) and re-check that it should still go out."""
    message = session.get(Message, message_id)
    if message is None:
        return Outcome("missing", "no such message")
    appointment = None
    if message.appointment_id is not None:
        # Lock order matches reschedule/cancel: appointment first, then its messages.
        appointment = session.get(Appointment, message.appointment_id, with_for_update=True)
    claimed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.QUEUED)
        .values(
            status=MessageStatus.SENDING,
            attempts=Message.attempts + 1,
            # Long enough for the slowest provider call this configuration allows.
            lease_until=now + max(SENDING_LEASE, timedelta(seconds=2 * rt.settings.twilio_timeout + 30)),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Outcome("not-claimed", "already handled elsewhere or no longer queued")
    session.refresh(message)
    patient = session.get_one(Patient, message.patient_id)
    reason = skip_reason(rt, message, patient, appointment, now)
    if reason is not None:
        _finish(session, message_id, now, status=MessageStatus.SKIPPED, reason=reason)
        log.info("message skipped", extra={"message_id": message_id, "reason": reason})
        return Outcome(MessageStatus.SKIPPED, reason)
    return _compose(rt, message, patient, appointment, now)


def skip_reason(
    rt: Runtime,
    message: Message,
    patient: Patient,
    appointment: Appointment | None,
    now: datetime,
) -> str | None:
    if patient.opted_out:
        return "patient opted out"
    if not patient.sms_consent:
        return "no SMS consent"
    if appointment is not None:
        if appointment.status not in ACTIVE_APPOINTMENT:
            return f"appointment {appointment.status}"
        if appointment.start_at <= now:
            return "appointment already started"
    late = now - message.due_at
    if late > rt.settings.reminder_grace:
        return f"stale: {format_duration(late)} late, grace is {format_duration(rt.settings.reminder_grace)}"
    return None


def _compose(
    rt: Runtime,
    message: Message,
    patient: Patient,
    appointment: Appointment | None,
    now: datetime,
) -> OutboundSms:
    settings = rt.settings
    when = ""
    validity = settings.message_validity
    if appointment is not None:
        when = format_when(appointment.start_at, patient.timezone, patient.language, settings.timezone)
        validity = min(validity, appointment.start_at - now)
    body = rt.templates.render(
        message.template,
        patient.language,
        clinic_name=settings.clinic_name,
        clinic_phone=settings.clinic_phone,
        when=when,
    )
    callback = f"{settings.public_url}/twilio/status" if settings.public_url else None
    seconds = int(min(validity, MAX_VALIDITY).total_seconds())
    return OutboundSms(to=patient.phone, body=body, status_callback=callback, validity_period=max(1, seconds))


def _record_failure(rt: Runtime, message_id: int, exc: SmsError, now: datetime) -> Outcome:
    with transaction(rt.sessions) as session:
        message = session.get_one(Message, message_id)
        if exc.ambiguous:
            status, reason = MessageStatus.AMBIGUOUS, f"{exc}; not resent"
        elif exc.permanent:
            status, reason = MessageStatus.FAILED, str(exc)
            if exc.opted_out:
                _opt_out_at_provider(session, message.patient_id, now)
        elif message.attempts >= rt.settings.send_max_attempts:
            status, reason = MessageStatus.FAILED, f"{exc}; gave up after {message.attempts} attempts"
        else:
            delay = backoff_seconds(message.attempts)
            _finish(
                session,
                message_id,
                now,
                status=MessageStatus.QUEUED,
                error_code=exc.code,
                reason=f"retrying: {exc}",
                lease_until=now + timedelta(seconds=delay) + rt.settings.claim_lease,
            )
            log.warning("send failed, will retry", extra={"message_id": message_id, "code": exc.code})
            return Outcome(MessageStatus.QUEUED, str(exc), retry_in=delay)
        _finish(session, message_id, now, status=status, reason=reason, error_code=exc.code)
    log.warning("send failed", extra={"message_id": message_id, "status": str(status), "code": exc.code})
    return Outcome(status, reason)


def _opt_out_at_provider(session: Session, patient_id: int, now: datetime) -> None:
    """Twilio 21610: the number sent STOP to our sender. Our database must agree."""
    patient = session.get_one(Patient, patient_id)
    if not patient.opted_out:
        patient.opted_out, patient.opted_out_at, patient.opt_out_source = True, now, "twilio:21610"
        audit.record(session, "twilio", "patient.opt_out", patient_id=patient_id, code=21610)
    cancel_pending_for_patient(session, patient_id, "patient opted out (Twilio 21610)")


def _finish(session: Session, message_id: int, now: datetime, **values: object) -> None:
    values.setdefault("lease_until", None)
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == MessageStatus.SENDING)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
