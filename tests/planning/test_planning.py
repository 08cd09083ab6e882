"""The pure planning function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.planning.reminders import plan_reminders

START = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
OFFSETS = (timedelta(hours=48), timedelta(hours=2))


def test_one_reminder_per_offset_before_the_start() -> None:
    plan = plan_reminders(7, START, OFFSETS, now=START - timedelta(days=5))
    assert [p.due_at for p in plan] == [START - timedelta(hours=48), START - timedelta(hours=2)]
    assert all(p.kind == "reminder" and p.due_at.tzinfo is not None for p in plan)


def test_late_booking_plans_only_reminders_still_in_the_future() -> None:
    plan = plan_reminders(7, START, OFFSETS, now=START - timedelta(hours=3))
    assert [p.due_at for p in plan] == [START - timedelta(hours=2)]


def test_booking_inside_the_last_offset_plans_nothing() -> None:
    assert plan_reminders(7, START, OFFSETS, now=START - timedelta(minutes=90)) == []


def test_keys_are_unique_per_offset_and_change_with_the_start_time() -> None:
    now = START - timedelta(days=5)
    first = {p.key for p in plan_reminders(7, START, OFFSETS, now)}
    again = {p.key for p in plan_reminders(7, START, OFFSETS, now)}
    moved = {p.key for p in plan_reminders(7, START + timedelta(hours=1), OFFSETS, now)}
    assert len(first) == 2
    assert first == again
    assert not first & moved


def test_duplicate_offsets_plan_one_reminder() -> None:
    plan = plan_reminders(7, START, (timedelta(hours=2), timedelta(minutes=120)), START - timedelta(days=1))
    assert len(plan) == 1
