"""Delivery statuses from Twilio (callbacks and reconciliation). Statuses only move forward."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.models import Message, StatusEvent
from worker.enums import MessageStatus

log = logging.getLogger(__name__)

# Twilio's outbound statuses mapped to ours. accepted/queued/sending/scheduled say nothing our
# `sent` (Twilio accepted it) does not already say.
_OURS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
# Carrier-side failures reported after acceptance: unreachable, unknown, landline, filtered...
_UNDELIVERED_CODES = range(30003, 30009)
# A status may replace only these: delivered, undelivered and failed are final.
_MAY_REPLACE = {
    MessageStatus.SENT: (MessageStatus.SENDING, MessageStatus.AMBIGUOUS),
    MessageStatus.DELIVERED: (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.AMBIGUOUS),
    MessageStatus.UNDELIVERED: (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.AMBIGUOUS),
    MessageStatus.FAILED: (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.AMBIGUOUS),
}


def our_status(twilio_status: str, error_code: int | None) -> MessageStatus | None:
    status = _OURS.get(twilio_status.strip().lower())
    if status is not None and error_code in _UNDELIVERED_CODES:
        return MessageStatus.UNDELIVERED
    return status


def record_event(
    session: Session, sid: str, twilio_status: str, error_code: int | None, source: str, now: datetime
) -> bool:
    """Store one callback; False when this (MessageSid, MessageStatus) was already stored."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(StatusEvent)
        .values(
            message_sid=sid,
            status=twilio_status.strip().lower(),
            error_code=error_code,
            source=source,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["message_sid", "status"])
        .returning(StatusEvent.id)
    )
    return session.execute(statement).first() is not None


def apply_status(
    session: Session, sid: str, twilio_status: str, error_code: int | None, now: datetime
) -> bool:
    """Move the message with this SID forward to the status; True if it changed."""
    target = our_status(twilio_status, error_code)
    if target is None:
        return False
    values: dict[str, object] = {"status": target, "updated_at": now}
    if error_code is not None:
        values["error_code"] = error_code
    result = session.execute(
        update(Message)
        .where(Message.twilio_sid == sid, Message.status.in_(_MAY_REPLACE[target]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        log_on_commit(session, log, logging.INFO, "delivery status", status=str(target), code=error_code)
    return changed


def apply_stored_events(session: Session, sid: str, now: datetime) -> None:
    """Callbacks can beat our own record of the SID: apply any that arrived first."""
    for status, code in session.execute(
        select(StatusEvent.status, StatusEvent.error_code).where(StatusEvent.message_sid == sid)
    ):
        apply_status(session, sid, status, code, now)


@dataclass(frozen=True)
class Callback:
    """One status callback as Twilio posted it."""

    sid: str
    status: str
    error_code: int | None


def record_callbacks(
    session: Session, callbacks: Sequence[Callback], source: str, now: datetime
) -> list[bool]:
    """Store each callback once, move its message forward, audit it: whether each changed one.

    Applied in MessageSid order (stable, so one message's callbacks keep their order): two
    web processes writing batches at once then take row locks in the same order, and
    cannot deadlock each other.
    """
    changed = [False] * len(callbacks)
    for i in sorted(range(len(callbacks)), key=lambda i: callbacks[i].sid):
        c = callbacks[i]
        if record_event(session, c.sid, c.status, c.error_code, source, now):
            changed[i] = apply_status(session, c.sid, c.status, c.error_code, now)
            audit.record(
                session,
                "twilio",
                "message.status",
                message_sid=c.sid,
                status=c.status,
                code=c.error_code,
                applied=changed[i],
            )
    return changed
