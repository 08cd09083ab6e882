"""Wall-clock times in, wall-clock times out: one instant each, labelled with the zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from worker.lib.errors import InputError
from worker.lib.localtime import read, show

NEW_YORK = ZoneInfo("America/New_York")


def test_given_a_utc_time_when_shown_expect_the_wall_clock_with_its_abbreviation() -> None:
    assert show(datetime(2026, 12, 3, 15, 0, tzinfo=UTC), NEW_YORK) == "2026-12-03 10:00 EST"
    assert show(datetime(2026, 7, 3, 14, 0, tzinfo=UTC), NEW_YORK) == "2026-07-03 10:00 EDT"


def test_given_a_naive_time_from_sqlite_when_shown_expect_it_read_as_utc() -> None:
    assert show(datetime(2026, 12, 3, 15, 0), NEW_YORK) == "2026-12-03 10:00 EST"


def test_given_nothing_when_shown_expect_an_empty_cell() -> None:
    assert show(None, NEW_YORK) == ""


def test_given_a_wall_clock_time_when_read_expect_the_utc_instant() -> None:
    assert read("2026-12-03T10:00", NEW_YORK) == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def test_given_an_offset_when_read_expect_it_to_win_over_the_zone() -> None:
    assert read("2026-12-03T10:00+00:00", NEW_YORK) == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_given_a_time_in_the_spring_gap_when_read_expect_the_nearest_valid_times_named() -> None:
    with pytest.raises(InputError) as refused:
        read("2027-03-14T02:30", NEW_YORK)
    message = str(refused.value)
    assert "does not exist" in message
    assert "01:59 EST" in message and "03:00 EDT" in message


def test_given_the_repeated_autumn_hour_when_read_without_offset_expect_both_offsets_offered() -> None:
    with pytest.raises(InputError) as refused:
        read("2026-11-01T01:30", NEW_YORK)
    message = str(refused.value)
    assert "happens twice" in message
    assert "2026-11-01T01:30-04:00" in message and "2026-11-01T01:30-05:00" in message


def test_given_the_repeated_hour_with_an_offset_when_read_expect_that_instant() -> None:
    assert read("2026-11-01T01:30-05:00", NEW_YORK) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_given_text_that_is_no_time_when_read_expect_one_line_with_an_example() -> None:
    with pytest.raises(InputError, match="not an ISO 8601 time like 2026-12-01T15:30"):
        read("next tuesday", NEW_YORK)


def test_given_a_zone_without_daylight_saving_when_read_expect_every_time_accepted() -> None:
    assert read("2027-03-14T02:30", ZoneInfo("America/Phoenix")) == datetime(2027, 3, 14, 9, 30, tzinfo=UTC)
