"""Times as people read and write them: wall-clock times in a named zone.

Stored and exchanged times are UTC (`--json` keeps them so). People see the clinic's (or
the patient's) wall clock with the zone's abbreviation, and type wall-clock times that
must mean exactly one instant: a time that does not exist (the hour skipped when clocks go
forward) is refused with the nearest valid times, and one that happens twice (the hour
repeated when clocks go back) needs an explicit offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from worker.lib.errors import InputError

DISPLAY_FORMAT = "%Y-%m-%d %H:%M %Z"
EXAMPLE_INPUT = "2026-12-01T15:30"


def show(value: datetime | None, zone: ZoneInfo) -> str:
    """`2026-12-03 10:00 EST`: a stored UTC time on the wall clock of `zone`; '' for None."""
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime(DISPLAY_FORMAT)


def read(text: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time; without an offset, a wall-clock time in `zone`. Returns UTC.

    Raises InputError (one line) for text that is no time, for a wall-clock time that does
    not exist in `zone`, and for one that exists twice there without an offset."""
    cleaned = text.strip()
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InputError(f"{cleaned!r} is not an ISO 8601 time like {EXAMPLE_INPUT}") from None
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return wall_clock(value, zone).astimezone(UTC)


def wall_clock(naive: datetime, zone: ZoneInfo) -> datetime:
    """`naive` read on the wall clock of `zone`, refused when that is not exactly one instant."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        if _round_trips(first):
            raise InputError(_ambiguous(naive, first, second))
        raise InputError(_nonexistent(naive, zone))
    return first


def _round_trips(aware: datetime) -> bool:
    """False for a wall-clock time in a gap: zoneinfo gives it an instant that reads back
    as another wall-clock time."""
    back = aware.astimezone(UTC).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None, fold=0) == aware.replace(tzinfo=None, fold=0)


def _ambiguous(naive: datetime, first: datetime, second: datetime) -> str:
    stamp = naive.isoformat(timespec="minutes")
    return (
        f"{stamp} happens twice in {first.tzinfo} (clocks go back): add the offset, "
        f"{first.isoformat(timespec='minutes')} ({first.strftime('%Z')}) or "
        f"{second.isoformat(timespec='minutes')} ({second.strftime('%Z')})"
    )


def _nonexistent(naive: datetime, zone: ZoneInfo) -> str:
    before, after = _gap_edges(naive, zone)
    return (
        f"{naive.isoformat(timespec='minutes')} does not exist in {zone} (clocks go forward): "
        f"the nearest valid times are {before.strftime('%H:%M %Z')} and {after.strftime('%H:%M %Z')}"
    )


def _gap_edges(naive: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The last valid minute before the gap and the first one after it. Read with either
    offset, the skipped time lands on both sides of the change; walk between the two (a gap
    is an hour or so: at most a few hundred steps) to the minute at which the offset changes."""
    early, late = sorted(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    step = timedelta(minutes=1)
    offset = early.astimezone(zone).utcoffset()
    moment = early
    while moment < late and moment.astimezone(zone).utcoffset() == offset:
        moment += step
    return (moment - step).astimezone(zone), moment.astimezone(zone)
