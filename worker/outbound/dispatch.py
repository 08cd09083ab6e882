"""Claiming due messages and sending one: plain functions the Celery tasks call.

The database decides who sends what. The dispatcher moves due rows planned -> queued with a
lease; a send task moves one row queued -> sending with a conditional UPDATE and goes on only
if it changed that row. A task delivered twice, or a row re-queued after its lease ran out,
therefore never sends twice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased, sessionmaker

from worker.db.engine import transaction
from worker.db.models import InboundMessage, Message
from worker.enums import MessageKind, MessageStatus
from worker.metrics.record import record_claims, record_lease_expiries, record_outcome

log = logging.getLogger(__name__)
# The `reason` of a reminder skipped because a later one of the same appointment was due too.
SUPERSEDED = "superseded"


def sending_lease(twilio_timeout: float) -> timedelta:
    """How long a worker may hold a row in `sending`: one provider call and then some.

    A row still there after this belongs to a worker that died mid-call, and whether Twilio
    got it is unknown. The call is bounded by the connect and read timeouts (one each), so
    three timeouts plus a margin cover it; longer would only delay the verdict.
    """
    return timedelta(seconds=3 * twilio_timeout + 15)


def claim_due(sessions: sessionmaker[Session], now: datetime, limit: int, lease: timedelta) -> list[int]:
    """Claim up to `limit` due messages for sending and return their ids.

    Due planned rows come first, then queued rows whose lease ran out (their task was lost:
    a worker died or Redis lost its data). On PostgreSQL, SKIP LOCKED lets two dispatchers
    run at once without waiting on or double-claiming each other's rows; SQLite runs one
    writer at a time, so the conditional UPDATE alone is atomic there.
    """
    with transaction(sessions) as session:
        superseded = supersede_overdue_reminders(session, now)
        ids = _claim(session, MessageStatus.PLANNED, Message.due_at, now, limit, lease)
        if len(ids) < limit:
            ids += _claim(session, MessageStatus.QUEUED, Message.lease_until, now, limit - len(ids), lease)
    record_claims(len(ids))
    record_outcome(MessageKind.REMINDER, MessageStatus.SKIPPED, superseded)
    if superseded:
        log.info(
            "overdue reminders skipped: a later one of the same appointment goes", extra={"count": superseded}
        )
    return ids


def _claimable(message: Any, now: datetime) -> ColumnElement[bool]:
    """What `_claim` would take now: a due planned row, or a queued one whose lease ran out."""
    return or_(
        and_(message.status == MessageStatus.PLANNED, message.due_at <= now),
        and_(message.status == MessageStatus.QUEUED, message.lease_until <= now),
    )


def supersede_overdue_reminders(session: Session, now: datetime) -> int:
    """Skip every claimable reminder of an appointment that has a later claimable one.

    Two reminders of one visit are due at once only after an outage (beat or Redis down, a
    backlog): sending both would text the patient the same words twice in a second. The
    latest is the one that goes; it is also the least late, so the staleness check at send
    time judges the best candidate. Rows locked by another dispatcher are left to it.
    """
    later = aliased(Message)
    has_later = exists().where(
        later.appointment_id == Message.appointment_id,
        later.kind == MessageKind.REMINDER,
        later.id != Message.id,
        _claimable(later, now),
        # Strictly later: planning never puts two reminders of a visit on the same instant
        # (quiet hours move one off the other's), so a tie is not an outage's pile-up.
        later.due_at > Message.due_at,
    )
    overdue = and_(
        Message.kind == MessageKind.REMINDER,
        Message.appointment_id.is_not(None),
        _claimable(Message, now),
        has_later,
    )
    candidates = select(Message.id).where(overdue).with_for_update(skip_locked=True).scalar_subquery()
    statement = (
        update(Message)
        .where(Message.id.in_(candidates), overdue)
        .values(status=MessageStatus.SKIPPED, reason=SUPERSEDED, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _claim(
    session: Session,
    status: MessageStatus,
    due_column: InstrumentedAttribute[Any],
    now: datetime,
    limit: int,
    lease: timedelta,
) -> list[int]:
    due = and_(Message.status == status, due_column <= now)
    candidates = (
        select(Message.id)
        .where(due)
        .order_by(due_column)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(Message)
        .where(Message.id.in_(candidates), due)
        .values(status=MessageStatus.QUEUED, queued_at=now, lease_until=now + lease, updated_at=now)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(statement))


def batch_size(send_rate: float, concurrency: int) -> int:
    """Messages per send task: enough to fill a process's sending threads, but never more
    than about a second of the send rate, so a batch's last slot is never far away."""
    return max(1, min(concurrency, math.ceil(send_rate)))


def batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def expire_stuck_sending(sessions: sessionmaker[Session], now: datetime) -> int:
    """Rows left in `sending` by a worker that died: queued again if the provider call had
    not started, `ambiguous` if it had.

    Twilio has no idempotency key for messages: resending one whose call started could text
    the patient twice, so those are recorded for an operator instead of resent.
    """
    stuck = and_(Message.status == MessageStatus.SENDING, Message.lease_until < now)
    with transaction(sessions) as session:
        requeued = session.execute(
            update(Message)
            .where(stuck, Message.call_started_at.is_(None))
            .values(
                status=MessageStatus.QUEUED,
                attempts=Message.attempts - 1,
                lease_until=now,
                updated_at=now,
                reason="worker stopped before calling Twilio; queued again",
            )
        )
        ambiguous = list(
            session.scalars(
                update(Message)
                .where(stuck)
                .values(
                    status=MessageStatus.AMBIGUOUS,
                    lease_until=None,
                    updated_at=now,
                    reason="worker stopped during the provider call; not resent",
                )
                .returning(Message.kind)
            )
        )
    record_lease_expiries(int(requeued.rowcount) + len(ambiguous))  # type: ignore[attr-defined]
    for kind in ambiguous:
        record_outcome(kind, MessageStatus.AMBIGUOUS)
    return len(ambiguous)


@dataclass(frozen=True)
class QueueHealth:
    overdue: int  # due but not claimed for longer than a few dispatch intervals
    stuck_sending: int
    oldest_overdue: datetime | None
    unprocessed_replies: int = 0


def queue_health(session: Session, now: datetime, interval: float) -> QueueHealth:
    cutoff = now - timedelta(seconds=max(3 * interval, 60))
    # Planned rows past due, and queued rows whose task was lost and whose lease ran out:
    # both wait on a dispatcher that should have claimed them several runs ago.
    overdue_q = select(func.count(), func.min(Message.due_at)).where(
        or_(
            and_(Message.status == MessageStatus.PLANNED, Message.due_at < cutoff),
            and_(Message.status == MessageStatus.QUEUED, Message.lease_until < cutoff),
        )
    )
    overdue, oldest = session.execute(overdue_q).one()
    stuck = session.scalar(
        select(func.count()).where(Message.status == MessageStatus.SENDING, Message.lease_until < now)
    )
    waiting = session.scalar(
        select(func.count()).where(InboundMessage.processed_at.is_(None), InboundMessage.received_at < cutoff)
    )
    return QueueHealth(
        overdue=int(overdue),
        stuck_sending=int(stuck or 0),
        oldest_overdue=oldest,
        unprocessed_replies=int(waiting or 0),
    )


def due_backlog(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """What the dispatcher would claim now: how many rows, and the earliest due time among
    them (None when there are none). Grows while beat or every worker is down."""
    count, oldest = session.execute(
        select(func.count(), func.min(Message.due_at)).where(_claimable(Message, now))
    ).one()
    return int(count), oldest


def message_counts(session: Session) -> dict[tuple[str, str], int]:
    """Rows by (kind, status), as the database holds them now."""
    rows = session.execute(
        select(Message.kind, Message.status, func.count()).group_by(Message.kind, Message.status)
    )
    return {(str(kind), str(status)): int(count) for kind, status, count in rows}
