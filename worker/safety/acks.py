"""Closing the loop: a person acknowledges an alert, from the command line or by text.

On-call (or a backup who was texted) replies `ACK 12`, or just `ACK` for the newest open
alert they were told about, from their phone through the signed webhook. The
acknowledgement is audited with that number as the actor and confirmed by text; everyone
else who was texted about the alert is told it is closed, so two people do not both call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.blind import matches
from worker.db.models import Message, SafetyAlert
from worker.enums import MessageKind
from worker.lib.actors import clean_actor
from worker.lib.errors import InputError, NotFound
from worker.messages.outbox import queue_now
from worker.retries import urgent_lease
from worker.settings import Settings

ACK_TEXT = re.compile(r"^\s*ack(?:nowledged?)?\b\s*#?\s*(\d+)?\s*[.!]*\s*$", re.IGNORECASE)
ACK_DONE, ACK_NOTHING = "safety_ack", "safety_ack_nothing"


@dataclass
class AckByText:
    acknowledged: int | None  # the alert id, or None when nothing matched
    replies: list[int] = field(default_factory=list)


def is_staff_number(settings: Settings, number: str | None) -> bool:
    return bool(number) and number in {settings.oncall_number, *settings.oncall_backup_numbers}


def ack_id(body: str) -> tuple[bool, int | None]:
    """(is an ACK, the alert id it names or None for "the newest")."""
    match = ACK_TEXT.match(body)
    if match is None:
        return False, None
    return True, int(match.group(1)) if match.group(1) else None


def acknowledge(
    session: Session, alert_id: int, *, by: str, note: str | None, now: datetime, actor: str | None = None
) -> SafetyAlert:
    """Close an alert: `by` is who did (a name at the command line, a number by text), `actor`
    how the audit log names them (default `operator:<by>`).

    An empty or unprintable `by` is refused before anything changes: an acknowledgement stops
    the repeat pages, so it must name the person who took the alert on."""
    by = clean_actor(by)
    alert = session.get(SafetyAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.acknowledged_at is not None:
        raise InputError(
            f"alert {alert_id} was acknowledged by {alert.acknowledged_by} "
            f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC"
        )
    alert.acknowledged_at, alert.acknowledged_by, alert.note = now, by, note
    audit.record(
        session,
        actor or f"operator:{by}",
        "alert.ack",
        patient_id=alert.patient_id,
        entity="alert",
        entity_id=alert.id,
    )
    return alert


def acknowledge_and_tell(
    session: Session, alert_id: int, *, by: str, note: str | None, now: datetime
) -> tuple[SafetyAlert, list[int]]:
    """At the command line: close the alert and tell everyone texted about it."""
    alert = acknowledge(session, alert_id, by=by, note=note, now=now)
    return alert, tell_others_closed(session, alert, now, except_number=None)


def acknowledge_by_text(
    session: Session, settings: Settings, sender: str, alert_id: int | None, inbound_id: int, now: datetime
) -> AckByText:
    """An ACK texted from on-call's or a backup's phone; the confirmation and closure texts
    to enqueue after commit. An ACK that matches no open alert is answered too."""
    alert = _named(session, alert_id) if alert_id is not None else _newest_told(session, settings, sender)
    if alert is None or alert.acknowledged_at is not None:
        key = f"inbound:{inbound_id}:{ACK_NOTHING}"
        return AckByText(None, [_text(session, key, ACK_NOTHING, None, sender, now)])
    acknowledge(session, alert.id, by=sender, note="acknowledged by text", now=now, actor=f"oncall:{sender}")
    replies = [_text(session, f"alert:{alert.id}:ack:{sender}", ACK_DONE, alert, sender, now)]
    replies += tell_others_closed(session, alert, now, except_number=sender)
    return AckByText(alert.id, replies)


def tell_others_closed(
    session: Session, alert: SafetyAlert, now: datetime, *, except_number: str | None
) -> list[int]:
    """Everyone else texted about the alert learns it is closed (at most once each)."""
    told = session.scalars(
        select(Message.to_number)
        .where(Message.alert_id == alert.id, Message.kind == MessageKind.SAFETY_NOTICE)
        .distinct()
    ).all()
    return [
        _text(session, f"alert:{alert.id}:ack:{number}", ACK_DONE, alert, number, now)
        for number in sorted({n for n in told if n and n != except_number})
    ]


def _named(session: Session, alert_id: int) -> SafetyAlert | None:
    return session.get(SafetyAlert, alert_id, with_for_update=True)


def _newest_told(session: Session, settings: Settings, sender: str) -> SafetyAlert | None:
    open_alerts = select(SafetyAlert).where(SafetyAlert.acknowledged_at.is_(None))
    if sender != settings.oncall_number:
        # A backup acknowledges what they were told about, not alerts still with on-call.
        told = select(Message.alert_id).where(
            Message.kind == MessageKind.SAFETY_NOTICE, matches(session, Message.to_index, sender)
        )
        open_alerts = open_alerts.where(SafetyAlert.id.in_(told))
    return session.scalar(open_alerts.order_by(SafetyAlert.id.desc()).limit(1).with_for_update())


def _text(
    session: Session, key: str, template: str, alert: SafetyAlert | None, to_number: str, now: datetime
) -> int:
    existing = session.scalar(select(Message.id).where(Message.key == key))
    if existing is not None:
        return existing  # told already (two ACKs for one alert are answered once)
    return queue_now(
        session,
        key=key,
        kind=MessageKind.SAFETY_NOTICE,
        template=template,
        now=now,
        lease=urgent_lease(),
        to_number=to_number,
        alert_id=alert.id if alert else None,
    ).id
