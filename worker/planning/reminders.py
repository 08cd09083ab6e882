"""Which reminders a session gets, and when. Pure: no database, no clock of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.enums import MessageKind
from worker.lib.durations import format_duration
from worker.lib.quiet_window import QuietHours
from worker.planning.quiet import place_before_session


@dataclass(frozen=True)
class PlannedMessage:
    key: str
    kind: str
    template: str
    due_at: datetime  # when it goes out (for a skipped one: when it would have)
    original_due_at: datetime | None = None  # set when quiet hours moved it
    adjust_reason: str | None = None
    skip_reason: str | None = None  # set when it must not go out at all


def reminder_key(appointment_id: int, start_at: datetime, offset: timedelta) -> str:
    # The start time is part of the key: a reschedule plans new rows instead of colliding with
    # the old ones, and moving an appointment back revives the old row rather than doubling it.
    return f"appt:{appointment_id}:reminder:{format_duration(offset)}:{int(start_at.timestamp())}"


def plan_reminders(
    appointment_id: int,
    start_at: datetime,
    offsets: Sequence[timedelta],
    now: datetime,
    zone: str = "UTC",
    quiet: QuietHours | None = None,
) -> list[PlannedMessage]:
    """Reminders for a session starting at `start_at` (aware), one per offset before it.

    Offsets are real elapsed time, so "48h before" is 48 hours before in UTC whatever the
    wall clock does. Reminders whose time has already passed (a late booking) are not
    planned: a "48h" reminder must not go out 3 hours before the session. A reminder due
    inside the patient's quiet hours is moved (see quiet.place_before_session); two that
    quiet hours push to the same minute become one.
    """
    planned: list[PlannedMessage] = []
    taken: dict[datetime, timedelta] = {}
    for offset in sorted(set(offsets), reverse=True):
        due_at = start_at - offset
        if due_at <= now:
            continue
        key = reminder_key(appointment_id, start_at, offset)
        place = place_before_session(due_at, start_at, now, zone, quiet)
        if place.due_at is None:
            planned.append(
                PlannedMessage(
                    key, MessageKind.REMINDER, MessageKind.REMINDER, due_at, skip_reason=place.reason
                )
            )
        elif place.due_at in taken:
            reason = f"{place.reason}; same time as the {format_duration(taken[place.due_at])} reminder"
            planned.append(
                PlannedMessage(key, MessageKind.REMINDER, MessageKind.REMINDER, due_at, skip_reason=reason)
            )
        else:
            taken[place.due_at] = offset
            original = due_at if place.moved else None
            planned.append(
                PlannedMessage(
                    key, MessageKind.REMINDER, MessageKind.REMINDER, place.due_at, original, place.reason
                )
            )
    return planned
