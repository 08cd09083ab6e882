"""Planning the messages of many new appointments at once, for the CSV import.

The same plan messages.replan makes for each appointment (`wanted_for`), read from the rows
the import inserts rather than from ORM objects, with the follow-up plans taken once per
import rather than once per appointment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from worker.enums import MessageStatus
from worker.messages.replan import Booking, FollowUpPlans, wanted_for
from worker.planning.reminders import PlannedMessage
from worker.settings import Settings


def booking(row: dict[str, Any], zone: str, not_textable: str | None = None) -> Booking:
    """An appointment row as the import inserts it (see import_write), for planning, with its
    patient's zone and why the patient cannot be texted (planning.textable; None: they can),
    so that a patient without consent gets its messages skipped from the start."""
    return Booking(
        row["id"], row["start_at"], row["duration_minutes"], row["kind"], row["status"], zone, not_textable
    )


def message_rows(
    settings: Settings,
    plans: FollowUpPlans,
    appointments: Sequence[tuple[Booking, int]],
    now: datetime,
) -> list[dict[str, Any]]:
    """The message rows messages.replan would insert for each of these new appointments,
    given with their patient's id (a new appointment has no rows yet, so there is nothing
    to compare or cancel)."""
    return [
        _message_row(appointment, patient_id, item)
        for appointment, patient_id in appointments
        for item in wanted_for(appointment, settings, now, plans)
    ]


def _message_row(appointment: Booking, patient_id: int, item: PlannedMessage) -> dict[str, Any]:
    return {
        "key": item.key,
        "appointment_id": appointment.id,
        "patient_id": patient_id,
        "kind": item.kind,
        "template": item.template,
        "attempts": 0,
        "status": MessageStatus.SKIPPED if item.skip_reason else MessageStatus.PLANNED,
        "due_at": item.due_at,
        "original_due_at": item.original_due_at,
        "adjust_reason": item.adjust_reason,
        "reason": item.skip_reason,
    }
