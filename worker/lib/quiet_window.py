"""A daily window of local wall-clock time, such as quiet hours (21:00-08:00), read in any
IANA zone. Generic: it knows nothing of messages; planning/quiet.py decides what a window
means for a text.

The answers are defined minute by minute: walk real (UTC) minutes, read each on the local
clock, and stop at the first one outside the window. So daylight-saving jumps need no
special case: a skipped hour is never seen, a repeated hour is seen twice. They are
computed without the walk: within one UTC offset the local clock advances a minute per
minute, so the window's edge is a subtraction away; where the offset changes on the way,
the computation goes on from the first minute of the new offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MINUTE = timedelta(minutes=1)
_DAY = 24 * 60  # minutes
# How far the answer may be from the instant asked about: a day of minutes, plus room for a
# DST hour. Further means the window leaves no allowed time (say 00:01-00:00 on a day whose
# midnight a DST change skips).
_LONGEST_WALK = timedelta(minutes=_DAY + 120)


@dataclass(frozen=True)
class QuietHours:
    start: time  # first quiet minute, e.g. 21:00
    end: time  # first allowed minute again, e.g. 08:00

    def __post_init__(self) -> None:
        # The edges are computed in whole minutes of the local clock.
        for edge in (self.start, self.end):
            if edge.second or edge.microsecond:
                raise ValueError(f"quiet hours start and end are whole minutes, not {edge}")

    def __str__(self) -> str:
        # Not strftime: planning puts this in the reason of every text it moves.
        return f"{self.start.hour:02d}:{self.start.minute:02d}-{self.end.hour:02d}:{self.end.minute:02d}"

    def contains_clock(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end  # the window spans midnight

    def contains(self, instant: datetime, zone: str) -> bool:
        return self._contains_minute(_local_minute(instant, ZoneInfo(zone)))

    def last_allowed_before(self, instant: datetime, zone: str) -> datetime:
        """The last whole minute before the quiet window that holds `instant` began
        (`instant`'s own minute when it is not quiet)."""
        tz = ZoneInfo(zone)
        first = moment = _floor_minute(instant)
        while first - moment < _LONGEST_WALK:
            minute = _local_minute(moment, tz)
            if not self._contains_minute(minute):
                return moment
            # On this offset the window began `since` minutes ago; the minute before that is
            # allowed, unless the offset changed in between.
            since = (minute - _minutes(self.start)) % _DAY
            moment = _same_offset_or_edge(moment, moment - _MINUTE * (since + 1), tz)
        raise ValueError(f"quiet hours {self} leave no allowed time")

    def end_after(self, instant: datetime, zone: str) -> datetime:
        """The first allowed minute after the quiet window that holds `instant`
        (`instant`'s own minute when it is not quiet)."""
        tz = ZoneInfo(zone)
        first = moment = _floor_minute(instant)
        while moment - first < _LONGEST_WALK:
            minute = _local_minute(moment, tz)
            if not self._contains_minute(minute):
                return moment
            left = (_minutes(self.end) - minute) % _DAY
            moment = _same_offset_or_edge(moment, moment + _MINUTE * left, tz)
        raise ValueError(f"quiet hours {self} leave no allowed time")

    def _contains_minute(self, minute: int) -> bool:
        """contains_clock for a minute of the local day (0-1439), with its seconds dropped."""
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end  # the window spans midnight


def _floor_minute(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _local_minute(instant: datetime, tz: ZoneInfo) -> int:
    """The minute of the local day that `instant` falls in, on the clock of `tz`."""
    local = instant.astimezone(tz)
    return local.hour * 60 + local.minute


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta | None:
    return instant.astimezone(tz).utcoffset()


def _same_offset_or_edge(moment: datetime, target: datetime, tz: ZoneInfo) -> datetime:
    """`target` when `tz` has the same offset there as at `moment`; otherwise the minute
    nearest `moment`, on the way to `target`, whose offset differs from `moment`'s.

    Every minute between `moment` and the returned one is then on `moment`'s offset, where
    the local clock moves a minute per minute, so the caller has skipped only quiet minutes.
    Trusts that the offset changes at most once on the way (under a day): tzdata's closest
    changes are four days apart (every zone, 1900-2200), and tests/lib/test_quiet_window.py
    checks the answers against the minute walk around changes.
    """
    here = _offset(moment, tz)
    if _offset(target, tz) == here:
        return target
    step = _MINUTE if target > moment else -_MINUTE
    low, high = 0, abs(target - moment) // _MINUTE  # moment + step*high has another offset
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(moment + step * middle, tz) == here:
            low = middle
        else:
            high = middle
    return moment + step * high


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
