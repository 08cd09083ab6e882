"""CSV import you can trust: every cell checked by line before anything is written, a known
phone with another name refused (or, with --update-patients, renamed and audited)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli
from worker.clinic import records
from worker.db import audit
from worker.db.engine import transaction
from worker.db.models import Appointment, Patient, utcnow
from worker.settings import Settings

HEADER = "name,phone,start,timezone,language\n"
GOOD_1 = "Ana Example,202-555-0143,2031-03-04T10:00,,\n"
GOOD_2 = "Ben Example,202-555-0144,2031-03-04T11:00,,\n"


def _csv(tmp_path: Path, *rows: str, raw: bytes = b"") -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes((HEADER + "".join(rows)).encode() + raw)
    return path


def _count(sessions: sessionmaker[Session], model: type[Patient] | type[Appointment]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _add_patient(sessions: sessionmaker[Session], settings: Settings, name: str, phone: str) -> int:
    with transaction(sessions) as session:
        data = records.PatientInput(name, phone)
        return records.add_patient(session, settings, data, "test", utcnow()).id


BAD_ROWS = [
    pytest.param(
        "A" * 201 + ",202-555-0145,2031-03-04T12:00,,\n",
        "name: longer than 200 characters (201)",
        id="long-name",
    ),
    pytest.param(
        "Cy,202-555-0145,2031-03-04T12:00," + "X/" * 40 + ",\n", "timezone: longer than 64", id="long-zone"
    ),
    pytest.param("Cy\x00Nul,202-555-0145,2031-03-04T12:00,,\n", "name: contains a NUL byte", id="nul"),
    pytest.param(
        "Cy\x1b[2J,202-555-0145,2031-03-04T12:00,,\n",
        "name: contains the control character U+001B",
        id="escape",
    ),
    pytest.param(
        "Cy,202-555-01,2031-03-04T12:00,,\n",
        "phone: '202-555-01' is not a valid phone number",
        id="bad-phone",
    ),
    pytest.param(
        "Cy,202-555-0145,2031-03-04T25:00,,\n", "start: '2031-03-04T25:00' is not an ISO 8601", id="bad-time"
    ),
    pytest.param(
        "Cy,202-555-0145,2031-03-04T12:00,,klingon\n",
        "language: 'klingon' is not one of en, es",
        id="language",
    ),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS)
def test_given_a_bad_cell_when_imported_expect_its_line_and_column_and_nothing_written(
    cli: Cli, sessions: sessionmaker[Session], tmp_path: Path, bad: str, reason: str
) -> None:
    result = cli.run("appointments", "import", str(_csv(tmp_path, GOOD_1, bad, GOOD_2)), ok=False)
    assert result.returncode == 1
    first, last = result.stderr.strip().splitlines()
    assert first.startswith(f"line 3: {reason}")
    assert last == "error: nothing imported: 1 invalid row(s); fix them or use --skip-invalid"
    assert _count(sessions, Patient) == 0 and _count(sessions, Appointment) == 0


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS[:1] + BAD_ROWS[2:3] + BAD_ROWS[4:6])
def test_given_a_bad_cell_when_skip_invalid_expect_the_good_rows_imported(
    cli: Cli, sessions: sessionmaker[Session], tmp_path: Path, bad: str, reason: str
) -> None:
    path = _csv(tmp_path, GOOD_1, bad, GOOD_2)
    report = cli.json("appointments", "import", str(path), "--skip-invalid")
    assert (report["imported"], report["patients_created"]) == (2, 2)
    assert [item["line"] for item in report["invalid"]] == [3]
    assert report["invalid"][0]["error"].startswith(reason)
    assert _count(sessions, Appointment) == 2


def test_given_a_file_that_is_not_utf8_expect_one_line_naming_the_line(cli: Cli, tmp_path: Path) -> None:
    path = _csv(tmp_path, GOOD_1, raw="Zoë,202-555-0145,2031-03-04T12:00,,\n".encode("latin-1"))
    result = cli.run("appointments", "import", str(path), "--skip-invalid", ok=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {path} is not UTF-8 text (line 3); save it as CSV UTF-8"
    ]


def test_given_more_cells_than_the_header_expect_the_row_refused_by_line(cli: Cli, tmp_path: Path) -> None:
    result = cli.run(
        "appointments",
        "import",
        str(_csv(tmp_path, GOOD_1, "Cy,202-555-0145,2031-03-04T12:00,,,x\n")),
        ok=False,
    )
    assert "line 3: row: 1 cell(s) more than the header has" in result.stderr


def test_given_a_known_phone_with_another_name_expect_a_conflict_not_an_attachment(
    cli: Cli, db_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    pid = _add_patient(sessions, db_settings, "Ana Example", "202-555-0143")
    path = _csv(
        tmp_path,
        "  ana   EXAMPLE ,202-555-0143,2031-03-04T10:00,,\n",
        "Zed Other,+1 202 555 0143,2031-03-05T10:00,,\n",
    )
    result = cli.run("appointments", "import", str(path), ok=False)
    assert result.stderr.splitlines()[0] == f"line 3: phone: belongs to patient {pid} with a different name"
    report = cli.json("appointments", "import", str(path), "--skip-invalid")
    assert report["imported"] == 1  # same name in another case and spacing: the same patient
    with sessions() as session:
        assert session.get(Patient, pid).name == "Ana Example"  # type: ignore[union-attr]


def test_given_one_new_phone_with_two_names_in_the_file_expect_the_second_refused(
    cli: Cli, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _csv(
        tmp_path, GOOD_1, "Ana Other,202-555-0143,2031-03-05T10:00,,\n", ",202-555-0143,2031-03-06T10:00,,\n"
    )
    report = cli.json("appointments", "import", str(path), "--skip-invalid")
    assert report["invalid"] == [{"line": 3, "error": "phone: line 2 gives this phone a different name"}]
    assert (report["imported"], report["patients_created"]) == (2, 1)


def test_given_update_patients_expect_the_patient_renamed_and_audited(
    cli: Cli, db_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    pid = _add_patient(sessions, db_settings, "Ana Example", "202-555-0143")
    path = _csv(tmp_path, "Ana Married-Name,202-555-0143,2031-03-04T10:00,America/Chicago,es\n")
    report = cli.json("appointments", "import", str(path), "--update-patients")
    assert (report["imported"], report["patients_updated"], report["invalid"]) == (1, 1, [])
    with sessions() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        assert (patient.name, patient.timezone, patient.language) == (
            "Ana Married-Name",
            "America/Chicago",
            "es",
        )
        updates = [e for e in audit.entries(session, patient_id=pid) if e.action == "patient.update"]
    assert [e.detail for e in updates] == [{"fields": ["name", "timezone", "language"], "source": "import"}]
    again = cli.json("appointments", "import", str(path), "--update-patients")
    assert (again["imported"], again["existing"], again["patients_updated"]) == (0, 1, 0)


def test_given_an_unknown_patient_id_expect_it_refused_by_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("patient_id,start\n99,2031-03-04T10:00\n99999999999,2031-03-04T10:00\n")
    result = cli.run("appointments", "import", str(path), ok=False)
    assert result.stderr.splitlines()[:2] == [
        "line 2: patient_id: no patient with id 99",
        "line 3: patient_id: '99999999999' is not a patient id",
    ]
