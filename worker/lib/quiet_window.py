"""A daily window of local wall-clock time, such as quiet hours (21:00-08:00), read in any
IANA zone. Instants are walked in real minutes and each is read on the local clock, so
daylight-saving jumps (a skipped or repeated hour) need no special case. Generic: it knows
nothing of messages; planning/quiet.py decides what a window means for a text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MINUTE = timedelta(minutes=1)
_LONGEST_WALK = 24 * 60 + 120  # a day of minutes, plus room for a DST hour


@dataclass(frozen=True)
class QuietHours:
    start: time  # first quiet minute, e.g. 21:00
    end: time  # first allowed minute again, e.g. 08:00

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains_clock(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end  # the window spans midnight

    def contains(self, instant: datetime, zone: str) -> bool:
        local = instant.astimezone(ZoneInfo(zone))
        return self.contains_clock(local.time().replace(second=0, microsecond=0, fold=0))

    def last_allowed_before(self, instant: datetime, zone: str) -> datetime:
        """The last whole minute before the quiet window that holds `instant` began."""
        moment = _floor_minute(instant)
        for _ in range(_LONGEST_WALK):
            if not self.contains(moment, zone):
                return moment
            moment -= _MINUTE
        raise ValueError(f"quiet hours {self} leave no allowed time")

    def end_after(self, instant: datetime, zone: str) -> datetime:
        """The first allowed minute after the quiet window that holds `instant`."""
        moment = _floor_minute(instant)
        for _ in range(_LONGEST_WALK):
            if not self.contains(moment, zone):
                return moment
            moment += _MINUTE
        raise ValueError(f"quiet hours {self} leave no allowed time")


def _floor_minute(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def parse_quiet_hours(text: str) -> QuietHours | None:
    """`21:00-08:00` (in the patient's local time) or `off`."""
    if text.strip().lower() in {"off", "none", ""}:
        return None
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a range like 21:00-08:00 (or off)")
    hours = [int(g) for g in match.groups()]
    if not (hours[0] < 24 and hours[2] < 24 and hours[1] < 60 and hours[3] < 60):
        raise ValueError(f"{text.strip()!r} has a time that does not exist")
    start, end = time(hours[0], hours[1]), time(hours[2], hours[3])
    if start == end:
        raise ValueError("start and end are the same; use off to disable quiet hours")
    return QuietHours(start, end)
