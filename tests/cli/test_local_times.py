"""Times for people are the clinic's wall clock (the patient's beside it when it differs),
labelled with the zone's abbreviation; --json keeps UTC ISO 8601. The clinic is in New York."""

from __future__ import annotations

import re

from tests.cli.hostile import ANA_PHONE, BEN_PHONE, Clinic

UTC_MARKS = ("+00:00", "2031-12-03 15:00", "UTC")


def _no_bare_utc(text: str) -> None:
    for mark in UTC_MARKS:
        assert mark not in text, f"{mark!r} shown: {text}"


def test_given_a_start_without_offset_when_added_expect_it_read_and_printed_on_the_clinic_clock(
    clinic: Clinic,
) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    added = clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-12-03T10:00").stdout
    assert added.startswith("added appointment 1 (scheduled, 2031-12-03 10:00 EST):")
    _no_bare_utc(added)
    assert clinic.cli.json("appointments", "list")[0]["start_at"] == "2031-12-03T15:00:00+00:00"


def test_given_a_patient_in_another_zone_expect_their_time_beside_the_clinics(clinic: Clinic) -> None:
    clinic.cli.run(
        "patients", "add", "--name", "Ben", "--phone", BEN_PHONE, "--timezone", "America/Los_Angeles"
    )
    added = clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-07-01T10:00").stdout
    assert "2031-07-01 10:00 EDT (patient: 07:00 PDT)" in added
    moved = clinic.cli.run("appointments", "reschedule", "1", "--start", "2031-07-01T23:30").stdout
    assert "2031-07-01 23:30 EDT (patient: 20:30 PDT)" in moved


def test_given_an_appointment_when_listed_and_shown_expect_local_times_and_no_bare_utc(
    clinic: Clinic,
) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-12-03T10:00")
    listed = clinic.cli.run("appointments", "list").stdout
    shown = clinic.cli.run("patients", "show", "1").stdout
    messages = clinic.cli.run("messages", "list").stdout
    for text in (listed, shown, messages):
        _no_bare_utc(text)
    assert "2031-12-03 10:00 EST" in listed and "2031-12-03 10:00 EST" in shown
    assert "Mon 2031-12-01 10:00 EST" in messages  # the 48 h reminder, on the patient's clock
    assert re.search(r"consent_at: \d{4}-\d\d-\d\d \d\d:\d\d E[SD]T$", shown, re.MULTILINE)


def test_given_a_cancel_or_mark_expect_the_printed_start_local(clinic: Clinic) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-12-03T10:00")
    cancelled = clinic.cli.run("appointments", "cancel", "1").stdout
    assert cancelled.startswith("cancelled appointment 1 (cancelled, 2031-12-03 10:00 EST)")


def test_given_times_that_are_not_one_instant_or_past_when_added_expect_one_line_on_the_clinic_clock(
    clinic: Clinic,
) -> None:
    clinic.add_patient("Ana", ANA_PHONE)
    gap = clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2031-03-09T02:30", ok=False)
    assert gap.stderr.startswith("error: 2031-03-09T02:30 does not exist in America/New_York")
    past = clinic.cli.run("appointments", "add", "--patient", "1", "--start", "2020-01-02T10:00", ok=False)
    assert past.stderr.strip() == "error: start 2020-01-02 10:00 EST is in the past"
    for result in (gap, past):
        assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
