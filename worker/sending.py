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
from worker.compose import compose
from worker.db.engine import retry_while_unavailable, transaction
from worker.db.models import Appointment, Message, MessageStatus, Patient, utcnow
from worker.dispatch import extend_lease, sending_lease
from worker.errors import SmsError
from worker.kinds import CHECKIN, URGENT
from worker.questionnaires.runs import WAIT_FOR_OTHER_RUN, WAITING_REASON, open_run
from worker.runtime import Runtime
from worker.send_rules import quiet_now, skip_reason
from worker.sms.base import OutboundSms
from worker.statuses import apply_stored_events

log = logging.getLogger(__name__)

RATE_WAIT = 10.0  # longest a task sleeps for a send slot before handing it back to the queue


@dataclass(frozen=True)
class Outcome:
    """What became of one send attempt. `retry_in` is set when the task should retry."""

    status: str
    reason: str | None = None
    retry_in: float | None = None


def deliver(rt: Runtime, message_id: int, clock: Callable[[], datetime] = utcnow) -> Outcome:
    with rt.sessions() as session:
        kind = session.scalar(select(Message.kind).where(Message.id == message_id))
    if kind not in URGENT:  # a safety text never waits behind the morning's reminders
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
        failure = exc  # the except target is unbound when the block ends; the lambda needs it
        return retry_while_unavailable(
            lambda: _record_failure(rt, message_id, failure, clock()), _record_window(rt)
        )
    # Twilio has the message; the SID exists only in this process until it is committed.
    retry_while_unavailable(lambda: _record_sent(rt, message_id, sid, clock()), _record_window(rt))
    log.info("message sent", extra={"message_id": message_id})
    return Outcome(MessageStatus.SENT)


def _record_window(rt: Runtime) -> float:
    """How long to wait out a database outage before leaving the row to the sweep."""
    return rt.settings.twilio_timeout + 10


def _record_sent(rt: Runtime, message_id: int, sid: str, now: datetime) -> None:
    with transaction(rt.sessions) as session:
        _finish(
            session,
            message_id,
            now,
            # A call that outlived its lease was marked ambiguous by the sweep; Twilio's answer
            # settles it.
            after=(MessageStatus.SENDING, MessageStatus.AMBIGUOUS),
            status=MessageStatus.SENT,
            twilio_sid=sid,
            sent_at=now,
            error_code=None,
            reason=None,
        )
        apply_stored_events(session, sid, now)
        message = session.get_one(Message, message_id)
        audit.record(
            session,
            "worker",
            "message.sent",
            patient_id=message.patient_id,
            entity="message",
            entity_id=message_id,
            template=message.template,
            kind=message.kind,
        )


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
            lease_until=now + sending_lease(rt.settings.twilio_timeout),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Outcome("not-claimed", "already handled elsewhere or no longer queued")
    session.refresh(message)
    patient = session.get(Patient, message.patient_id) if message.patient_id is not None else None
    reason = skip_reason(rt.settings, message, patient, appointment, now)
    if reason is not None:
        _finish(session, message_id, now, status=MessageStatus.SKIPPED, reason=reason)
        log.info("message skipped", extra={"message_id": message_id, "reason": reason})
        return Outcome(MessageStatus.SKIPPED, reason)
    assert patient is not None or message.to_number is not None
    held = quiet_now(rt.settings, session, message, patient.timezone, appointment, now) if patient else None
    if held is not None:
        return _place_again(session, message, held.placement.due_at, held.placement.reason, now)
    if message.kind == CHECKIN and message.run_id is None:
        assert patient is not None
        if open_run(session, rt.catalogue, message, patient, now) is None:
            return _place_again(session, message, now + WAIT_FOR_OTHER_RUN, WAITING_REASON, now)
    return compose(rt, message, patient, appointment, now)


def _place_again(
    session: Session, message: Message, due_at: datetime | None, reason: str | None, now: datetime
) -> Outcome:
    """Back to planned at a later time (quiet hours, another questionnaire), or skipped."""
    if due_at is None:
        _finish(session, message.id, now, status=MessageStatus.SKIPPED, reason=reason)
        return Outcome(MessageStatus.SKIPPED, reason)
    note = reason if reason == WAITING_REASON else f"{reason} (at send time)"
    _finish(
        session,
        message.id,
        now,
        status=MessageStatus.PLANNED,
        due_at=due_at,
        original_due_at=message.original_due_at or message.due_at,
        adjust_reason=note,
    )
    log.info("message placed again", extra={"message_id": message.id})
    return Outcome(MessageStatus.PLANNED, reason)


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


def _finish(
    session: Session,
    message_id: int,
    now: datetime,
    after: tuple[MessageStatus, ...] = (MessageStatus.SENDING,),
    **values: object,
) -> None:
    values.setdefault("lease_until", None)
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status.in_(after))
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
