"""Keeping an appointment's message rows in step with it.

`replan` applies the plan (worker.planning, pure) to the database inside the caller's
transaction, so an appointment and its planned messages always change together.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from worker.db.models import Appointment, Message
from worker.enums import (
    ACTIVE_APPOINTMENT,
    IGNORES_CONSENT,
    PENDING_MESSAGE,
    AppointmentStatus,
    MessageKind,
    MessageStatus,
)
from worker.planning import quiet
from worker.planning.followups import kind_key, load_overrides, plan_followups
from worker.planning.reminders import PlannedMessage, plan_reminders
from worker.planning.textable import NOT_TEXTABLE, textable_reason
from worker.settings import FollowUp, Settings, config_file, parse_plan


@dataclass(frozen=True)
class ReplanResult:
    planned: int
    cancelled: int


def replan(
    session: Session,
    appointment: Appointment,
    settings: Settings,
    now: datetime,
    reason: str,
) -> ReplanResult:
    """Make the appointment's pending reminders match what it should get now.

    Pending rows that are no longer wanted are cancelled with `reason`; wanted rows are
    inserted, updated, or revived when a cancelled row with the same key exists. Rows already
    sent (or being sent) are left alone: their key guarantees they are never sent again.
    """
    session.flush()  # the appointment needs its id before keys can be built
    wanted = wanted_messages(appointment, settings, now)
    planned_here = or_(
        Message.key.like(f"appt:{appointment.id}:reminder:%"),
        Message.key.like(f"appt:{appointment.id}:followup:%"),
    )
    existing = {
        row.key: row
        for row in session.scalars(
            select(Message).where(Message.appointment_id == appointment.id, planned_here)
        )
    }
    wanted_keys = {item.key for item in wanted}
    cancelled = 0
    for row in existing.values():
        if row.key not in wanted_keys and row.status in PENDING_MESSAGE:
            row.status, row.reason, row.lease_until = MessageStatus.CANCELLED, reason, None
            cancelled += 1
    planned = 0
    for item in wanted:
        found = existing.get(item.key)
        if found is None:
            found = Message(
                key=item.key,
                appointment_id=appointment.id,
                patient_id=appointment.patient_id,
                kind=item.kind,
                template=item.template,
                attempts=0,
            )
            session.add(found)
        elif not _replannable(found):
            continue
        planned += _apply(found, item)
    return ReplanResult(planned=planned, cancelled=cancelled)


@dataclass(frozen=True)
class FollowUpPlans:
    """Which follow-ups each appointment kind gets: config/followups.yaml's plan for its
    kind, else the CLINIC_FOLLOWUP_PLAN setting's."""

    overrides: Mapping[str, tuple[FollowUp, ...]]
    default: tuple[FollowUp, ...]

    def for_kind(self, kind: str) -> tuple[FollowUp, ...]:
        # The plans are keyed by the stored form; an appointment booked before kinds were
        # normalised may still read `Consult`, and must get the consult plan.
        return self.overrides.get(kind_key(kind), self.default)


def followup_plans(settings: Settings) -> FollowUpPlans:
    """The plans as they stand now. A caller planning many appointments (the CSV import)
    takes them once and passes them down rather than checking the file per appointment."""
    return FollowUpPlans(
        _overrides(config_file(settings, "followups.yaml")), parse_plan(settings.followup_plan)
    )


@dataclass(frozen=True)
class Booking:
    """What planning reads of an appointment: its fields, its patient's zone and why the
    patient cannot be texted (None: they can). The import plans from these, never building an
    ORM object per row."""

    id: int
    start_at: datetime
    duration_minutes: int
    kind: str
    status: AppointmentStatus
    zone: str
    not_textable: str | None = None

    @classmethod
    def of(cls, appointment: Appointment) -> Booking:
        patient = appointment.patient
        return cls(
            appointment.id,
            appointment.start_at,
            appointment.duration_minutes,
            appointment.kind,
            appointment.status,
            patient.timezone,
            textable_reason(patient.opted_out, patient.sms_consent),
        )


def wanted_messages(appointment: Appointment, settings: Settings, now: datetime) -> list[PlannedMessage]:
    """Reminders while the appointment is active; follow-ups also once it is completed."""
    return wanted_for(Booking.of(appointment), settings, now)


def wanted_for(
    booking: Booking, settings: Settings, now: datetime, plans: FollowUpPlans | None = None
) -> list[PlannedMessage]:
    """wanted_messages for a booking; `plans` None: read them (only if follow-ups apply).

    A patient who cannot be texted still gets the rows, skipped with the reason from the
    start: staff see what will not go out and why, and a later plan (consent given, START)
    finds them by key and brings them back."""
    wanted = _planned_for(booking, settings, now, plans)
    if booking.not_textable is None:
        return wanted
    # The consent reason wins over a quiet-hours one: it is the one staff can act on.
    return [
        item if item.kind in IGNORES_CONSENT else replace(item, skip_reason=booking.not_textable)
        for item in wanted
    ]


def _planned_for(
    booking: Booking, settings: Settings, now: datetime, plans: FollowUpPlans | None
) -> list[PlannedMessage]:
    wanted: list[PlannedMessage] = []
    if booking.status in ACTIVE_APPOINTMENT:
        wanted = plan_reminders(
            booking.id, booking.start_at, settings.reminder_offsets, now, booking.zone, settings.quiet_hours
        )
    if booking.status in (*ACTIVE_APPOINTMENT, AppointmentStatus.COMPLETED):
        plan = (followup_plans(settings) if plans is None else plans).for_kind(booking.kind)
        for item in plan_followups(
            booking.id,
            booking.start_at,
            timedelta(minutes=booking.duration_minutes),
            plan,
            now,
            booking.zone,
            settings.quiet_hours,
        ):
            wanted.append(
                PlannedMessage(
                    item.key,
                    MessageKind.CHECKIN,
                    item.template,
                    item.due_at,
                    item.original_due_at,
                    item.adjust_reason,
                )
            )
    return wanted


def _overrides(path: Path) -> dict[str, tuple[FollowUp, ...]]:
    # Read once per change of the file, not once per appointment re-planned.
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    return _cached_overrides(path, stamp)


@functools.lru_cache(maxsize=8)
def _cached_overrides(path: Path, _stamp: int) -> dict[str, tuple[FollowUp, ...]]:
    return load_overrides(path)


def _replannable(row: Message) -> bool:
    # Pending or cancelled rows may be planned again; so may a row skipped at planning time.
    # Anything that reached a worker keeps its outcome, and so does a row the dispatcher
    # skipped ("superseded"): that leaves attempts at 0 too, hence the reason is read.
    if row.status in (*PENDING_MESSAGE, MessageStatus.CANCELLED):
        return True
    return row.status == MessageStatus.SKIPPED and row.attempts == 0 and _skipped_by_plan(row.reason)


def _skipped_by_plan(reason: str | None) -> bool:
    # Planning skips for the patient (worker.planning.textable) or for quiet hours. A
    # worker's skips at send time ("stale: ...", quiet hours again) counted an attempt.
    return reason is not None and (reason in NOT_TEXTABLE or reason.startswith(f"{quiet.REASON_PREFIX} "))


def _apply(row: Message, item: PlannedMessage) -> int:
    """Bring a row in line with its plan; returns 1 if it is newly planned or moved."""
    status = MessageStatus.SKIPPED if item.skip_reason else MessageStatus.PLANNED
    # A queued row is a planned row a dispatcher has already claimed: leave it be if nothing changed.
    current = MessageStatus.PLANNED if row.status == MessageStatus.QUEUED else row.status
    unchanged = (current, row.due_at, row.original_due_at) == (status, item.due_at, item.original_due_at)
    # A skipped row whose reason changed (quiet hours -> no consent) is rewritten: the
    # reason is what staff read to know what to do.
    if unchanged and (item.skip_reason is None or row.reason == item.skip_reason):
        return 0
    row.status, row.due_at, row.lease_until = status, item.due_at, None
    row.original_due_at, row.adjust_reason, row.reason = (
        item.original_due_at,
        item.adjust_reason,
        item.skip_reason,
    )
    return 0 if item.skip_reason else 1
