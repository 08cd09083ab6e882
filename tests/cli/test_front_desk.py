"""The front desk's commands: the day's schedule with names and confirmations, finding and
editing patients, paging, questionnaire kinds, labelled results, reinstating a cancel."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.cli.hostile import ANA_PHONE, BEN_PHONE, Clinic
from worker.clinic import schedule
from worker.db.engine import transaction
from worker.db.models import Appointment
from worker.enums import AppointmentStatus
from worker.lib.errors import InputError

NEW_YORK = ZoneInfo("America/New_York")
CAL_PHONE = "+12025550145"


def _tomorrow() -> date:
    return datetime.now(NEW_YORK).date() + timedelta(days=1)


def _confirm(clinic: Clinic, appointment_id: int) -> None:
    with transaction(clinic.sessions) as session:
        session.get_one(Appointment, appointment_id).status = AppointmentStatus.CONFIRMED


def _book(clinic: Clinic, patient: int, day: date, at: str, kind: str = "session") -> int:
    start = f"{day.isoformat()}T{at}"
    args = ("appointments", "add", "--patient", str(patient), "--start", start, "--kind", kind)
    return int(clinic.cli.json(*args)["id"])


def test_given_a_week_when_listed_for_tomorrow_expect_its_appointments_with_names_and_confirmations(
    clinic: Clinic,
) -> None:
    ana, ben = clinic.add_patient("Ana Example", ANA_PHONE), clinic.add_patient("Ben Example", BEN_PHONE)
    tomorrow = _tomorrow()
    first = _book(clinic, ana, tomorrow, "09:00")
    second = _book(clinic, ben, tomorrow, "14:30", kind="consult")
    _book(clinic, ana, tomorrow + timedelta(days=1), "09:00")
    _confirm(clinic, first)
    table = clinic.cli.run("appointments", "list", "--date", "tomorrow").stdout
    assert "Ana Example" in table and "Ben Example" in table
    assert "│ confirmed " in table and "│ not confirmed " in table
    listed = clinic.cli.json("appointments", "list", "--date", "tomorrow")
    assert [(r["id"], r["patient_name"], r["confirmation"]) for r in listed] == [
        (first, "Ana Example", "confirmed"),
        (second, "Ben Example", "not confirmed"),
    ]
    assert [
        r["id"] for r in clinic.cli.json("appointments", "list", "--date", "tomorrow", "--unconfirmed")
    ] == [second]
    assert [r["id"] for r in clinic.cli.json("appointments", "list", "--kind", "CONSULT")] == [second]
    afternoon = ("appointments", "list", "--date", tomorrow.isoformat(), "--from", "12:00")
    assert [r["id"] for r in clinic.cli.json(*afternoon)] == [second]
    [(entry, linked)] = [read for read in clinic.reads("appointments.list") if read[0].detail.get("kind")]
    assert linked == [ben] and "consult" not in json.dumps(entry.detail).lower()


def test_given_more_rows_than_a_page_when_listed_expect_a_footer_and_json_a_plain_list(
    clinic: Clinic,
) -> None:
    for name, phone in (("Ana", ANA_PHONE), ("Ben", BEN_PHONE), ("Cal", CAL_PHONE)):
        clinic.add_patient(name, phone)
    page = clinic.cli.run("patients", "list", "--limit", "2").stdout
    assert page.rstrip().endswith("showing 1-2 of 3; --offset 2 for more")
    assert "Cal" not in page
    last = clinic.cli.run("patients", "list", "--limit", "2", "--offset", "2").stdout
    assert "Cal" in last and last.rstrip().endswith("showing 3-3 of 3")
    assert "showing" not in clinic.cli.run("patients", "list").stdout  # all shown: no footer
    assert [p["id"] for p in clinic.cli.json("patients", "list")] == [1, 2, 3]
    assert [p["id"] for p in clinic.cli.json("patients", "list", "--limit", "1", "--offset", "1")] == [2]
    clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-12-03T10:00")
    messages = clinic.cli.run("messages", "list", "--limit", "1").stdout
    assert messages.rstrip().endswith("showing 1-1 of 2; --offset 1 for more")


def test_given_a_name_part_or_a_phone_in_any_format_when_found_expect_the_patient_and_an_audited_read(
    clinic: Clinic,
) -> None:
    clinic.add_patient("Ana María Example", ANA_PHONE)
    clinic.add_patient("Ben Example", BEN_PHONE)
    assert [p["id"] for p in clinic.cli.json("patients", "find", "maría")] == [1]
    assert [p["id"] for p in clinic.cli.json("patients", "find", "EXAMPLE")] == [1, 2]
    assert [p["id"] for p in clinic.cli.json("patients", "find", "(202) 555-0144")] == [2]
    assert [p["id"] for p in clinic.cli.json("patients", "find", "+1 202.555.0143")] == [1]
    assert clinic.cli.run("patients", "find", "nobody").stdout.strip().endswith("none")
    reads = clinic.reads("patients.find")
    assert [linked for _, linked in reads] == [[1], [1, 2], [2], [1], []]
    assert [entry.detail["by"] for entry, _ in reads] == ["name", "name", "phone", "phone", "name"]
    assert "Mar" not in json.dumps([entry.detail for entry, _ in reads])


def test_given_a_patient_when_edited_expect_one_line_and_a_used_phone_refused(clinic: Clinic) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    clinic.add_patient("Ben", BEN_PHONE)
    clinic.cli.run("appointments", "add", "--patient", "2", "--start", "2031-12-03T10:00")
    edited = clinic.cli.run("patients", "edit", "2", "--timezone", "America/Chicago", "--no-consent").stdout
    assert edited.strip() == "edited patient 2 (timezone, consent): 0 message(s) planned, 2 cancelled"
    back = clinic.cli.json("patients", "edit", "2", "--consent")
    assert (back["consent"], back["changed"], back["messages_planned"]) == (True, ["consent"], 2)
    clash = clinic.cli.run("patients", "edit", "2", "--phone", "202-555-0143", ok=False)
    assert clash.returncode == 1
    assert clash.stderr == "error: another patient already has this phone number\n"
    [(entry, linked)] = clinic.reads("patient.edit")[:1]
    assert linked == [2] and entry.detail == {"fields": ["timezone", "consent"], "planned": 0, "cancelled": 2}


def test_given_a_questionnaire_sent_when_messages_listed_expect_its_id_as_the_kind(clinic: Clinic) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    clinic.cli.run("questionnaires", "start", "phq9", "--patient", "1")
    [row] = clinic.cli.json("messages", "list", "--patient", "1")
    assert (row["kind"], row["questionnaire"]) == ("checkin", "phq9")  # --json keeps its kind
    table = clinic.cli.run("messages", "list", "--patient", "1").stdout
    assert "│ phq9 " in table and "checkin" not in table


def test_given_a_result_when_shown_expect_answer_labels_beside_whole_questions(clinic: Clinic) -> None:
    run_id = clinic.add_result(clinic.add_patient("Ana", ANA_PHONE))
    shown = clinic.cli.run("results", "show", str(run_id)).stdout
    assert "Over the last 2 weeks, how often have you been bothered by:" in shown
    assert "1 — Several days" in shown and "0 — Not at all" in shown
    assert "little interest or pleasure in doing things?" in shown


def test_given_a_cancel_made_by_mistake_when_reinstated_expect_it_scheduled_with_reminders(
    clinic: Clinic,
) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-12-03T10:00")
    clinic.cli.run("appointments", "cancel", "1")
    done = clinic.cli.run("appointments", "reinstate", "1").stdout
    assert (
        done.strip()
        == "reinstated appointment 1 (scheduled, 2031-12-03 10:00 EST): 2 message(s) planned, 0 cancelled"
    )
    assert {m["status"] for m in clinic.cli.json("messages", "list", "--appointment", "1")} >= {"planned"}


NOW = datetime(2031, 3, 8, 17, 0, tzinfo=UTC)  # noon in New York, the day before clocks go forward


@pytest.mark.parametrize(
    ("day", "start", "end", "expected"),
    [
        ("today", None, None, ("2031-03-08T05:00", "2031-03-09T05:00")),
        ("tomorrow", None, None, ("2031-03-09T05:00", "2031-03-10T04:00")),  # a 23-hour day
        ("2031-03-08", "13:00", "17:30", ("2031-03-08T18:00", "2031-03-08T22:30")),
        (None, "2031-03-08", "2031-03-09", ("2031-03-08T05:00", "2031-03-10T04:00")),
        (None, "2031-03-08T09:15", None, ("2031-03-08T14:15", None)),
    ],
)
def test_given_local_days_and_times_when_read_as_a_window_expect_utc_bounds(
    day: str | None, start: str | None, end: str | None, expected: tuple[str, str | None]
) -> None:
    found = schedule.window(NEW_YORK, NOW, day=day, start=start, end=end)
    bounds = tuple(
        None if b is None else b.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") for b in (found.start, found.end)
    )
    assert bounds == expected


@pytest.mark.parametrize(
    ("day", "start", "end", "message"),
    [
        ("someday", None, None, "'someday' is not a day"),
        ("2031-03-08", "18:00", "09:00", "--to must be after --from"),
        ("2031-03-09", "02:30", None, "2031-03-09T02:30 does not exist in America/New_York"),
    ],
)
def test_given_bad_days_or_times_when_read_expect_one_line_refusal(
    day: str | None, start: str | None, end: str | None, message: str
) -> None:
    with pytest.raises(InputError) as raised:
        schedule.window(NEW_YORK, NOW, day=day, start=start, end=end)
    assert str(raised.value).startswith(message)
