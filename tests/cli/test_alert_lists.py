"""Alerts, replies and the audit trail as staff read them, through the real `clinic-worker`
process on SQLite and PostgreSQL: `alerts show` tells what raised an alert and who was told,
and is an audited read; `alerts list` names the patient, shown safely; every table time is
on the clinic's clock (New York) with its abbreviation while --json keeps UTC ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cli.hostile import ANA_PHONE, BEN_PHONE, Clinic
from tests.conftest import RedisServer, make_settings
from tests.twilio_standin import StandIn
from worker.db.engine import transaction
from worker.db.models import InboundMessage, Patient
from worker.enums import AlertCategory
from worker.lib import localtime
from worker.safety.alerts import CRISIS_LANGUAGE, Trigger, raise_alert

ONCALL = "+12025550177"
CLINIC_ZONE = ZoneInfo("America/New_York")
WINTER = datetime(2031, 12, 3, 15, 0, tzinfo=UTC)  # 10:00 EST
WINTER_LATER = datetime(2031, 12, 3, 15, 20, tzinfo=UTC)  # 10:20 EST
SUMMER = datetime(2031, 7, 1, 14, 0, tzinfo=UTC)  # 10:00 EDT


@pytest.fixture
def clinic(db_url: str, redis_server: RedisServer, standin: StandIn, tmp_path: Path) -> Clinic:
    """The CLI tests' clinic, with an on-call number, so an alert has someone to tell."""
    settings = make_settings(
        db_url, redis_server.url, standin.url, reminder_offsets="48h,2h", oncall_number=ONCALL
    )
    return Clinic(settings, tmp_path)


def _text_at(clinic: Clinic, patient_id: int, at: datetime, body: str = "crisis words") -> int:
    """A text from the patient, received at `at`."""
    reply_id = clinic.add_reply(patient_id, body)
    with transaction(clinic.sessions) as session:
        session.get_one(InboundMessage, reply_id).received_at = at
    return reply_id


def _crisis_at(
    clinic: Clinic, patient_id: int, at: datetime, category: AlertCategory = AlertCategory.IDEATION
) -> int:
    """A crisis text at `at` that raises an alert for the patient (or joins their open one)."""
    inbound_id = _text_at(clinic, patient_id, at)
    trigger = Trigger(CRISIS_LANGUAGE, category, f"crisis text, {category}", f"en.{category}", inbound_id)
    with transaction(clinic.sessions) as session:
        patient = session.get_one(Patient, patient_id)
        raise_alert(session, clinic.settings, trigger, now=at, patient=patient, reply_to=None)
    return inbound_id


def test_given_an_alert_two_texts_joined_when_shown_expect_each_trigger_and_who_was_told(
    clinic: Clinic,
) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    first = _crisis_at(clinic, ana, WINTER)
    second = _crisis_at(clinic, ana, WINTER_LATER, AlertCategory.PLAN_OR_MEANS)

    lines = clinic.cli.run("alerts", "show", "1").stdout.splitlines()

    assert "patient: Ana Example" in lines and f"patient_id: {ana}" in lines
    assert "category: plan_or_means" in lines  # the most severe so far
    assert "created_at: 2031-12-03 10:00 EST" in lines
    assert f"trigger: 2031-12-03 10:00 EST crisis_language ideation (en.ideation) inbound {first}" in lines
    assert (
        f"trigger: 2031-12-03 10:20 EST crisis_language plan_or_means (en.plan_or_means) inbound {second}"
        in lines
    )
    [told] = [line for line in lines if line.startswith("told: ")]
    assert told.startswith(f"told: {ONCALL} safety_oncall ") and told.endswith("2031-12-03 10:00 EST")
    shown = clinic.cli.json("alerts", "show", "1")
    assert [t["inbound_id"] for t in shown["triggers"]] == [first, second]
    assert shown["triggers"][0]["at"] == "2031-12-03T15:00:00+00:00"
    assert [t["to"] for t in shown["told"]] == [ONCALL]


def test_given_an_alert_when_shown_expect_one_alerts_show_row_found_by_the_patients_audit_list(
    clinic: Clinic,
) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    ben = clinic.add_patient("Ben Example", BEN_PHONE)
    _crisis_at(clinic, ana, WINTER)

    clinic.cli.run("--by", "dana", "alerts", "show", "1")

    [(entry, linked)] = clinic.reads("alerts.show")
    assert (entry.actor, entry.patient_id, linked, entry.detail) == (
        "operator:dana",
        None,
        [ana],
        {"alert": 1},
    )
    ana_reads = [
        r for r in clinic.cli.json("audit", "list", "--patient", str(ana)) if r["action"] == "alerts.show"
    ]
    assert [(r["actor"], r["patient_ids"]) for r in ana_reads] == [("operator:dana", [ana])]
    ben_reads = [
        r for r in clinic.cli.json("audit", "list", "--patient", str(ben)) if r["action"] == "alerts.show"
    ]
    assert ben_reads == []


def test_given_no_such_alert_when_shown_expect_one_error_line_and_no_read_recorded(clinic: Clinic) -> None:
    missing = clinic.cli.run("alerts", "show", "7", ok=False)
    assert (missing.returncode, missing.stderr) == (1, "error: no alert with id 7\n")
    assert clinic.reads("alerts.show") == []


def test_given_a_patient_named_with_control_characters_when_alerts_listed_expect_the_name_escaped(
    clinic: Clinic,
) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    ben = clinic.add_patient("Ben Example", BEN_PHONE)
    clinic.rename(ben, "Ben\x1b[2J\u202eX")
    _crisis_at(clinic, ana, WINTER)
    _crisis_at(clinic, ben, SUMMER)

    table = clinic.cli.run("alerts", "list").stdout

    assert "Ana Example" in table and "Ben\\x1b[2J\\u202eX" in table
    assert "\x1b" not in table and "\u202e" not in table
    # The name column is for people; --json keeps its fields (scripts read patient_id).
    assert all("patient" not in row for row in clinic.cli.json("alerts", "list"))


def test_given_an_alert_and_a_reply_when_listed_expect_clinic_times_with_zone_and_utc_in_json(
    clinic: Clinic,
) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    ben = clinic.add_patient("Ben Example", BEN_PHONE)
    _crisis_at(clinic, ana, WINTER)
    _crisis_at(clinic, ben, SUMMER)

    alerts = clinic.cli.run("alerts", "list").stdout
    replies = clinic.cli.run("replies", "list").stdout

    for table in (alerts, replies):
        assert "2031-12-03 10:00 EST" in table and "2031-07-01 10:00 EDT" in table
        assert "+00:00" not in table and "2031-12-03 15:00" not in table
    assert [a["created_at"] for a in clinic.cli.json("alerts", "list")] == [
        "2031-12-03T15:00:00+00:00",
        "2031-07-01T14:00:00+00:00",
    ]
    assert [r["received_at"] for r in clinic.cli.json("replies", "list")] == [
        "2031-12-03T15:00:00+00:00",
        "2031-07-01T14:00:00+00:00",
    ]


def test_given_audit_rows_when_listed_expect_each_at_on_the_clinic_clock_and_utc_in_json(
    clinic: Clinic,
) -> None:
    clinic.add_patient("Ana Example", ANA_PHONE)

    [row] = [r for r in clinic.cli.json("audit", "list") if r["action"] == "patient.add"]
    table = clinic.cli.run("audit", "list").stdout

    at = datetime.fromisoformat(row["at"])
    assert at.utcoffset() is not None and not at.utcoffset()  # UTC, with its offset
    local = localtime.show(at, CLINIC_ZONE)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", local)
    assert local in table and row["at"] not in table
