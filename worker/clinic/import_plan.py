"""Planning the messages of many new appointments at once, for the CSV import.

Planning one appointment is cheap, except where a text falls in quiet hours: QuietHours
walks minute by minute to the edge of the night (up to 11 hours of minutes, each read on
the patient's clock). A large import has thousands of texts in the same nights of the same
zones, so the walks are remembered per zone: each quiet stretch is walked once.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from worker.db.models import Appointment
from worker.enums import MessageStatus
from worker.lib.quiet_window import QuietHours
from worker.messages.replan import wanted_messages
from worker.planning.reminders import PlannedMessage
from worker.settings import Settings

_MINUTE = timedelta(minutes=1)


class RememberedQuietHours(QuietHours):
    """The same answers as QuietHours, remembering every quiet stretch it has walked.

    A stretch is [its first quiet minute, the first allowed minute after it), found by the
    two walks of QuietHours. Every minute inside it is quiet (the walks crossed them all), so
    from any of them the walks would stop at the same two minutes: the answers are exact.
    """

    def __init__(self, quiet: QuietHours) -> None:
        super().__init__(quiet.start, quiet.end)
        object.__setattr__(self, "_stretches", {})  # zone -> sorted [(first, end)]

    def last_allowed_before(self, instant: datetime, zone: str) -> datetime:
        stretch = self._stretch(instant, zone)
        return super().last_allowed_before(instant, zone) if stretch is None else stretch[0] - _MINUTE

    def end_after(self, instant: datetime, zone: str) -> datetime:
        stretch = self._stretch(instant, zone)
        return super().end_after(instant, zone) if stretch is None else stretch[1]

    def _stretch(self, instant: datetime, zone: str) -> tuple[datetime, datetime] | None:
        """The quiet stretch holding `instant`; None when `instant` is not quiet."""
        if not self.contains(instant, zone):
            return None
        known: list[tuple[datetime, datetime]] = self._stretches.setdefault(zone, [])  # type: ignore[attr-defined]
        at = bisect.bisect_right(known, instant, key=lambda stretch: stretch[0]) - 1
        if at >= 0 and known[at][0] <= instant < known[at][1]:
            return known[at]
        first = super().last_allowed_before(instant, zone) + _MINUTE
        stretch = (first, super().end_after(instant, zone))
        bisect.insort(known, stretch, key=lambda item: item[0])
        return stretch


def for_import(settings: Settings) -> Settings:
    """The settings a large import plans with: the same rules, quiet hours remembered."""
    if settings.quiet_hours is None:
        return settings
    return settings.model_copy(update={"quiet_hours": RememberedQuietHours(settings.quiet_hours)})


def message_rows(
    settings: Settings, appointments: Sequence[Appointment], now: datetime
) -> list[dict[str, Any]]:
    """The message rows messages.replan would insert for each of these new appointments
    (a new appointment has no rows yet, so there is nothing to compare or cancel)."""
    return [
        _message_row(appointment, item)
        for appointment in appointments
        for item in wanted_messages(appointment, settings, now)
    ]


def _message_row(appointment: Appointment, item: PlannedMessage) -> dict[str, Any]:
    return {
        "key": item.key,
        "appointment_id": appointment.id,
        "patient_id": appointment.patient_id,
        "kind": item.kind,
        "template": item.template,
        "attempts": 0,
        "status": MessageStatus.SKIPPED if item.skip_reason else MessageStatus.PLANNED,
        "due_at": item.due_at,
        "original_due_at": item.original_due_at,
        "adjust_reason": item.adjust_reason,
        "reason": item.skip_reason,
    }
