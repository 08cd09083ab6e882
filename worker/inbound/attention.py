"""Texts a person must read: the needs-attention list, and taking an item off it.

Nothing a patient sends disappears: a reschedule request, a question, a reply still unclear
after one clarification, a wrong number, a text from an unknown number. Each is flagged on
its inbound row with the reason (and, for a reschedule, the day or time it names), texted to
CLINIC_FRONT_DESK_NUMBER as an id only, and stays listed until someone resolves it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.models import InboundMessage
from worker.lib.actors import clean_actor
from worker.lib.errors import InputError

RESCHEDULE = "reschedule request"
QUESTION = "question"
UNCLEAR = "unclear"
UNCLEAR_ASKED = "unclear, asked again"  # a reply to a reminder, clarification sent
WRONG_NUMBER = "wrong number"
UNKNOWN_SENDER = "unknown sender"
NO_APPOINTMENT = "no appointment to confirm"
NO_ANSWER = "no valid answer"
LATE = "running late"
CONFIRM_AFTER_RESCHEDULE = "confirm after reschedule request"


def flag(
    session: Session,
    inbound: InboundMessage,
    reason: str,
    detail: str | None,
    notify: Callable[[], int | None],
) -> list[int]:
    """Put the text on the list; `notify` queues the front desk's text (or returns None)."""
    if inbound.attention is not None:
        return []
    inbound.attention, inbound.attention_detail = reason, detail
    audit.record(
        session, "sms", "reply.needs_attention", patient_id=inbound.patient_id, entity="inbound",
        entity_id=inbound.id, reason=reason,
    )  # fmt: skip
    notice = notify()
    return [notice] if notice is not None else []


def needing_attention(session: Session, patient_id: int | None = None) -> list[InboundMessage]:
    """Unresolved items, oldest first: the order the front desk works through them."""
    query = (
        select(InboundMessage)
        .where(InboundMessage.attention.is_not(None), InboundMessage.resolved_at.is_(None))
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    if patient_id is not None:
        query = query.where(InboundMessage.patient_id == patient_id)
    return list(session.scalars(query))


def resolve(session: Session, reply_id: int, actor: str, note: str | None, now: datetime) -> InboundMessage:
    """Take one item off the list, saying who and why; audited."""
    actor = clean_actor(actor)
    row = session.get(InboundMessage, reply_id, with_for_update=True)
    if row is None:
        raise InputError(f"no reply {reply_id}")
    if row.attention is None:
        raise InputError(
            f"reply {reply_id} does not need attention (it was read as {row.intent or row.kind})"
        )
    if row.resolved_at is not None:
        when = f"{row.resolved_at:%Y-%m-%d %H:%M} UTC"
        raise InputError(f"reply {reply_id} was already resolved by {row.resolved_by} at {when}")
    row.resolved_at, row.resolved_by, row.resolution_note = now, actor, (note or None)
    audit.record(
        session, actor, "reply.resolve", patient_id=row.patient_id, entity="inbound", entity_id=row.id,
        reason=row.attention,
    )  # fmt: skip
    return row
