"""Sending one planned message: claim it, re-check it, send it, record what happened."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker import audit
from worker.backoff import backoff_seconds
from worker.clinic import cancel_pending_for_patient
from worker.db.engine import transaction
from worker.db.models import (
    ACTIVE_APPOINTMENT,
    PENDING_MESSAGE,
    Appointment,
    Message,
    MessageStatus,
    Patient,
    utcnow,
)
from worker.dispatch import SENDING_LEASE, extend_lease
from worker.errors import SmsError
from worker.quiet import Placement, place_after_session, place_before_session
from worker.replies import KEYWORD_REPLY, REPLY, STAFF_NOTICE
from worker.runtime import Runtime
from worker.scheduling import REMINDER
from worker.settings import format_duration
from worker.sms.base import OutboundSms
from worker.statuses import apply_stored_events
from worker.templates import FALLBACK_LANGUAGE, format_when

log = logging.getLogger(__name__)

MAX_VALIDITY = timedelta(seconds=36000)  # Twilio's ceiling for ValidityPeriod
RATE_WAIT = 10.0  # longest a task sleeps for a send slot before handing it back to the queue
# Answers to STOP/START/HELP go out whatever the consent (a STOP must be confirmed, HELP
# answered); staff notices go to staff. Only these skip the patient checks.
IGNORES_CONSENT = frozenset({KEYWORD_REPLY, STAFF_NOTICE})
ABOUT_APPOINTMENT = frozenset({REMINDER, REPLY})
# Messages we start (not answers to the patient): these respect quiet hours.
POST_SESSION_KINDS: frozenset[str] = frozenset()
PLANNED_KINDS = frozenset({REMINDER}) | POST_SESSION_KINDS


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
        apply_stored_events(session, sid, clock())
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
    patient = session.get(Patient, message.patient_id) if message.patient_id is not None else None
    reason = skip_reason(rt, message, patient, appointment, now)
    if reason is None and patient is not None and message.kind in PLANNED_KINDS:
        deferred = _quiet_now(rt, session, message, patient.timezone, appointment, now)
        if deferred is not None:
            return deferred
    if reason is not None:
        _finish(session, message_id, now, status=MessageStatus.SKIPPED, reason=reason)
        log.info("message skipped", extra={"message_id": message_id, "reason": reason})
        return Outcome(MessageStatus.SKIPPED, reason)
    return _compose(rt, message, patient, appointment, now)


def _quiet_now(
    rt: Runtime, session: Session, message: Message, zone: str, appointment: Appointment | None, now: datetime
) -> Outcome | None:
    """Planning kept it out of quiet hours, but a backlog, a new setting or a new zone can
    still bring it there at send time: then it is placed again, never sent in the window."""
    quiet = rt.settings.quiet_hours
    if quiet is None or not quiet.contains(now, zone):
        return None
    if appointment is not None and message.kind == REMINDER:
        place = place_before_session(now, appointment.start_at, now, zone, quiet)
    else:
        place = place_after_session(now, zone, quiet)
    reason = place.reason
    if place.due_at is not None and _another_at(session, message, place.due_at):
        place, reason = Placement(None), f"{place.reason}; another reminder already goes then"
    if place.due_at is None:
        _finish(session, message.id, now, status=MessageStatus.SKIPPED, reason=reason)
        return Outcome(MessageStatus.SKIPPED, reason)
    _finish(
        session,
        message.id,
        now,
        status=MessageStatus.PLANNED,
        due_at=place.due_at,
        original_due_at=message.original_due_at or message.due_at,
        adjust_reason=f"{place.reason} (at send time)",
    )
    log.info("message moved out of quiet hours", extra={"message_id": message.id})
    return Outcome(MessageStatus.PLANNED, place.reason)


def _another_at(session: Session, message: Message, due_at: datetime) -> bool:
    """Moving a reminder must not land it on top of another one for the same appointment."""
    if message.appointment_id is None:
        return False
    return (
        session.scalar(
            select(Message.id).where(
                Message.appointment_id == message.appointment_id,
                Message.kind == message.kind,
                Message.id != message.id,
                Message.status.in_(PENDING_MESSAGE),
                Message.due_at == due_at,
            )
        )
        is not None
    )


def skip_reason(
    rt: Runtime,
    message: Message,
    patient: Patient | None,
    appointment: Appointment | None,
    now: datetime,
) -> str | None:
    """Why this message must not go out now, or None. Checked at send time, not planning time:
    consent, opt-out, cancellation and staleness can all change in between."""
    reason = None
    if message.kind not in IGNORES_CONSENT:
        reason = _patient_reason(patient)
    if reason is None and appointment is not None and message.kind in ABOUT_APPOINTMENT:
        reason = _appointment_reason(appointment, now)
    late = now - message.due_at
    grace = rt.settings.checkin_grace if message.kind in POST_SESSION_KINDS else rt.settings.reminder_grace
    if reason is None and late > grace:
        reason = f"stale: {format_duration(late)} late, grace is {format_duration(grace)}"
    return reason


def _patient_reason(patient: Patient | None) -> str | None:
    if patient is None:
        return "no patient"
    if patient.opted_out:
        return "patient opted out"
    if not patient.sms_consent:
        return "no SMS consent"
    return None


def _appointment_reason(appointment: Appointment, now: datetime) -> str | None:
    if appointment.status not in ACTIVE_APPOINTMENT:
        return f"appointment {appointment.status}"
    if appointment.start_at <= now:
        return "appointment already started"
    return None


def _compose(
    rt: Runtime,
    message: Message,
    patient: Patient | None,
    appointment: Appointment | None,
    now: datetime,
) -> OutboundSms:
    settings = rt.settings
    to = message.to_number or (patient.phone if patient else "")
    # Staff notices are for staff: in the clinic's language and zone, whoever the patient is.
    for_patient = patient is not None and message.kind != STAFF_NOTICE
    language = patient.language if for_patient and patient else FALLBACK_LANGUAGE
    zone = patient.timezone if for_patient and patient else settings.timezone
    when = ""
    validity = settings.message_validity
    if appointment is not None:
        when = format_when(appointment.start_at, zone, language, settings.timezone)
        if message.kind in ABOUT_APPOINTMENT:
            validity = min(validity, appointment.start_at - now)
    body = rt.templates.render(
        message.template,
        language,
        clinic_name=settings.clinic_name,
        clinic_phone=settings.clinic_phone,
        when=when,
        appointment_id=str(message.appointment_id or ""),
    )
    callback = f"{settings.public_url}/twilio/status" if settings.public_url else None
    seconds = int(min(validity, MAX_VALIDITY).total_seconds())
    return OutboundSms(to=to, body=body, status_callback=callback, validity_period=max(1, seconds))


def _record_failure(rt: Runtime, message_id: int, exc: SmsError, now: datetime) -> Outcome:
    with transaction(rt.sessions) as session:
        message = session.get_one(Message, message_id)
        if exc.ambiguous:
            status, reason = MessageStatus.AMBIGUOUS, f"{exc}; not resent"
        elif exc.permanent:
            status, reason = MessageStatus.FAILED, str(exc)
            if exc.opted_out and message.patient_id is not None and message.to_number is None:
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
