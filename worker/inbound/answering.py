"""What processing a text writes back: answers queued at once, the patient's next reminded
visit, and items put on the needs-attention list (with the front desk's one-id text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.db.models import Appointment, InboundMessage, Message, Patient
from worker.enums import ACTIVE_APPOINTMENT, MessageKind, MessageStatus
from worker.inbound import attention
from worker.messages.outbox import queue_now
from worker.settings import Settings

_SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)


@dataclass
class Processed:
    kind: str
    replies: list[int] = field(default_factory=list)  # outbound rows to enqueue after commit
    intent: str = ""  # what the text meant (worker.inbound.intents.INTENTS), for the metrics


def queue_answer(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    template: str,
    kind: MessageKind,
    now: datetime,
    *,
    appointment_id: int | None = None,
    to_number: str | None = None,
) -> int:
    """An answer to the patient's text: it goes straight to a worker after commit."""
    return queue_now(
        session,
        key=f"inbound:{inbound.id}:{template}",
        kind=kind,
        template=template,
        now=now,
        lease=settings.claim_lease,
        appointment_id=appointment_id,
        patient_id=patient.id if patient else None,
        to_number=to_number,
    ).id


def queue_once(
    session: Session, settings: Settings, key: str, template: str, now: datetime, **fields: object
) -> int | None:
    """A reply that goes out at most once per key (a clarification per appointment, thanks
    once a day); None when it went out already. A savepoint keeps a race between two
    workers from failing the whole text."""
    if session.scalar(select(Message.id).where(Message.key == key)) is not None:
        return None
    try:
        with session.begin_nested():
            return queue_now(
                session, key=key, kind=MessageKind.REPLY, template=template, now=now,
                lease=settings.claim_lease, **fields,
            ).id  # fmt: skip
    except IntegrityError:
        return None


def next_reminded_appointment(session: Session, patient_id: int, now: datetime) -> Appointment | None:
    """The soonest upcoming active appointment the patient has been reminded of."""
    reminded = exists().where(Message.appointment_id == Appointment.id, Message.status.in_(_SENT))
    return session.scalar(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(ACTIVE_APPOINTMENT),
            Appointment.start_at > now,
            reminded,
        )
        .order_by(Appointment.start_at)
        .limit(1)
        .with_for_update()
    )


def flag(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    reason: str,
    detail: str | None,
    now: datetime,
    template: str = "front_desk_attention",
) -> list[int]:
    """On the needs-attention list, and one text to the front desk (an id, nothing else).
    A text from an unknown number is listed without one: anyone can text the number."""

    def notify() -> int | None:
        if not settings.front_desk_number or patient is None:
            return None
        return queue_answer(
            session, settings, inbound, patient, template, MessageKind.STAFF_NOTICE, now,
            appointment_id=inbound.appointment_id, to_number=settings.front_desk_number,
        )  # fmt: skip

    return attention.flag(session, inbound, reason, detail, notify)
