"""Planning: which messages an appointment should get, and keeping the rows in step with it.

`plan_reminders` is pure. `replan` applies a plan to the database inside the caller's
transaction, so an appointment and its planned messages always change together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import (
    ACTIVE_APPOINTMENT,
    PENDING_MESSAGE,
    Appointment,
    Message,
    MessageStatus,
)
from worker.settings import format_duration

REMINDER = "reminder"


@dataclass(frozen=True)
class PlannedMessage:
    key: str
    kind: str
    template: str
    due_at: datetime


def reminder_key(appointment_id: int, start_at: datetime, offset: timedelta) -> str:
    # The start time is part of the key: a reschedule plans new rows instead of colliding with
    # the old ones, and moving an appointment back revives the old row rather than doubling it.
    return f"appt:{appointment_id}:reminder:{format_duration(offset)}:{int(start_at.timestamp())}"


def plan_reminders(
    appointment_id: int,
    start_at: datetime,
    offsets: Sequence[timedelta],
    now: datetime,
) -> list[PlannedMessage]:
    """Reminders for a session starting at `start_at` (aware), one per offset before it.

    Offsets are real elapsed time, so "48h before" is 48 hours before in UTC whatever the
    wall clock does. Reminders whose time has already passed (a late booking) are not
    planned: a "48h" reminder must not go out 3 hours before the session.
    """
    planned = []
    for offset in sorted(set(offsets), reverse=True):
        due_at = start_at - offset
        if due_at > now:
            planned.append(
                PlannedMessage(
                    key=reminder_key(appointment_id, start_at, offset),
                    kind=REMINDER,
                    template=REMINDER,
                    due_at=due_at,
                )
            )
    return planned


@dataclass(frozen=True)
class ReplanResult:
    planned: int
    cancelled: int


def replan(
    session: Session,
    appointment: Appointment,
    offsets: Sequence[timedelta],
    now: datetime,
    reason: str,
) -> ReplanResult:
    """Make the appointment's pending reminders match what it should get now.

    Pending rows that are no longer wanted are cancelled with `reason`; wanted rows are
    inserted, or revived when a cancelled row with the same key exists. Rows already sent
    (or being sent) are left alone: their key guarantees they are never sent again.
    """
    session.flush()  # the appointment needs its id before keys can be built
    wanted: list[PlannedMessage] = []
    if appointment.status in ACTIVE_APPOINTMENT:
        wanted = plan_reminders(appointment.id, appointment.start_at, offsets, now)
    existing = {
        row.key: row
        for row in session.scalars(
            select(Message).where(Message.appointment_id == appointment.id, Message.kind == REMINDER)
        )
    }
    wanted_keys = {item.key for item in wanted}
    cancelled = 0
    for row in existing.values():
        if row.key not in wanted_keys and row.status in PENDING_MESSAGE:
            row.status = MessageStatus.CANCELLED
            row.reason = reason
            row.lease_until = None
            cancelled += 1
    planned = 0
    for item in wanted:
        found = existing.get(item.key)
        if found is None:
            session.add(_new_row(appointment, item))
            planned += 1
        elif found.status == MessageStatus.CANCELLED:
            found.status, found.reason, found.due_at = MessageStatus.PLANNED, None, item.due_at
            planned += 1
    return ReplanResult(planned=planned, cancelled=cancelled)


def _new_row(appointment: Appointment, item: PlannedMessage) -> Message:
    return Message(
        key=item.key,
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        kind=item.kind,
        template=item.template,
        due_at=item.due_at,
        status=MessageStatus.PLANNED,
        attempts=0,
    )
