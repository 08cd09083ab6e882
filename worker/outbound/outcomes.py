"""Recording what became of a send: sent (with its SID), failed, retried, placed again."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from worker.clinic.records import cancel_pending_for_patient
from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.models import Message, Patient, StatusEvent
from worker.enums import MessageStatus
from worker.lib.errors import SmsError
from worker.outbound.statuses import apply_stored_events
from worker.questionnaires.runs import WAITING_REASON
from worker.retries import HAND_BACK_SECONDS, hand_back_until, send_retry_seconds
from worker.settings import Settings

log = logging.getLogger(__name__)


class Untouched(enum.StrEnum):
    """Outcomes in which this worker changed nothing about the row."""

    NOT_CLAIMED = "not-claimed"  # already handled elsewhere or no longer queued
    # Handed back by a worker that stalled past its lease: the row was queued again (and
    # maybe claimed by another worker) meanwhile.
    NOT_HELD = "not-held"


@dataclass(frozen=True)
class Outcome:
    """What became of one send attempt: the row's new status, or why it was left untouched.
    `retry_in`: seconds until the dispatcher takes it again."""

    status: MessageStatus | Untouched
    reason: str | None = None
    retry_in: float | None = None


SENT = Outcome(MessageStatus.SENT)
LOST_HOLD = Outcome(Untouched.NOT_HELD, "not sent: the lease ran out and the row is no longer this worker's")

# One statement for a whole batch of SIDs (executemany). A call that outlived its lease was
# marked ambiguous by the sweep; Twilio's answer settles it.
_MESSAGES = cast(Table, Message.__table__)
_MARK_SENT = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("message_id"),
        # Not IN (...): an expanding parameter cannot be used with executemany.
        or_(_MESSAGES.c.status == MessageStatus.SENDING, _MESSAGES.c.status == MessageStatus.AMBIGUOUS),
    )
    .values(
        status=MessageStatus.SENT,
        twilio_sid=bindparam("sid"),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        lease_until=None,
        error_code=None,
        reason=None,
    )
)


def record_sent(session: Session, messages: dict[int, Message], sids: dict[int, str], now: datetime) -> None:
    if not sids:
        return
    session.execute(_MARK_SENT, [{"message_id": mid, "sid": sid, "now": now} for mid, sid in sids.items()])
    # Callbacks can beat our own record of the SID; look once for the whole batch.
    stored = select(StatusEvent.message_sid).where(StatusEvent.message_sid.in_(sids.values()))
    early = set(session.scalars(stored))
    for sid in early:
        apply_stored_events(session, sid, now)
    for mid in sids:
        message = messages[mid]
        audit.record(
            session,
            "worker",
            "message.sent",
            patient_id=message.patient_id,
            entity="message",
            entity_id=mid,
            template=message.template,
            kind=message.kind,
        )


def record_failure(
    session: Session, settings: Settings, message: Message, exc: SmsError, now: datetime
) -> Outcome:
    if exc.ambiguous:
        status, reason = MessageStatus.AMBIGUOUS, f"{exc}; not resent"
    elif exc.permanent:
        status, reason = MessageStatus.FAILED, str(exc)
        if exc.opted_out and message.patient_id is not None and message.to_number is None:
            _opt_out_at_provider(session, message.patient_id, now)
    elif message.attempts >= settings.send_max_attempts:
        status, reason = MessageStatus.FAILED, f"{exc}; gave up after {message.attempts} attempts"
    else:
        # Back to queued with a lease that runs out after the backoff: the dispatcher takes
        # it again then. A retry is an UPDATE, not a task waiting in Redis.
        delay = send_retry_seconds(message.attempts)
        finish(
            session,
            message.id,
            now,
            status=MessageStatus.QUEUED,
            error_code=exc.code,
            reason=f"retrying: {exc}",
            lease_until=now + timedelta(seconds=delay),
        )
        log_on_commit(
            session, log, logging.WARNING, "send failed, will retry", message_id=message.id, code=exc.code
        )
        return Outcome(MessageStatus.QUEUED, str(exc), retry_in=delay)
    finish(session, message.id, now, status=status, reason=reason, error_code=exc.code)
    log_on_commit(
        session, log, logging.WARNING, "send failed", message_id=message.id, status=str(status), code=exc.code
    )
    return Outcome(status, reason)


def hand_back(
    session: Session,
    message_id: int,
    now: datetime,
    held_until: datetime,
    reason: str = "waiting for a send slot",
) -> Outcome:
    """Not sent after all (no send slot came in time, or the database did not answer):
    queued again, not counted as an attempt, for the dispatcher to take after a pause.

    Only while the row is still held under the claim whose lease ends at `held_until`: a
    worker that stalled past its lease must not queue again a row another worker holds.
    """
    still_held = finish(
        session,
        message_id,
        now,
        held_until=held_until,
        status=MessageStatus.QUEUED,
        attempts=Message.attempts - 1,
        lease_until=hand_back_until(now),
        call_started_at=None,  # the call never started: the next try is no ambiguous resend
        reason=reason,
    )
    if not still_held:
        return LOST_HOLD
    return Outcome(MessageStatus.QUEUED, reason, retry_in=HAND_BACK_SECONDS)


def place_again(
    session: Session, message: Message, due_at: datetime | None, reason: str | None, now: datetime
) -> Outcome:
    """Back to planned at a later time (quiet hours, another questionnaire), or skipped."""
    if due_at is None:
        finish(session, message.id, now, status=MessageStatus.SKIPPED, reason=reason)
        return Outcome(MessageStatus.SKIPPED, reason)
    note = reason if reason == WAITING_REASON else f"{reason} (at send time)"
    finish(
        session,
        message.id,
        now,
        status=MessageStatus.PLANNED,
        due_at=due_at,
        original_due_at=message.original_due_at or message.due_at,
        adjust_reason=note,
    )
    log_on_commit(session, log, logging.INFO, "message placed again", message_id=message.id)
    return Outcome(MessageStatus.PLANNED, reason)


def _opt_out_at_provider(session: Session, patient_id: int, now: datetime) -> None:
    """Twilio 21610: the number sent STOP to our sender. Our database must agree."""
    patient = session.get_one(Patient, patient_id)
    if not patient.opted_out:
        patient.opted_out, patient.opted_out_at, patient.opt_out_source = True, now, "twilio:21610"
        audit.record(session, "twilio", "patient.opt_out", patient_id=patient_id, code=21610)
    cancel_pending_for_patient(session, patient_id, "patient opted out (Twilio 21610)")


def finish(
    session: Session, message_id: int, now: datetime, held_until: datetime | None = None, **values: object
) -> bool:
    """Move a row this worker holds in `sending` to its next state (with `held_until`: only
    if it is still held under the claim whose lease ends then); whether it moved."""
    values.setdefault("lease_until", None)
    held = [Message.id == message_id, Message.status == MessageStatus.SENDING]
    if held_until is not None:
        held.append(Message.lease_until == held_until)
    result = session.execute(
        update(Message)
        .where(*held)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
