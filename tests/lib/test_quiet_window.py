"""QuietHours computes the window's edges without walking minutes: the answers must be the
minute walk's, which defines them (each real minute read on the local clock), across
midnight, on both sides of daylight-saving changes, and for instants already outside."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.lib import quiet_window
from worker.lib.quiet_window import QuietHours

NIGHT = QuietHours(time(21, 0), time(8, 0))
NY, LONDON, LORD_HOWE = "America/New_York", "Europe/London", "Australia/Lord_Howe"
MINUTE = timedelta(minutes=1)
LONGEST_WALK = 24 * 60 + 120


def walk(quiet: QuietHours, instant: datetime, zone: str, step: timedelta) -> datetime:
    """The definition: from `instant`'s minute, the first minute outside the window."""
    moment = instant.astimezone(UTC).replace(second=0, microsecond=0)
    for _ in range(LONGEST_WALK):
        if not quiet.contains(moment, zone):
            return moment
        moment += step
    raise ValueError("no allowed time")


def at(zone: str, text: str, fold: int = 0) -> datetime:
    """A local wall-clock time in `zone`, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def local(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def edges(quiet: QuietHours, instant: datetime, zone: str) -> tuple[str, str]:
    """(last allowed minute before, first allowed minute after), on the local clock; each
    also checked against the walk."""
    before, after = quiet.last_allowed_before(instant, zone), quiet.end_after(instant, zone)
    assert before == walk(quiet, instant, zone, -MINUTE)
    assert after == walk(quiet, instant, zone, MINUTE)
    return local(before, zone), local(after, zone)


def test_given_a_night_window_when_asked_inside_it_after_midnight_expect_both_edges() -> None:
    assert edges(NIGHT, at(NY, "2026-12-08T03:17:42"), NY) == ("2026-12-07 20:59 EST", "2026-12-08 08:00 EST")


def test_given_a_night_window_when_asked_inside_it_before_midnight_expect_both_edges() -> None:
    assert edges(NIGHT, at(NY, "2026-12-07T21:00"), NY) == ("2026-12-07 20:59 EST", "2026-12-08 08:00 EST")


def test_given_a_night_window_when_asked_at_its_last_minute_expect_the_next_minute() -> None:
    assert edges(NIGHT, at(NY, "2026-12-08T07:59:59"), NY)[1] == "2026-12-08 08:00 EST"


def test_given_a_window_already_open_when_asked_expect_the_instants_own_minute() -> None:
    instant = at(NY, "2026-12-08T12:34:56")
    assert edges(NIGHT, instant, NY) == ("2026-12-08 12:34 EST", "2026-12-08 12:34 EST")
    assert edges(NIGHT, at(NY, "2026-12-08T08:00"), NY) == ("2026-12-08 08:00 EST", "2026-12-08 08:00 EST")


def test_given_a_daytime_window_when_asked_inside_it_expect_its_edges_the_same_day() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert edges(lunch, at(NY, "2026-12-08T12:45"), NY) == ("2026-12-08 11:59 EST", "2026-12-08 13:30 EST")


def test_given_spring_forward_inside_the_night_when_asked_expect_the_real_edges() -> None:
    # 2026-03-08 in New York: 02:00 EST is followed by 03:00 EDT; the night is an hour shorter.
    assert edges(NIGHT, at(NY, "2026-03-08T01:00"), NY) == ("2026-03-07 20:59 EST", "2026-03-08 08:00 EDT")


def test_given_a_window_ending_in_the_skipped_hour_when_asked_expect_the_first_real_minute() -> None:
    quiet = QuietHours(time(1, 30), time(2, 30))
    assert edges(quiet, at(NY, "2026-03-08T01:45"), NY) == ("2026-03-08 01:29 EST", "2026-03-08 03:00 EDT")


def test_given_a_window_starting_in_the_skipped_hour_when_asked_expect_the_minute_before_the_jump() -> None:
    quiet = QuietHours(time(2, 30), time(4, 0))
    assert edges(quiet, at(NY, "2026-03-08T03:10"), NY) == ("2026-03-08 01:59 EST", "2026-03-08 04:00 EDT")


def test_given_fall_back_inside_the_night_when_asked_expect_the_real_edges() -> None:
    # 2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST); the night is longer.
    assert edges(NIGHT, at(NY, "2026-11-01T05:00"), NY) == ("2026-10-31 20:59 EDT", "2026-11-01 08:00 EST")


def test_given_a_window_inside_the_repeated_hour_when_asked_the_second_time_expect_that_pass() -> None:
    quiet = QuietHours(time(1, 0), time(1, 30))
    first, second = at(NY, "2026-11-01T01:10", fold=0), at(NY, "2026-11-01T01:10", fold=1)
    assert edges(quiet, first, NY) == ("2026-11-01 00:59 EDT", "2026-11-01 01:30 EDT")
    assert edges(quiet, second, NY) == ("2026-11-01 01:59 EDT", "2026-11-01 01:30 EST")


def test_given_a_window_ending_in_the_repeated_hour_when_asked_expect_its_first_pass() -> None:
    quiet = QuietHours(time(23, 0), time(1, 30))
    assert edges(quiet, at(NY, "2026-11-01T00:10"), NY) == ("2026-10-31 22:59 EDT", "2026-11-01 01:30 EDT")


def test_given_a_half_hour_daylight_saving_zone_when_it_springs_forward_expect_the_real_edges() -> None:
    # Lord Howe Island: 02:00 +1030 is followed by 02:30 +11 on 2026-10-04.
    quiet = QuietHours(time(1, 45), time(2, 15))
    assert edges(quiet, at(LORD_HOWE, "2026-10-04T01:50"), LORD_HOWE)[1] == "2026-10-04 02:30 +11"
    assert edges(NIGHT, at(LORD_HOWE, "2026-10-04T03:00"), LORD_HOWE)[1] == "2026-10-04 08:00 +11"


def test_given_a_window_that_leaves_one_minute_a_day_when_asked_expect_that_minute() -> None:
    quiet = QuietHours(time(0, 1), time(0, 0))
    assert edges(quiet, at(LONDON, "2026-06-10T12:00"), LONDON) == (
        "2026-06-10 00:00 BST",
        "2026-06-11 00:00 BST",
    )


def test_given_a_day_whose_allowed_minute_a_change_skips_when_asked_expect_no_allowed_time() -> None:
    # Santiago 2026-09-06: 00:00 -04 is followed by 01:00 -03, so midnight never happens.
    quiet, zone = QuietHours(time(0, 1), time(0, 0)), "America/Santiago"
    instant = at(zone, "2026-09-05T00:30")
    with pytest.raises(ValueError, match="leave no allowed time"):
        quiet.end_after(instant, zone)
    with pytest.raises(ValueError):
        walk(quiet, instant, zone, MINUTE)


ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/Dublin",
    "UTC",
]


@st.composite
def windows(draw: st.DrawFn) -> QuietHours:
    start = time(draw(st.integers(0, 23)), draw(st.integers(0, 59)))
    end = time(draw(st.integers(0, 23)), draw(st.integers(0, 59)))
    return NIGHT if start == end else QuietHours(start, end)


def same_as_walk(quiet: QuietHours, instant: datetime, zone: str) -> None:
    for step, computed in ((-MINUTE, quiet.last_allowed_before), (MINUTE, quiet.end_after)):
        try:
            expected: datetime | str = walk(quiet, instant, zone, step)
        except ValueError:
            expected = "no allowed time"
        try:
            got: datetime | str = computed(instant, zone)
        except ValueError:
            got = "no allowed time"
        assert got == expected, (str(quiet), zone, instant, step)


@settings(max_examples=500, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    quiet=windows(),
)
def test_given_any_instant_zone_and_window_expect_the_walks_answers(
    instant: datetime, zone: str, quiet: QuietHours
) -> None:
    same_as_walk(quiet, instant, zone)


@functools.cache
def changes(zone: str, year: int) -> list[datetime]:
    """The instants (to the minute) where `zone`'s offset changes in `year`."""
    found, hour = [], datetime(year, 1, 1, tzinfo=UTC)
    offset = hour.astimezone(ZoneInfo(zone)).utcoffset()
    while hour.year == year:
        later = hour + timedelta(hours=1)
        if later.astimezone(ZoneInfo(zone)).utcoffset() != offset:
            minute = hour
            while minute.astimezone(ZoneInfo(zone)).utcoffset() == offset:
                minute += MINUTE
            found.append(minute)
            offset = later.astimezone(ZoneInfo(zone)).utcoffset()
        hour = later
    return found


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from([z for z in ZONES if z not in {"UTC", "Asia/Kolkata"}]),
    which=st.integers(0, 1),
    minutes=st.integers(-26 * 60, 26 * 60),
    quiet=windows(),
)
def test_given_an_instant_near_a_daylight_saving_change_expect_the_walks_answers(
    zone: str, which: int, minutes: int, quiet: QuietHours
) -> None:
    change = changes(zone, 2027)[which]
    same_as_walk(quiet, change + timedelta(minutes=minutes, seconds=17), zone)


def test_given_a_whole_night_ahead_when_asked_expect_a_few_readings_of_the_clock_not_a_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readings: list[datetime] = []
    real = quiet_window._local_minute

    def counted(instant: datetime, tz: ZoneInfo) -> int:
        readings.append(instant)
        return real(instant, tz)

    monkeypatch.setattr(quiet_window, "_local_minute", counted)
    assert local(NIGHT.end_after(at(NY, "2026-12-07T21:00"), NY), NY) == "2026-12-08 08:00 EST"
    assert len(readings) <= 3


def test_given_edges_with_seconds_when_made_expect_refused() -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        QuietHours(time(21, 0, 30), time(8, 0))
