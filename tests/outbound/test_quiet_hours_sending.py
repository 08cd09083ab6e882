"""Quiet hours where they meet the database: recorded decisions, send-time checks, the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import Cli, RedisServer, make_settings
from tests.helpers import add_appointment, add_patient, messages_of
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import Message, utcnow
from worker.lib.quiet_window import QuietHours
from worker.outbound.dispatch import claim_due
from worker.outbound.sending import deliver
from worker.runtime import build_runtime


def window_around(instant: datetime, before: timedelta, after: timedelta) -> str:
    """A quiet-hours setting (UTC wall clock) that covers `instant`."""
    start, end = (instant - before).time(), (instant + after).time()
    return f"{start:%H:%M}-{end:%H:%M}"


@pytest.fixture
def quiet_now(db_url: str, redis_server: RedisServer, standin: StandIn) -> Any:
    now = utcnow()
    settings = make_settings(
        db_url,
        redis_server.url,
        standin.url,
        timezone="UTC",
        reminder_offsets="80m",
        quiet_hours=window_around(now, timedelta(hours=1), timedelta(hours=1)),
    )
    rt = build_runtime(settings)
    yield rt
    rt.close()


def test_a_reminder_due_in_quiet_hours_is_moved_and_the_decision_recorded(quiet_now: Any) -> None:
    rt = quiet_now
    pid = add_patient(rt.sessions, rt.settings, "+12025550143", timezone="UTC")
    start = utcnow() + timedelta(minutes=90)
    appt = add_appointment(rt.sessions, rt.settings, pid, start)
    [row] = messages_of(rt.sessions, appt)
    quiet: QuietHours = rt.settings.quiet_hours
    assert row.status == "planned"
    assert row.original_due_at == start - timedelta(minutes=80)
    assert not quiet.contains(row.due_at, "UTC") and row.due_at < start
    assert row.adjust_reason == f"quiet hours {quiet}: moved to their end"


def test_a_message_that_reaches_a_worker_inside_quiet_hours_is_placed_again_not_sent(
    quiet_now: Any, standin: StandIn
) -> None:
    rt = quiet_now
    pid = add_patient(rt.sessions, rt.settings, "+12025550143", timezone="UTC")
    appt = add_appointment(rt.sessions, rt.settings, pid, utcnow() + timedelta(minutes=90))
    [row] = messages_of(rt.sessions, appt)
    with transaction(rt.sessions) as session:  # as if planned before the quiet hours were set
        session.execute(
            update(Message).where(Message.id == row.id).values(due_at=utcnow(), original_due_at=None)
        )
    claim_due(rt.sessions, utcnow(), 10, rt.settings.claim_lease)
    outcome = deliver(rt, row.id)
    assert outcome.status == "planned"
    [moved] = messages_of(rt.sessions, appt)
    assert moved.status == "planned" and moved.due_at > utcnow() and moved.original_due_at is not None
    assert moved.adjust_reason.endswith("(at send time)")
    assert standin.accepted == []


def test_answers_to_the_patient_are_not_held_by_quiet_hours(quiet_now: Any, standin: StandIn) -> None:
    from tests.inbound.test_replies import process_all
    from tests.webhooks import inbound_form
    from worker.inbound.store import store_inbound

    rt = quiet_now
    add_patient(rt.sessions, rt.settings, "+12025550143", timezone="UTC")
    with transaction(rt.sessions) as session:
        store_inbound(session, {k: [v] for k, v in inbound_form("HELP", "+12025550143")}, "webhook", utcnow())
    assert process_all(rt) == ["sent"]


def test_upcoming_lists_local_send_times_and_why_they_moved(cli: Cli) -> None:
    cli.env["CLINIC_QUIET_HOURS"] = "21:00-08:00"
    cli.run(
        "patients", "add", "--name", "Ana", "--phone", "+12025550143", "--timezone", "America/Los_Angeles"
    )
    cli.run("appointments", "add", "--patient", "1", "--start", "2031-03-04T09:00-08:00")
    rows = cli.json("messages", "list", "--upcoming")
    assert [r["local_due"] for r in rows] == ["Sun 2031-03-02 09:00 PST", "Mon 2031-03-03 20:59 PST"]
    assert rows[1]["original_due_at"] == "2031-03-04T15:00:00+00:00"
    assert rows[1]["notes"] == "was Tue 2031-03-04 07:00 PST: quiet hours 21:00-08:00: moved earlier"
    table = cli.run("messages", "list", "--upcoming").stdout
    assert "20:59 PST" in table and "moved earlier" in table


def test_unknown_zone_is_a_clear_error(cli: Cli) -> None:
    result = cli.run(
        "patients",
        "add",
        "--name",
        "Ana",
        "--phone",
        "+12025550143",
        "--timezone",
        "Pacific/Atlantis",
        ok=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: unknown time zone 'Pacific/Atlantis' (use an IANA name like America/Chicago)"
    )


def test_quiet_hours_setting_error_is_one_line(cli: Cli) -> None:
    cli.env["CLINIC_QUIET_HOURS"] = "late"
    result = cli.run("messages", "list", ok=False)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: CLINIC_QUIET_HOURS: 'late' is not a range like 21:00-08:00 (or off)"
    )


def test_a_reminder_moved_at_send_time_never_lands_on_top_of_another(
    quiet_now: Any, standin: StandIn
) -> None:
    rt = quiet_now
    pid = add_patient(rt.sessions, rt.settings, "+12025550143", timezone="UTC")
    appt = add_appointment(rt.sessions, rt.settings, pid, utcnow() + timedelta(minutes=90))
    [planned] = messages_of(rt.sessions, appt)  # already moved to the end of quiet hours
    from worker.outbound.manual import queue_manual_reminder

    with transaction(rt.sessions) as session:
        manual = queue_manual_reminder(session, rt.settings, appt, actor="test", now=utcnow()).id
    outcome = deliver(rt, manual)
    assert outcome.status == "skipped"
    assert outcome.reason is not None and outcome.reason.endswith("another reminder already goes then")
    assert sorted(m.status for m in messages_of(rt.sessions, appt)) == ["planned", "skipped"]
    assert planned.status == "planned" and standin.accepted == []
