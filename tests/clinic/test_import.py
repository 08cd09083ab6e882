"""CSV import: all or nothing, bad rows named by line, re-import harmless."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli

GOOD = (
    "name,phone,start,duration,kind,timezone,language\n"
    "Ana Example,202-555-0143,2031-03-04T10:00,60,session,America/Chicago,es\n"
    "Ben Example,+1 202 555 0144,2031-03-04T11:00,,,,\n"
    "Ana Example,202-555-0143,2031-03-11T10:00,60,session,,\n"
)


def _write(tmp_path: Path, text: str, name: str = "in.csv", **kwargs: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(kwargs.get("encoding", "utf-8")))
    return path


def test_import_creates_patients_and_appointments_with_reminders(cli: Cli, tmp_path: Path) -> None:
    report = cli.json("appointments", "import", str(_write(tmp_path, GOOD)))
    assert report == {
        "imported": 3,
        "existing": 0,
        "patients_created": 2,
        "patients_updated": 0,
        "invalid": [],
    }
    patients = cli.json("patients", "list")
    assert [(p["phone"], p["timezone"], p["language"]) for p in patients] == [
        ("+12025550143", "America/Chicago", "es"),
        ("+12025550144", "America/New_York", "en"),
    ]
    assert len(cli.json("messages", "list")) == 6


def test_reimporting_the_same_file_doubles_nothing(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    cli.run("appointments", "import", str(path))
    again = cli.json("appointments", "import", str(path))
    assert (again["imported"], again["existing"], again["patients_created"]) == (0, 3, 0)
    assert len(cli.json("appointments", "list")) == 3


def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(cli: Cli, tmp_path: Path) -> None:
    text = GOOD + "Cy Example,202-555-0145,not-a-date,,,,\nDee,202-555-0146,2031-03-04T12:00,,,Mars/Base,\n"
    result = cli.run("appointments", "import", str(_write(tmp_path, text)), ok=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "line 5: start: 'not-a-date' is not an ISO 8601 time like 2026-12-01T15:30"
    assert lines[1].startswith("line 6: timezone: unknown time zone 'Mars/Base'")
    assert lines[2] == "error: nothing imported: 2 invalid row(s); fix them or use --skip-invalid"
    assert cli.json("patients", "list") == []


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(cli: Cli, tmp_path: Path) -> None:
    text = GOOD + "Cy Example,202-555-0145,2031-03-04T10:00,abc,,,\n" + GOOD.splitlines()[1] + "\n"
    report = cli.json("appointments", "import", str(_write(tmp_path, text)), "--skip-invalid")
    assert report["imported"] == 3
    assert report["invalid"] == [
        {"line": 5, "error": "duration: 'abc' is not a whole number of minutes from 1 to 1440"},
        {"line": 6, "error": "start: duplicate of line 2 (same patient and start)"},
    ]


def test_excel_style_file_with_bom_and_windows_line_endings_imports(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert cli.json("appointments", "import", str(path))["imported"] == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("name,phone\nAna,202-555-0143\n", "missing column 'start'"),
        ("name,start\nAna,2031-03-04T10:00\n", "missing column 'phone' (or 'patient_id')"),
        ("phone,start,shoe_size\n202-555-0143,2031-03-04T10:00,9\n", "unknown column 'shoe_size'"),
    ],
)
def test_a_bad_header_is_one_clear_line(cli: Cli, tmp_path: Path, text: str, message: str) -> None:
    result = cli.run("appointments", "import", str(_write(tmp_path, text)), ok=False)
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_new_phone_without_a_name_is_refused_by_line(cli: Cli, tmp_path: Path) -> None:
    text = "phone,start\n202-555-0149,2031-03-04T10:00\n"
    result = cli.run("appointments", "import", str(_write(tmp_path, text)), ok=False)
    assert "line 2: name: empty, and the phone is not a known patient" in result.stderr
