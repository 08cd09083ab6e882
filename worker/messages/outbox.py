"""Creating a message that goes out now: written already claimed (queued, with a lease), so a
worker can take it straight after commit, and the dispatcher re-queues it if that hand-over
is lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.db.models import Message
from worker.enums import MessageKind, MessageStatus


def queue_now(
    session: Session,
    *,
    key: str,
    kind: MessageKind,
    template: str,
    now: datetime,
    lease: timedelta,
    **fields: Any,
) -> Message:
    message = Message(
        key=key,
        kind=kind,
        template=template,
        due_at=now,
        status=MessageStatus.QUEUED,
        queued_at=now,
        lease_until=now + lease,
        attempts=0,
        **fields,
    )
    session.add(message)
    session.flush()
    return message
