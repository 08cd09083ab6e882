"""Appointment import from CSV: every row is checked before anything is written.

Header (order free, names case-insensitive):
  phone       required unless patient_id is given; the patient is found by it
  patient_id  an existing patient's id, instead of phone
  name        required when the phone is not yet a patient
  start       required; ISO 8601, read in the clinic's zone when it has no offset
  duration    minutes, default 60
  kind        default "session"
  timezone    the patient's IANA zone, for new patients (default: the clinic's)
  language    en or es, for new patients (default en)
  consent     yes/no, for new patients (default yes)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clinic import records
from worker.db.models import Appointment, Patient
from worker.enums import ACTIVE_APPOINTMENT
from worker.lib.errors import InputError
from worker.lib.phones import to_e164
from worker.settings import Settings

COLUMNS = ("phone", "patient_id", "name", "start", "duration", "kind", "timezone", "language", "consent")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class Row:
    line: int
    patient_id: int | None
    patient: records.PatientInput | None
    start_at: datetime
    duration: int
    kind: str


@dataclass
class ImportReport:
    rows: list[Row] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    imported: int = 0
    existing: int = 0
    patients_created: int = 0


def read_rows(path: Path, settings: Settings, now: datetime) -> ImportReport:
    """Parse and check every row; nothing is written here."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # Excel writes a BOM
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; save it as CSV UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _check_header(path, reader.fieldnames)
    report = ImportReport()
    seen: dict[tuple[str, datetime], int] = {}
    for line, raw in _numbered(reader):
        try:
            row = _parse(line, raw, settings, now)
        except InputError as exc:
            report.invalid.append((line, str(exc)))
            continue
        identity = (str(row.patient_id or (row.patient and row.patient.phone)), row.start_at)
        if identity in seen:
            report.invalid.append((line, f"duplicate of line {seen[identity]}"))
            continue
        seen[identity] = line
        report.rows.append(row)
    return report


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for raw in reader:
        if not any((value or "").strip() for value in raw.values() if isinstance(value, str)):
            continue  # blank lines at the end of spreadsheets
        yield (
            reader.line_num,
            {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)},
        )


def _check_header(path: Path, fieldnames: object) -> None:
    if not isinstance(fieldnames, list) or not fieldnames:
        raise InputError(f"{path} is empty; the first line must be a header like phone,name,start")
    names = {str(name).strip().lower() for name in fieldnames}
    if "start" not in names:
        raise InputError(f"{path}: missing column 'start'")
    if not names & {"phone", "patient_id"}:
        raise InputError(f"{path}: missing column 'phone' (or 'patient_id')")
    unknown = sorted(names - set(COLUMNS))
    if unknown:
        raise InputError(f"{path}: unknown column {unknown[0]!r}; known: {', '.join(COLUMNS)}")


def _parse(line: int, raw: dict[str, str], settings: Settings, now: datetime) -> Row:
    start_at = records.parse_start(raw.get("start", ""), settings.timezone)
    duration = _integer(raw.get("duration") or "60", "duration")
    records.check_schedule(start_at, duration, now)
    patient_id = _integer(raw["patient_id"], "patient_id") if raw.get("patient_id") else None
    patient = None
    if patient_id is None:
        if not raw.get("phone"):
            raise InputError("phone is empty")
        patient = records.validate_patient(
            records.PatientInput(
                name=raw.get("name") or "-",  # checked against the database when applied
                phone=raw["phone"],
                timezone=raw.get("timezone") or None,
                language=raw.get("language") or "en",
                consent=_yes_no(raw.get("consent") or "yes"),
            ),
            settings,
        )
        if not raw.get("name"):
            patient = records.PatientInput(
                "", patient.phone, patient.timezone, patient.language, patient.consent
            )
    return Row(line, patient_id, patient, start_at, duration, raw.get("kind") or "session")


def _integer(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a whole number") from None


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise InputError(f"consent {text!r} is not yes or no")


def apply_rows(
    session: Session,
    settings: Settings,
    report: ImportReport,
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] = lambda _: None,
) -> list[tuple[int, str]]:
    """Write the checked rows in the caller's transaction. Rows that need the database to
    judge them (unknown patient id, a new phone without a name) are returned as problems."""
    problems: list[tuple[int, str]] = []
    for row in report.rows:
        try:
            with session.begin_nested():  # a failed row leaves nothing behind
                _apply_one(session, settings, report, row, actor, now)
        except InputError as exc:
            problems.append((row.line, str(exc)))
        progress(1)
    return problems


def _apply_one(
    session: Session, settings: Settings, report: ImportReport, row: Row, actor: str, now: datetime
) -> None:
    patient_id = row.patient_id
    if patient_id is None:
        assert row.patient is not None
        patient_id = _find_or_add_patient(session, settings, report, row.patient, actor, now)
    else:
        records.get_patient(session, patient_id)
    duplicate = session.scalar(
        select(Appointment.id).where(
            Appointment.patient_id == patient_id,
            Appointment.start_at == row.start_at,
            Appointment.status.in_(ACTIVE_APPOINTMENT),
        )
    )
    if duplicate is not None:
        report.existing += 1  # re-importing the same file must not double anything
        return
    records.add_appointment(
        session,
        settings,
        patient_id,
        row.start_at,
        duration=row.duration,
        kind=row.kind,
        actor=actor,
        now=now,
    )
    report.imported += 1


def _find_or_add_patient(
    session: Session,
    settings: Settings,
    report: ImportReport,
    data: records.PatientInput,
    actor: str,
    now: datetime,
) -> int:
    existing = session.scalar(select(Patient.id).where(Patient.phone == to_e164(data.phone)))
    if existing is not None:
        return existing
    if not data.name:
        raise InputError("name is empty and the phone is not a known patient")
    report.patients_created += 1
    return records.add_patient(session, settings, data, actor, now).id
