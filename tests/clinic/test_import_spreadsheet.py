"""CSV the way clinics export it: spreadsheet headers, --map, --date-format (US and custom),
split date and time or first and last name columns, and every problem of every row in one
run, one line per row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli, make_settings
from worker.clinic import importer, records
from worker.db.engine import transaction
from worker.db.models import utcnow
from worker.lib.errors import InputError
from worker.settings import Settings

EXPORT = (
    "Patient Name,Mobile,Appointment Date,Appointment Time,Appointment Type,Duration (min)\n"
    "Ana Example,(202) 555-0143,12/01/2031,3:30 PM,Consult,30\n"
    "Ben Example,(202) 555-0144,12/2/31,09:00 am,ketamine infusion,120\n"
)
FIRST_LINE = "error: nothing imported"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _errors(cli: Cli, tmp_path: Path, text: str, *options: str) -> list[str]:
    """The stderr lines of an import that must fail."""
    result = cli.run("appointments", "import", str(_write(tmp_path, text)), *options, ok=False)
    assert result.returncode == 1
    return result.stderr.strip().splitlines()


def _read(
    tmp_path: Path, text: str, *, date_format: str = "iso", ignore_unknown: bool = False
) -> importer.ImportReport:
    """The rows of a file as the import checks them alone (no database involved)."""
    settings = make_settings("sqlite:///:memory:", "memory://")
    path = _write(tmp_path, text)
    return importer.read_rows(
        path, settings, utcnow(), date_format=date_format, ignore_unknown=ignore_unknown
    )


def test_given_a_spreadsheet_export_with_us_dates_when_imported_with_date_format_us_expect_it_stored(
    cli: Cli, tmp_path: Path
) -> None:
    report = cli.json("appointments", "import", str(_write(tmp_path, EXPORT)), "--date-format", "us")
    assert (report["imported"], report["patients_created"], report["invalid"]) == (2, 2, [])
    booked = sorted(
        (a["patient_name"], a["start_at"][:16], a["duration_minutes"], a["kind"])
        for a in cli.json("appointments", "list", "--from", "2031-12-01", "--to", "2031-12-03")
    )
    assert booked == [
        ("Ana Example", "2031-12-01T20:30", 30, "consult"),  # 15:30 EST
        ("Ben Example", "2031-12-02T14:00", 120, "ketamine-infusion"),
    ]
    assert {p["phone"] for p in cli.json("patients", "list")} == {"+12025550143", "+12025550144"}


def test_given_us_dates_without_date_format_expect_each_row_one_line_pointing_at_it(
    cli: Cli, tmp_path: Path
) -> None:
    lines = _errors(cli, tmp_path, EXPORT)
    assert lines[0] == (
        "line 2: date: '12/01/2031' is not an ISO 8601 date like 2026-12-01 "
        "(for 12/01/2026 use --date-format us); time: '3:30 PM' is not a 24-hour time like 15:30 "
        "(for 03:30 PM use --date-format us)"
    )
    assert lines[1].startswith("line 3: date: '12/2/31' is not an ISO 8601 date")
    assert lines[2].startswith(f"{FIRST_LINE}: 2 invalid row(s)")


@pytest.mark.parametrize(
    "header",
    ["Appointment Date", "appointment_date", "APPOINTMENT-DATE", " appointment  date "],
)
def test_given_a_header_in_any_case_spacing_or_punctuation_expect_the_same_field(
    tmp_path: Path, header: str
) -> None:
    report = _read(tmp_path, f"phone,name,{header},time\n202-555-0143,Ana,2031-12-01,15:30\n")
    assert report.invalid == []
    assert report.rows[0].start_at == datetime(2031, 12, 1, 20, 30, tzinfo=UTC)


def test_given_unknown_columns_expect_all_of_them_named_in_one_line(cli: Cli, tmp_path: Path) -> None:
    text = "Patient Name,Mobile,Start,Provider,Room\nAna,202-555-0143,2031-12-01T15:30,Dr X,4\n"
    assert _errors(cli, tmp_path, text) == [
        f"error: {tmp_path / 'export.csv'}: unknown columns 'Provider', 'Room'; fields: phone, "
        "patient_id, name, first_name, last_name, start, date, time, duration, kind, timezone, "
        "language, consent (or their spreadsheet names, see docs/operations.md); --map "
        "'Provider=FIELD' reads a column as a field, --map 'Provider=-' drops it, --ignore-unknown "
        "drops every unknown column"
    ]


def test_given_missing_fields_expect_every_one_named_with_the_unknown_columns(
    cli: Cli, tmp_path: Path
) -> None:
    [line] = _errors(cli, tmp_path, "Patient Name,Cell No,Appt\nAna,202-555-0143,2031-12-01T15:30\n")
    assert line.startswith(
        f"error: {tmp_path / 'export.csv'}: unknown columns 'Cell No', 'Appt'; "
        "missing column 'start' (or 'date' and 'time'); missing column 'phone' (or 'patient_id'); "
    )


def test_given_two_columns_for_one_field_expect_both_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"columns 'Mobile', 'Cell Phone' both hold phone; drop one"):
        _read(tmp_path, "Mobile,Cell Phone,name,start\n1,2,Ana,2031-12-01T15:30\n")
    with pytest.raises(InputError, match=r"columns 'start' and 'Visit Date' both give the start"):
        _read(tmp_path, "phone,start,Visit Date,time\n1,2031-12-01T15:30,2031-12-01,15:30\n")


def test_given_map_expect_a_column_renamed_and_another_dropped(cli: Cli, tmp_path: Path) -> None:
    text = "Client,Cell #,Appt,Provider\nAna Example,202-555-0143,2031-12-01T15:30,Dr X\n"
    path = str(_write(tmp_path, text))
    report = cli.json(
        "appointments", "import", path, "--map", "client=name", "--map", "Appt=start", "--map", "PROVIDER=-"
    )
    assert (report["imported"], report["patients_created"]) == (1, 1)
    assert [p["name"] for p in cli.json("patients", "list")] == ["Ana Example"]


def test_given_ignore_unknown_expect_the_extra_columns_dropped(tmp_path: Path) -> None:
    text = "Patient,Phone #,Start,Provider,Room,Notes\nAna,202-555-0143,2031-12-01T15:30,Dr X,4,hi\n"
    report = _read(tmp_path, text, ignore_unknown=True)
    assert (len(report.rows), report.invalid) == (1, [])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("Provider", "error: --map 'Provider': expected COLUMN=FIELD, like --map 'Cell #=phone'"),
        ("Provider=doctor", "error: --map 'Provider=doctor': unknown field 'doctor'; fields: phone,"),
        ("Provdier=-", "unknown column 'Provider'; --map names no column of the file: 'Provdier'"),
    ],
)
def test_given_a_bad_map_expect_one_line(cli: Cli, tmp_path: Path, option: str, message: str) -> None:
    text = "phone,name,start,Provider\n202-555-0143,Ana,2031-12-01T15:30,Dr X\n"
    [line] = _errors(cli, tmp_path, text, "--map", option)
    assert message in line


def test_given_a_time_the_clocks_skip_expect_it_refused_with_the_nearest_valid_times(tmp_path: Path) -> None:
    report = _read(tmp_path, "phone,name,start\n202-555-0143,Ana,2031-03-09T02:30\n")
    assert report.invalid == [
        (
            2,
            "start: 2031-03-09T02:30 does not exist in America/New_York (clocks go forward): "
            "the nearest valid times are 01:59 EST and 03:00 EDT",
        )
    ]


def test_given_a_time_the_clocks_repeat_expect_it_refused_with_both_offsets(tmp_path: Path) -> None:
    text = "Mobile,Patient,Visit Date,Visit Time\n202-555-0143,Ana,11/02/2031,1:30 AM\n"
    report = _read(tmp_path, text, date_format="us")
    assert report.invalid == [
        (
            2,
            "start: 2031-11-02T01:30 happens twice in America/New_York (clocks go back): add the "
            "offset, 2031-11-02T01:30-04:00 (EDT) or 2031-11-02T01:30-05:00 (EST)",
        )
    ]


def test_given_an_unknown_kind_expect_it_refused_with_the_known_ones(cli: Cli, tmp_path: Path) -> None:
    text = "phone,name,start,kind\n202-555-0143,Ana,2031-12-01T15:30,Massage\n"
    assert _errors(cli, tmp_path, text)[0] == (
        "line 2: kind: unknown kind 'Massage'; known kinds: session, consult, intake, ketamine-infusion, follow-up"
    )


def test_given_a_row_with_three_bad_cells_expect_all_three_on_its_line(tmp_path: Path) -> None:
    text = "phone,name,start,duration,kind\n202-555-01,Ana,13/05/2031 09:00,abc,consult\n"
    assert _read(tmp_path, text).invalid == [
        (
            2,
            "phone: '202-555-01' is not a valid phone number; start: '13/05/2031 09:00' is not an ISO "
            "8601 time like 2026-12-01T15:30 (for 12/01/2026 03:30 PM use --date-format us); "
            "duration: 'abc' is not a whole number of minutes from 1 to 1440",
        )
    ]


def test_given_bad_rows_and_a_database_conflict_expect_every_problem_in_one_run(
    cli: Cli, db_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        pid = records.add_patient(
            session, db_settings, records.PatientInput("Zed Known", "202-555-0150"), "test", utcnow()
        ).id
    text = (
        "phone,name,start,duration\n"
        "202-555-0143,Ana,2031-12-01T15:30,30\n"
        "202-555-0144,Ben,12/01/2031 3:30 PM,30\n"
        "202-555-0150,Someone Else,2031-12-01T16:30,30\n"
        "202-555-0150,Also Else,2031-12-02T16:30,0\n"
        "202-555-0145,Cy,2031-12-01T15:30,abc\n"
    )
    lines = _errors(cli, tmp_path, text)
    assert lines == [
        "line 3: start: '12/01/2031 3:30 PM' is not an ISO 8601 time like 2026-12-01T15:30 "
        "(for 12/01/2026 03:30 PM use --date-format us)",
        f"line 4: phone: belongs to patient {pid} with a different name",
        "line 5: duration: '0' is not a whole number of minutes from 1 to 1440; "
        f"phone: belongs to patient {pid} with a different name",
        "line 6: duration: 'abc' is not a whole number of minutes from 1 to 1440",
        f"{FIRST_LINE}: 4 invalid row(s); fix them or use --skip-invalid",
    ]
    report = cli.json("appointments", "import", str(_write(tmp_path, text)), "--skip-invalid")
    assert (report["imported"], [i["line"] for i in report["invalid"]]) == (1, [3, 4, 5, 6])


def test_given_first_and_last_name_columns_expect_one_name(tmp_path: Path) -> None:
    text = "First Name,Last Name,Mobile,Start\n Ana ,Example,202-555-0143,2031-12-01T15:30\n,Solo,202-555-0144,2031-12-01T16:30\n"
    assert [row.name for row in _read(tmp_path, text).rows] == ["Ana Example", "Solo"]


def test_given_a_date_column_and_a_start_time_column_expect_the_time_of_that_date(tmp_path: Path) -> None:
    text = "Mobile,Patient,Appointment Date,Start Time\n202-555-0143,Ana,12/01/2031,14:00\n"
    [row] = _read(tmp_path, text, date_format="us").rows
    assert row.start_at == datetime(2031, 12, 1, 19, 0, tzinfo=UTC)


def test_given_a_custom_date_format_expect_it_read_and_its_example_in_the_error(tmp_path: Path) -> None:
    text = "phone,name,date,time\n202-555-0143,Ana,01.12.2031,15:30\n202-555-0144,Ben,2031-12-01,15:30\n"
    report = _read(tmp_path, text, date_format="%d.%m.%Y %H:%M")
    assert [row.start_at for row in report.rows] == [datetime(2031, 12, 1, 20, 30, tzinfo=UTC)]
    assert report.invalid == [
        (3, "start: '2031-12-01 15:30' does not match --date-format '%d.%m.%Y %H:%M' (like 01.12.2026 15:30)")
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("eu", "--date-format 'eu': use iso, us, or a strptime format like '%d.%m.%Y %H:%M'"),
        ("%Q", "--date-format '%Q': 'Q' is a bad directive in format '%Q'"),
    ],
)
def test_given_a_date_format_that_is_none_expect_one_line(
    cli: Cli, tmp_path: Path, given: str, message: str
) -> None:
    lines = _errors(
        cli, tmp_path, "phone,name,start\n202-555-0143,Ana,2031-12-01T15:30\n", "--date-format", given
    )
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}")


def test_given_a_column_without_a_header_expect_its_values_refused_and_its_blanks_ignored(
    tmp_path: Path,
) -> None:
    text = "phone,name,start,\n202-555-0143,Ana,2031-12-01T15:30,\n202-555-0144,Ben,2031-12-01T16:30,x\n"
    report = _read(tmp_path, text)
    assert [row.line for row in report.rows] == [2]
    assert report.invalid == [(3, "row: a value in column 4, which has no header")]


def test_given_an_appointment_date_column_holding_date_and_time_when_imported_us_expect_it_read_as_the_start(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Patient Name,Mobile,Appointment Date\n"
        "Ana Example,(202) 555-0143,12/05/2031 09:00 AM\n"
        "Ben Example,(202) 555-0144,12/05/2031\n"
    )
    report = cli.json("appointments", "import", str(path), "--date-format", "us", "--skip-invalid")
    assert report["imported"] == 1
    assert [row["line"] for row in report["invalid"]] == [3]
    assert report["invalid"][0]["error"].startswith("start: '12/05/2031' does not match --date-format us")
    listed = cli.json("appointments", "list", "--date", "2031-12-05")
    assert [(a["patient_name"], a["start_at"]) for a in listed] == [
        ("Ana Example", "2031-12-05T14:00:00+00:00")
    ]
