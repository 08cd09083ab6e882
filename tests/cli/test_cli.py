"""The operator's command line, run as a real process the way an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli


def test_add_commands_print_ids_and_lists_print_ids_and_statuses(cli: Cli) -> None:
    patient = cli.json(
        "patients",
        "add",
        "--name",
        "Ana Example",
        "--phone",
        "202-555-0143",
        "--timezone",
        "America/Chicago",
        "--language",
        "es",
    )
    assert patient["id"] == 1 and patient["phone"] == "+12025550143" and patient["status"] == "active"
    appt = cli.json(
        "appointments", "add", "--patient", "1", "--start", "2031-03-04T10:00", "--duration", "90"
    )
    assert appt["id"] == 1 and appt["status"] == "scheduled" and appt["messages_planned"] == 2
    assert appt["start_at"] == "2031-03-04T15:00:00+00:00"  # read in CLINIC_TIMEZONE (New York)
    messages = cli.json("messages", "list", "--appointment", "1")
    assert [
        set(m)
        >= {"id", "appointment_id", "patient_id", "kind", "due_at", "status", "twilio_sid", "error_code"}
        for m in messages
    ] == [True, True]
    assert [m["status"] for m in messages] == ["planned", "planned"]
    assert [p["id"] for p in cli.json("patients", "list")] == [1]
    assert cli.json("appointments", "list", "--status", "scheduled")[0]["id"] == 1
    shown = cli.json("patients", "show", "1")
    assert shown["appointments"][0]["id"] == 1


def test_reschedule_and_cancel_report_what_changed(cli: Cli) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    cli.run("appointments", "add", "--patient", "1", "--start", "2031-03-04T10:00")
    moved = cli.json("appointments", "reschedule", "1", "--start", "2031-03-05T10:00")
    assert (moved["messages_planned"], moved["messages_cancelled"]) == (2, 2)
    cancelled = cli.json("appointments", "cancel", "1")
    assert cancelled["status"] == "cancelled" and cancelled["messages_cancelled"] == 2
    assert {m["status"] for m in cli.json("messages", "list", "--patient", "1")} == {"cancelled"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("patients", "add", "--name", "X", "--phone", "12"), "error: '12' is not a valid phone number"),
        (("patients", "show", "99"), "error: no patient with id 99"),
        (
            ("appointments", "add", "--patient", "1", "--start", "soon"),
            "error: 'soon' is not an ISO 8601 time",
        ),
        (("appointments", "cancel", "42"), "error: no appointment with id 42"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = cli.run(*args, ok=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message)


def test_missing_schema_says_to_run_db_upgrade(tmp_path: Path) -> None:
    (tmp_path / "empty.sqlite3").touch()  # a database file without tables (no file: "no database at")
    env = {"PATH": "/usr/bin:/bin", "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-m", "worker", "patients", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: database: the schema is missing; run `clinic-worker db upgrade`"


def test_doctor_reports_every_check_and_never_the_token(cli: Cli) -> None:
    cli.env["CLINIC_ONCALL_NUMBER"] = "+12025550177"
    result = cli.run("doctor", "--json")
    checks = json.loads(result.stdout)
    assert {name: c["ok"] for name, c in checks.items()} == {
        "settings": True,
        "database": True,
        "queue": True,
        "redis": True,
        "sms": True,
        "config": True,
        "safety": True,
        "files": True,
    }
    assert "+1******0177" in checks["safety"]["detail"]
    assert "is active" in checks["sms"]["detail"]
    assert "standin-auth-token" not in result.stdout + result.stderr
    assert cli.env["CLINIC_ENCRYPTION_KEYS"] not in result.stdout + result.stderr


def test_doctor_fails_and_says_why_when_redis_and_twilio_are_unreachable(cli: Cli) -> None:
    cli.env["CLINIC_REDIS_URL"] = "redis://127.0.0.1:1/0"
    cli.env["CLINIC_TWILIO_AUTH_TOKEN"] = "wrong-token"
    result = cli.run("doctor", ok=False)
    assert result.returncode == 1
    assert "FAIL  redis     no answer" in result.stdout
    assert "FAIL  sms       rejected by Twilio (20003)" in result.stdout
    assert "FAIL  safety    CLINIC_ONCALL_NUMBER is not set" in result.stdout
