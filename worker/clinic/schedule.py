"""The front desk's view of the schedule: appointments by local day or time window, kind and
confirmation, with their patients, one page at a time.

Days and times are the clinic's wall clock (a front desk thinks in "today" where the clinic
is); what is stored and compared is UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from worker.db.models import Appointment
from worker.enums import AppointmentStatus
from worker.lib import localtime
from worker.lib.errors import InputError

# Not yet confirmed by the patient, and still to happen: the front desk's calls to make.
UNCONFIRMED = (AppointmentStatus.SCHEDULED, AppointmentStatus.RESCHEDULE_REQUESTED)
CONFIRMATION = {
    AppointmentStatus.CONFIRMED: "confirmed",
    AppointmentStatus.SCHEDULED: "not confirmed",
    AppointmentStatus.RESCHEDULE_REQUESTED: "reschedule requested",
}
_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")
_DAY_WORDS = {"yesterday": -1, "today": 0, "tomorrow": 1}


@dataclass(frozen=True)
class Window:
    """Start times from `start` (inclusive) to `end` (exclusive), UTC; None: open."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class ScheduleFilter:
    window: Window = Window()
    status: AppointmentStatus | None = None
    patient_id: int | None = None
    kind: str | None = None
    unconfirmed: bool = False


def confirmation(status: AppointmentStatus) -> str:
    """Whether the patient confirmed (or asked for another time); '' once it is over or cancelled."""
    return CONFIRMATION.get(status, "")


def local_day(text: str, zone: ZoneInfo, now: datetime) -> date:
    """today, tomorrow, yesterday or YYYY-MM-DD, on the clinic's calendar."""
    word = text.strip().lower()
    if word in _DAY_WORDS:
        return now.astimezone(zone).date() + timedelta(days=_DAY_WORDS[word])
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise InputError(f"{text.strip()!r} is not a day: use today, tomorrow or YYYY-MM-DD") from None


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` on the wall clock of `zone`, in UTC. Lenient on purpose: in
    a zone whose clocks skip midnight the day starts at the first minute that exists."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def window(zone: ZoneInfo, now: datetime, *, day: str | None, start: str | None, end: str | None) -> Window:
    """--date, --from and --to read as the clinic's local days or times. --from/--to take a
    day (the start of it, the end of it), a time of --date's day (or today's) like 14:00, or
    a full ISO 8601 time; --to is exclusive."""
    on = local_day(day, zone, now) if day else None
    lower = day_start(on, zone) if on else None
    upper = day_start(on + timedelta(days=1), zone) if on else None
    if start:
        lower = _later(lower, _bound(start, zone, now, on, end_of_day=False))
    if end:
        upper = _earlier(upper, _bound(end, zone, now, on, end_of_day=True))
    if lower is not None and upper is not None and upper <= lower:
        raise InputError("--to must be after --from (and inside --date's day)")
    return Window(lower, upper)


def _bound(text: str, zone: ZoneInfo, now: datetime, on: date | None, *, end_of_day: bool) -> datetime:
    cleaned = text.strip()
    if _CLOCK.match(cleaned):  # 14:00 on the --date day, else today
        day = on or now.astimezone(zone).date()
        return localtime.read(f"{day.isoformat()}T{cleaned.zfill(5)}", zone)
    if "T" in cleaned or " " in cleaned:
        return localtime.read(cleaned, zone)
    day = local_day(cleaned, zone, now)
    return day_start(day + timedelta(days=1) if end_of_day else day, zone)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else max(a, b)


def _earlier(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else min(a, b)


def list_schedule(
    session: Session, wanted: ScheduleFilter, *, limit: int | None = None, offset: int = 0
) -> tuple[list[Appointment], int]:
    """One page of the appointments `wanted` picks, soonest first, each with its patient
    loaded (names are decrypted through the relationship), and how many there are in all."""
    query = _query(wanted).options(selectinload(Appointment.patient))
    if wanted.kind is None:
        total = session.scalar(select(func.count()).select_from(_query(wanted).subquery())) or 0
        return list(session.scalars(query.offset(offset).limit(limit))), total
    # The kind is encrypted at rest (it can say what a patient is treated for), so it is
    # compared here, after decryption, over the rows the other filters left: a clinic's
    # day or week is a few hundred rows at most.
    kind = wanted.kind.strip().casefold()
    found = [a for a in session.scalars(query) if a.kind.strip().casefold() == kind]
    return found[offset : None if limit is None else offset + limit], len(found)


def _query(wanted: ScheduleFilter) -> Select[Appointment]:
    query = select(Appointment).order_by(Appointment.start_at, Appointment.id)
    if wanted.window.start is not None:
        query = query.where(Appointment.start_at >= wanted.window.start)
    if wanted.window.end is not None:
        query = query.where(Appointment.start_at < wanted.window.end)
    if wanted.status is not None:
        query = query.where(Appointment.status == wanted.status.value)
    if wanted.unconfirmed:
        query = query.where(Appointment.status.in_([s.value for s in UNCONFIRMED]))
    if wanted.patient_id is not None:
        query = query.where(Appointment.patient_id == wanted.patient_id)
    return query
