"""Quiet hours, time zones and daylight saving: the pure planning function over a table of
cases, and properties that must hold for any appointment, zone and offsets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.lib.quiet_window import QuietHours, parse_quiet_hours
from worker.planning.reminders import PlannedMessage, plan_reminders

NIGHT = QuietHours(time(21, 0), time(8, 0))
H = timedelta(hours=1)


def at(zone: str, text: str, fold: int = 0) -> datetime:
    """A local wall-clock time in `zone`, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def local(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def plan(
    zone: str, start: str, offsets: list[timedelta], booked: str, quiet: QuietHours | None = NIGHT
) -> list[PlannedMessage]:
    return plan_reminders(1, at(zone, start), offsets, at(zone, booked), zone, quiet)


def summary(items: list[PlannedMessage], zone: str) -> list[str]:
    out = []
    for item in items:
        if item.skip_reason:
            out.append(f"skipped {local(item.due_at, zone)}")
        elif item.original_due_at:
            out.append(f"{local(item.due_at, zone)} (was {local(item.original_due_at, zone)})")
        else:
            out.append(local(item.due_at, zone))
    return out


NY, LA, LONDON, KOLKATA = "America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Kolkata"

CASES = [
    # (zone, appointment, offsets, booked at, expected placements)
    (
        "outside quiet hours nothing moves",
        NY,
        "2026-12-08T10:00",
        [48 * H, 2 * H],
        "2026-12-01T09:00",
        ["2026-12-06 10:00 EST", "2026-12-08 08:00 EST"],
    ),
    (
        "inside, moved to the last minute before they began",
        NY,
        "2026-12-08T09:00",
        [2 * H],
        "2026-12-01T09:00",
        ["2026-12-07 20:59 EST (was 2026-12-08 07:00 EST)"],
    ),
    (
        "booked after that minute: moved to their end",
        NY,
        "2026-12-08T09:00",
        [2 * H],
        "2026-12-07T22:00",
        ["2026-12-08 08:00 EST (was 2026-12-08 07:00 EST)"],
    ),
    (
        "end of quiet hours not before the session: skipped",
        NY,
        "2026-12-08T08:00",
        [2 * H],
        "2026-12-07T22:00",
        ["skipped 2026-12-08 06:00 EST"],
    ),
    (
        "two reminders pushed to one minute become one",
        NY,
        "2026-12-08T08:30",
        [4 * H, 2 * H],
        "2026-12-01T09:00",
        ["2026-12-07 20:59 EST (was 2026-12-08 04:30 EST)", "skipped 2026-12-08 06:30 EST"],
    ),
    (
        "late booking plans only reminders still ahead",
        NY,
        "2026-12-08T15:00",
        [48 * H, 2 * H],
        "2026-12-08T12:00",
        ["2026-12-08 13:00 EST"],
    ),
    (
        "quiet hours are the patient's: 07:00 in LA is 10:00 in NY",
        LA,
        "2026-12-08T09:00",
        [2 * H],
        "2026-12-01T09:00",
        ["2026-12-07 20:59 PST (was 2026-12-08 07:00 PST)"],
    ),
    (
        "48h before a session just after spring-forward is 48 real hours",
        NY,
        "2026-03-09T10:00",
        [48 * H],
        "2026-03-01T10:00",
        ["2026-03-07 09:00 EST"],
    ),
    (
        "48h before a session just after fall-back is 48 real hours",
        NY,
        "2026-11-02T10:00",
        [48 * H],
        "2026-10-20T10:00",
        ["2026-10-31 11:00 EDT"],
    ),
    (
        "London across the change to summer time",
        LONDON,
        "2026-03-30T09:00",
        [48 * H],
        "2026-03-20T09:00",
        ["2026-03-28 08:00 GMT"],
    ),
    (
        "London reminder in the night moves to the evening before",
        LONDON,
        "2026-03-30T07:30",
        [2 * H],
        "2026-03-20T09:00",
        ["2026-03-29 20:59 BST (was 2026-03-30 05:30 BST)"],
    ),
    (
        "a zone without daylight saving",
        KOLKATA,
        "2026-06-10T07:30",
        [2 * H],
        "2026-06-01T09:00",
        ["2026-06-09 20:59 IST (was 2026-06-10 05:30 IST)"],
    ),
    ("quiet hours off", NY, "2026-12-08T09:00", [2 * H], "2026-12-01T09:00", ["2026-12-08 07:00 EST"]),
]


@pytest.mark.parametrize(
    ("zone", "start", "offsets", "booked", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_planning_table(
    zone: str, start: str, offsets: list[timedelta], booked: str, expected: list[str]
) -> None:
    quiet = None if expected == ["2026-12-08 07:00 EST"] else NIGHT
    assert summary(plan(zone, start, offsets, booked, quiet), zone) == expected


def test_moved_and_skipped_reminders_say_why() -> None:
    moved, skipped = plan(NY, "2026-12-08T08:30", [4 * H, 2 * H], "2026-12-01T09:00")
    assert moved.adjust_reason == "quiet hours 21:00-08:00: moved earlier"
    assert skipped.skip_reason == "quiet hours 21:00-08:00: moved earlier; same time as the 4h reminder"
    [late] = plan(NY, "2026-12-08T08:00", [2 * H], "2026-12-07T22:00")
    assert late.skip_reason == "quiet hours 21:00-08:00: no allowed time before the session"


def test_quiet_hours_ending_inside_the_skipped_hour_end_at_the_first_real_minute() -> None:
    # 2026-03-08 in New York: 02:00 EST is followed by 03:00 EDT. Quiet 01:30-02:30 then ends at 03:00.
    quiet = QuietHours(time(1, 30), time(2, 30))
    due = at(NY, "2026-03-08T01:45")
    assert quiet.contains(due, NY)
    assert local(quiet.end_after(due, NY), NY) == "2026-03-08 03:00 EDT"


def test_the_repeated_hour_is_quiet_both_times() -> None:
    # 2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST).
    quiet = QuietHours(time(1, 0), time(1, 30))
    first, second = at(NY, "2026-11-01T01:10", fold=0), at(NY, "2026-11-01T01:10", fold=1)
    assert second - first == H
    assert quiet.contains(first, NY) and quiet.contains(second, NY)
    assert local(quiet.end_after(second, NY), NY) == "2026-11-01 01:30 EST"
    assert local(quiet.last_allowed_before(second, NY), NY) == "2026-11-01 01:59 EDT"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("21:00-08:00", True),
        ("off", True),
        ("9pm-8am", False),
        ("25:00-08:00", False),
        ("08:00-08:00", False),
    ],
)
def test_quiet_hours_setting_is_checked(text: str, ok: bool) -> None:
    if ok:
        parse_quiet_hours(text)
    else:
        with pytest.raises(ValueError):
            parse_quiet_hours(text)


ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "UTC",
]


@st.composite
def quiet_hours(draw: st.DrawFn) -> QuietHours:
    start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    end = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    if start == end:
        return NIGHT
    return QuietHours(start, end)


@settings(max_examples=400, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    offsets=st.lists(st.integers(1, 7 * 24 * 60).map(lambda m: timedelta(minutes=m)), min_size=1, max_size=4),
    lead=st.integers(0, 10 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    quiet=quiet_hours(),
)
def test_no_planned_reminder_falls_in_quiet_hours_or_after_the_session(
    start: datetime, zone: str, offsets: list[timedelta], lead: timedelta, quiet: QuietHours
) -> None:
    now = start - lead
    planned = plan_reminders(1, start, offsets, now, zone, quiet)
    sent = [p for p in planned if p.skip_reason is None]
    for item in planned:
        assert item.due_at.tzinfo is UTC or item.due_at.utcoffset() == timedelta(0)
    for item in sent:
        assert not quiet.contains(item.due_at, zone), (local(item.due_at, zone), str(quiet))
        assert now <= item.due_at < start
    assert len({p.due_at for p in sent}) == len(sent)
    assert len(planned) == len({o for o in offsets if start - o > now})
