"""Appointment states follow one table: complete and no-show only after the start, cancel and
reschedule only while open, no chains of final states; each refusal one line naming the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli, make_settings
from tests.helpers import add_appointment, add_patient, in_minutes, messages_of
from worker.clinic import records
from worker.clinic.transitions import OPEN, TABLE, Change, check_transition
from worker.db.engine import transaction
from worker.db.models import Appointment, AuditEntry, utcnow
from worker.enums import AppointmentStatus, MessageStatus
from worker.lib.errors import InputError
from worker.settings import Settings

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 10:00 EST
EASTERN = ZoneInfo("America/New_York")
FINAL = (AppointmentStatus.CANCELLED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)


def _appointment(status: AppointmentStatus, start: datetime) -> Appointment:
    return Appointment(id=7, patient_id=1, start_at=start, duration_minutes=60, kind="session", status=status)


def _allowed(status: AppointmentStatus, change: Change, start: datetime) -> bool:
    try:
        check_transition(_appointment(status, start), change, NOW, EASTERN)
    except InputError:
        return False
    return True


@pytest.mark.parametrize("status", list(AppointmentStatus))
def test_the_table_for_every_state_before_and_after_the_start(status: AppointmentStatus) -> None:
    ahead, past = NOW + timedelta(days=10), NOW - timedelta(minutes=5)
    is_open = status in OPEN
    expected = {
        Change.RESCHEDULE: (is_open, is_open),
        Change.CANCEL: (is_open, is_open),
        Change.COMPLETE: (False, is_open),
        Change.NO_SHOW: (False, is_open),
        Change.REINSTATE: (status == AppointmentStatus.CANCELLED, False),
        Change.CONFIRM: (is_open, False),
        Change.REQUEST_RESCHEDULE: (is_open, False),
    }
    assert set(expected) == set(TABLE)
    for change, (before, after) in expected.items():
        assert (_allowed(status, change, ahead), _allowed(status, change, past)) == (before, after), change


def test_each_change_names_the_state_it_leads_to() -> None:
    past = _appointment(AppointmentStatus.CONFIRMED, NOW - timedelta(hours=1))
    assert check_transition(past, Change.COMPLETE, NOW) == AppointmentStatus.COMPLETED
    assert check_transition(past, Change.NO_SHOW, NOW) == AppointmentStatus.NO_SHOW
    assert check_transition(past, Change.RESCHEDULE, NOW) == AppointmentStatus.SCHEDULED  # confirm again
    cancelled = _appointment(AppointmentStatus.CANCELLED, NOW + timedelta(days=1))
    assert check_transition(cancelled, Change.REINSTATE, NOW) == AppointmentStatus.SCHEDULED


@pytest.mark.parametrize(
    ("status", "change", "message"),
    [
        (
            AppointmentStatus.CANCELLED,
            Change.COMPLETE,
            "appointment 7 is cancelled; only a scheduled, confirmed or reschedule-requested "
            "appointment can be marked complete",
        ),
        (
            AppointmentStatus.COMPLETED,
            Change.NO_SHOW,
            "appointment 7 is completed; only a scheduled, confirmed or reschedule-requested "
            "appointment can be marked no-show",
        ),
        (
            AppointmentStatus.NO_SHOW,
            Change.CANCEL,
            "appointment 7 is marked no-show; only a scheduled, confirmed or reschedule-requested "
            "appointment can be cancelled",
        ),
        (AppointmentStatus.CANCELLED, Change.CANCEL, "appointment 7 is already cancelled"),
        (
            AppointmentStatus.CONFIRMED,
            Change.REINSTATE,
            "appointment 7 is confirmed; only a cancelled appointment can be reinstated",
        ),
    ],
)
def test_a_refusal_is_one_line_naming_the_current_state(
    status: AppointmentStatus, change: Change, message: str
) -> None:
    with pytest.raises(InputError) as refused:
        check_transition(_appointment(status, NOW - timedelta(hours=1)), change, NOW, EASTERN)
    assert str(refused.value) == message


def test_a_refusal_for_time_shows_the_start_on_the_clinic_clock() -> None:
    ahead = _appointment(AppointmentStatus.SCHEDULED, datetime(2026, 12, 13, 15, 0, tzinfo=UTC))
    with pytest.raises(InputError) as refused:
        check_transition(ahead, Change.COMPLETE, NOW, EASTERN)
    assert str(refused.value) == (
        "appointment 7 is scheduled and starts 2026-12-13 10:00 EST; "
        "it can be marked complete only once it has started"
    )


def _mark(
    sessions: sessionmaker[Session], settings: Settings, appt: int, status: AppointmentStatus, now: datetime
) -> None:
    with transaction(sessions) as session:
        records.mark_appointment(session, settings, appt, status, actor="test", now=now)


def test_when_a_future_appointment_is_marked_complete_expect_it_refused_and_nothing_changed(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    appt = add_appointment(
        sessions, db_settings, add_patient(sessions, db_settings), in_minutes(60 * 24 * 10)
    )
    with pytest.raises(
        InputError, match=r"^appointment \d+ is scheduled and starts .* E[SD]T; it can be marked complete"
    ):
        _mark(sessions, db_settings, appt, AppointmentStatus.COMPLETED, utcnow())
    with sessions() as session:
        assert session.get(Appointment, appt).status == AppointmentStatus.SCHEDULED  # type: ignore[union-attr]
    assert {r.status for r in messages_of(sessions, appt)} == {MessageStatus.PLANNED}


def test_when_complete_then_no_show_then_cancel_expect_only_the_first_to_succeed(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    start = in_minutes(60 * 24)
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), start)
    after = start + timedelta(minutes=70)
    _mark(sessions, db_settings, appt, AppointmentStatus.COMPLETED, after)
    with pytest.raises(InputError, match="is completed; only a scheduled"):
        _mark(sessions, db_settings, appt, AppointmentStatus.NO_SHOW, after)
    with pytest.raises(InputError, match="is completed; only a scheduled"), transaction(sessions) as session:
        records.cancel_appointment(session, db_settings, appt, actor="test", now=after)
    with (
        pytest.raises(InputError, match=r"is completed; only a scheduled.* can be moved"),
        transaction(sessions) as session,
    ):
        records.reschedule_appointment(
            session, db_settings, appt, in_minutes(60 * 48), actor="test", now=after
        )
    with sessions() as session:
        assert session.get(Appointment, appt).status == AppointmentStatus.COMPLETED  # type: ignore[union-attr]
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["patient.add", "appointment.add", "appointment.completed"]


def test_when_a_patient_asked_to_reschedule_expect_the_desk_can_still_move_or_cancel_it(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    appt = add_appointment(sessions, db_settings, add_patient(sessions, db_settings), in_minutes(60 * 72))
    with transaction(sessions) as session:
        row = session.get(Appointment, appt)
        assert row is not None
        row.status = AppointmentStatus.RESCHEDULE_REQUESTED
    with transaction(sessions) as session:
        moved, _ = records.reschedule_appointment(
            session, db_settings, appt, in_minutes(60 * 96), actor="test", now=utcnow()
        )
        assert moved.status == AppointmentStatus.SCHEDULED
    with transaction(sessions) as session:
        cancelled, _ = records.cancel_appointment(session, db_settings, appt, actor="test", now=utcnow())
        assert cancelled.status == AppointmentStatus.CANCELLED


def test_when_a_no_show_is_marked_after_the_start_expect_everything_pending_cancelled(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    settings_ = make_settings(db_url, "memory://", followup_plan="checkin@24h,phq9@7d")
    start = in_minutes(60 * 72)
    appt = add_appointment(sessions, settings_, add_patient(sessions, settings_), start)
    _mark(sessions, settings_, appt, AppointmentStatus.NO_SHOW, start + timedelta(minutes=15))
    assert {r.status for r in messages_of(sessions, appt)} == {MessageStatus.CANCELLED}


def test_when_a_start_is_in_the_past_expect_it_shown_on_the_clinic_clock(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings)
    start = datetime(2020, 1, 6, 15, 0, tzinfo=UTC)
    with pytest.raises(InputError) as refused:
        add_appointment(sessions, db_settings, patient, start)
    assert str(refused.value) == "start 2020-01-06 10:00 EST is in the past"


def test_when_a_start_falls_in_the_daylight_saving_gap_expect_it_refused_with_the_nearest_times() -> None:
    with pytest.raises(
        InputError, match=r"2027-03-14T02:30 does not exist in America/New_York.*01:59 EST and 03:00 EDT"
    ):
        records.parse_start("2027-03-14T02:30", "America/New_York")
    with pytest.raises(InputError, match="happens twice"):
        records.parse_start("2026-11-01T01:30", "America/New_York")
    assert records.parse_start("2026-11-01T01:30-05:00", "America/New_York") == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("command", ["complete", "no-show"])
def test_when_the_cli_marks_a_future_appointment_expect_one_error_line(cli: Cli, command: str) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    cli.run("appointments", "add", "--patient", "1", "--start", "2031-03-04T10:00")
    result = cli.run("appointments", command, "1", ok=False)
    assert result.returncode == 1
    done = "marked complete" if command == "complete" else "marked no-show"
    assert result.stderr.strip() == (
        f"error: appointment 1 is scheduled and starts 2031-03-04 10:00 EST; it can be {done} only once it has started"
    )
    assert cli.json("appointments", "list")[0]["status"] == "scheduled"
