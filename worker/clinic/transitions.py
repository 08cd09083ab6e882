"""The one table of appointment state changes, and the check every operator action makes.

An appointment is open (scheduled, confirmed, or waiting for the new time a patient asked
for) until it is completed, a no-show or cancelled. Those three are final: a session that
took place was not also missed, and a wrong mark is corrected in the clinic's records, not
by chaining marks (complete -> no-show -> cancel each changed what is sent). The one way
back is reinstating a cancel made by mistake, while the appointment is still ahead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from worker.db.models import Appointment
from worker.enums import AppointmentStatus
from worker.lib.errors import InputError
from worker.lib.localtime import show

OPEN = (
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.RESCHEDULE_REQUESTED,
)


class Change(enum.StrEnum):
    """What can happen to an appointment; the values are the commands' names."""

    CONFIRM = "confirm"  # the patient's C (worker.inbound)
    REQUEST_RESCHEDULE = "request-reschedule"  # the patient's R (worker.inbound)
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    COMPLETE = "complete"
    NO_SHOW = "no-show"
    REINSTATE = "reinstate"


class When(enum.Enum):
    ANY_TIME = "any time"
    BEFORE_START = "before the start"
    AFTER_START = "after the start"


@dataclass(frozen=True)
class Rule:
    sources: tuple[AppointmentStatus, ...]
    target: AppointmentStatus
    when: When
    done: str  # "marked complete": the appointment "can be <done>"


TABLE: dict[Change, Rule] = {
    Change.CONFIRM: Rule(OPEN, AppointmentStatus.CONFIRMED, When.BEFORE_START, "confirmed"),
    Change.REQUEST_RESCHEDULE: Rule(
        OPEN, AppointmentStatus.RESCHEDULE_REQUESTED, When.BEFORE_START, "asked to move"
    ),
    # Moving it needs a new confirmation, so it is scheduled again; its new start is checked
    # by the caller. A past open appointment may move: the front desk recorded it late.
    Change.RESCHEDULE: Rule(OPEN, AppointmentStatus.SCHEDULED, When.ANY_TIME, "moved"),
    Change.CANCEL: Rule(OPEN, AppointmentStatus.CANCELLED, When.ANY_TIME, "cancelled"),
    Change.COMPLETE: Rule(OPEN, AppointmentStatus.COMPLETED, When.AFTER_START, "marked complete"),
    Change.NO_SHOW: Rule(OPEN, AppointmentStatus.NO_SHOW, When.AFTER_START, "marked no-show"),
    Change.REINSTATE: Rule(
        (AppointmentStatus.CANCELLED,), AppointmentStatus.SCHEDULED, When.BEFORE_START, "reinstated"
    ),
}

# How a refusal names a state: as `appointments list` shows it, in words where that reads badly.
STATE_WORDS = {
    AppointmentStatus.SCHEDULED: "scheduled",
    AppointmentStatus.CONFIRMED: "confirmed",
    AppointmentStatus.RESCHEDULE_REQUESTED: "reschedule-requested",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.COMPLETED: "completed",
    AppointmentStatus.NO_SHOW: "marked no-show",
}


def check_transition(
    appointment: Appointment, target: Change, now: datetime, zone: ZoneInfo | None = None
) -> AppointmentStatus:
    """The state `target` moves the appointment to, or InputError: one line naming its
    current state (and its start, in `zone`, when the time is what refuses it)."""
    reason = refusal(appointment, target, now, zone)
    if reason is not None:
        raise InputError(reason)
    return TABLE[target].target


def refusal(
    appointment: Appointment, target: Change, now: datetime, zone: ZoneInfo | None = None
) -> str | None:
    """Why `target` cannot happen to the appointment now, or None."""
    rule = TABLE[target]
    current = AppointmentStatus(appointment.status)
    name = f"appointment {appointment.id}"
    if current not in rule.sources:
        if current == rule.target:
            return f"{name} is already {STATE_WORDS[current]}"
        only = _states(rule.sources)
        return f"{name} is {STATE_WORDS[current]}; only {only} appointment can be {rule.done}"
    now_is = f"{name} is {STATE_WORDS[current]}"
    start = show(appointment.start_at, zone or ZoneInfo("UTC"))
    started = _utc(appointment.start_at) <= now
    if rule.when is When.AFTER_START and not started:
        return f"{now_is} and starts {start}; it can be {rule.done} only once it has started"
    if rule.when is When.BEFORE_START and started:
        return f"{now_is} and started {start}; only an appointment still ahead can be {rule.done}"
    return None


def _states(states: tuple[AppointmentStatus, ...]) -> str:
    words = [STATE_WORDS[s] for s in states]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    return f"{'an' if listed[0] in 'aeiou' else 'a'} {listed}"


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
