"""Messages that cannot be sent are planned `skipped` with the reason from the start (no
consent, opted out), and planned again when the patient can be texted; a skip made at send
time (superseded, stale) is never brought back by a later plan. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli, make_settings
from tests.helpers import add_appointment, add_patient, messages_of
from worker.clinic import records
from worker.clinic.import_plan import booking, message_rows
from worker.clinic.patient_edit import PatientChanges, edit_patient
from worker.db.engine import transaction
from worker.db.models import Appointment, utcnow
from worker.enums import AppointmentStatus, MessageKind, MessageStatus
from worker.messages.replan import followup_plans
from worker.outbound.dispatch import SUPERSEDED, claim_due
from worker.outbound.sending import deliver_batch
from worker.planning.textable import NO_CONSENT, OPTED_OUT
from worker.runtime import Runtime

START = "2031-03-04T10:00"  # far ahead: the cli fixture's 48h and 2h reminders are both planned


def _messages(cli: Cli) -> list[tuple[str, str | None]]:
    return [(m["status"], m["reason"]) for m in cli.json("messages", "list", "--appointment", "1")]


def test_given_a_patient_without_consent_when_booked_expect_skipped_rows_and_consent_brings_them_back(
    cli: Cli,
) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143", "--no-consent")
    added = cli.json("appointments", "add", "--patient", "1", "--start", START)
    assert added["messages_planned"] == 0
    assert _messages(cli) == [("skipped", NO_CONSENT)] * 2

    given = cli.json("patients", "edit", "1", "--consent")
    assert given["messages_planned"] == 2
    assert _messages(cli) == [("planned", None)] * 2


def test_given_a_patient_who_opted_out_when_booked_expect_skipped_rows_and_an_opt_in_brings_them_back(
    cli: Cli,
) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    cli.run("patients", "opt-out", "1")
    added = cli.run("appointments", "add", "--patient", "1", "--start", START).stdout
    assert "0 message(s) planned" in added
    assert _messages(cli) == [("skipped", OPTED_OUT)] * 2
    refused = cli.run("send", "reminder", "1", ok=False)
    assert refused.stderr.strip() == f"error: not sent: patient 1: {OPTED_OUT}"

    cli.run("patients", "opt-in", "1")
    assert _messages(cli) == [("planned", None)] * 2


def test_given_a_reminder_skipped_for_quiet_hours_when_consent_is_given_expect_its_own_reason_back(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    settings = make_settings(db_url, "memory://", quiet_hours="21:00-08:00")
    # Booked at 22:00 New York time for 07:30 the next morning: the 2h reminder (05:30) has
    # no allowed time before the session; the 48h one is already past.
    now = datetime(2031, 3, 4, 3, 0, tzinfo=UTC)
    patient = add_patient(sessions, settings, consent=False)
    appointment = add_appointment(sessions, settings, patient, datetime(2031, 3, 4, 12, 30, tzinfo=UTC), now)
    [before] = messages_of(sessions, appointment)
    assert (before.status, before.reason) == (MessageStatus.SKIPPED, NO_CONSENT)

    with transaction(sessions) as session:
        edit_patient(session, settings, patient, PatientChanges(consent=True), actor="test", now=now)
    [after] = messages_of(sessions, appointment)
    assert after.status == MessageStatus.SKIPPED
    assert after.reason == "quiet hours 21:00-08:00: no allowed time before the session"


def test_given_reminders_skipped_at_send_time_when_planned_again_expect_them_left_skipped(
    runtime: Runtime,
) -> None:
    # Booked three days ahead, dispatched an hour before the session: the 48h reminder is
    # superseded by the 2h one, which is then an hour late and skipped as stale.
    start = utcnow() + timedelta(hours=1)
    booked = start - timedelta(days=3)
    patient = add_patient(runtime.sessions, runtime.settings, "+12025550184")
    appointment = add_appointment(runtime.sessions, runtime.settings, patient, start, now=booked)
    deliver_batch(runtime, claim_due(runtime.sessions, utcnow(), 50, runtime.settings.claim_lease))
    early, late = messages_of(runtime.sessions, appointment)
    assert (early.status, early.reason, early.attempts) == (MessageStatus.SKIPPED, SUPERSEDED, 0)
    assert late.status == MessageStatus.SKIPPED and late.reason and late.reason.startswith("stale: ")

    # A plan made as if at booking time wants both rows again: neither may come back.
    with transaction(runtime.sessions) as session:
        assert records.replan_patient(session, runtime.settings, patient, booked) == 0
    after = messages_of(runtime.sessions, appointment)
    assert [(m.status, m.reason) for m in after] == [(early.status, early.reason), (late.status, late.reason)]


def test_given_an_appointment_stored_with_a_mixed_case_kind_when_planned_again_expect_its_kinds_plan(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    # Every kind but consult (an empty plan in the shipped followups.yaml) gets a check-in.
    settings = make_settings(db_url, "memory://", followup_plan="checkin@24h")
    patient = add_patient(sessions, settings)
    start = utcnow() + timedelta(days=3)
    session_kind = add_appointment(sessions, settings, patient, start)
    with transaction(sessions) as session:
        consult, _ = records.add_appointment(
            session, settings, patient, start, kind="consult", actor="test", now=utcnow()
        )
        consult_id = consult.id
    with transaction(sessions) as session:  # as booked before kinds were stored lowercase
        session.execute(update(Appointment).where(Appointment.id == consult_id).values(kind="Consult"))
    with transaction(sessions) as session:
        records.reschedule_appointment(
            session, settings, consult_id, start + timedelta(hours=2), actor="test", now=utcnow()
        )

    def checkins(appointment: int) -> int:
        return sum(
            1
            for m in messages_of(sessions, appointment)
            if m.kind == MessageKind.CHECKIN and m.status == MessageStatus.PLANNED
        )

    assert (checkins(session_kind), checkins(consult_id)) == (1, 0)


@pytest.mark.parametrize(("not_textable", "status"), [(NO_CONSENT, "skipped"), (None, "planned")])
def test_given_an_imported_row_when_its_patient_cannot_be_texted_expect_its_messages_skipped(
    not_textable: str | None, status: str
) -> None:
    settings = make_settings("sqlite:///:memory:", "memory://", followup_plan="checkin@24h")
    row: dict[str, Any] = {
        "id": 7,
        "start_at": utcnow() + timedelta(days=3),
        "duration_minutes": 60,
        "kind": "session",
        "status": AppointmentStatus.SCHEDULED,
    }
    planned = booking(row, "America/New_York", not_textable=not_textable)
    rows = message_rows(settings, followup_plans(settings), [(planned, 3)], utcnow())
    assert sorted(r["kind"] for r in rows) == ["checkin", "reminder", "reminder"]
    assert {(r["status"], r["reason"]) for r in rows} == {(status, not_textable)}


def test_given_a_csv_with_a_patient_without_consent_when_imported_expect_only_their_rows_skipped(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "name,phone,start,consent\n"
        f"Ana Example,202-555-0143,{START},no\n"
        f"Ben Example,202-555-0144,{START},yes\n"
    )
    report = cli.json("appointments", "import", str(path))
    assert report["imported"] == 2
    by_patient = {
        patient: {(m["status"], m["reason"]) for m in cli.json("messages", "list", "--patient", str(patient))}
        for patient in (1, 2)
    }
    assert by_patient == {1: {("skipped", NO_CONSENT)}, 2: {("planned", None)}}
