"""Appointment import from CSV: every row is checked, against the file and the database,
before anything is written.

Header (order free; case, spaces and punctuation ignored; the usual spreadsheet names such
as "Mobile" or "Appointment Date" accepted, see worker.clinic.csv_headers, and --map for
the others):
  phone       required unless patient_id is given; the patient is found by it
  patient_id  an existing patient's id, instead of phone
  name        required when the phone is not yet a patient (or first_name and last_name)
  start       required (or date and time); as --date-format says, ISO 8601 by default,
              read in the clinic's zone when it has no offset
  duration    minutes, default 60
  kind        a kind of config/kinds.yaml in any case, default "session"
  timezone    the patient's IANA zone, for new patients (default: the clinic's)
  language    en or es, for new patients (default en)
  consent     yes/no, for new patients (default yes)

`read_rows` checks each row alone, `check_against_database` resolves rows to patients (a
phone with a different name is a conflict) and drops appointments already present, and
`worker.clinic.import_write.write` writes what is left, in batches. Every problem of every
row is reported in the one run, one line per row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clinic import csv_headers
from worker.clinic.csv_headers import Layout
from worker.clinic.import_rows import DateFormat, Row, RowError, RowPatient, RowRules, parse_row
from worker.db.cipher import cipher_of
from worker.db.models import Appointment, Patient
from worker.enums import ACTIVE_APPOINTMENT
from worker.lib.errors import InputError
from worker.settings import Settings

QUERY_CHUNK = 1_000  # ids or phones per IN (...): under every driver's parameter limit
T = TypeVar("T")


@dataclass(frozen=True)
class ExistingPatient:
    id: int
    name: str
    timezone: str
    language: str


@dataclass(frozen=True)
class NewPatient:
    name: str
    phone: str
    timezone: str | None
    language: str | None
    consent: bool


@dataclass
class PatientUpdate:
    """What --update-patients changes on an existing patient (None: left as it is)."""

    name: str | None = None
    timezone: str | None = None
    language: str | None = None

    def fields(self) -> list[str]:
        return [name for name in ("name", "timezone", "language") if getattr(self, name) is not None]


@dataclass(frozen=True)
class Ready:
    """A row to write: for an existing patient (an id) or a new one (its phone)."""

    line: int
    patient: int | str
    start_at: datetime
    duration: int
    kind: str


@dataclass
class ImportReport:
    rows: list[Row] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    refused_patients: list[RowPatient] = field(default_factory=list)  # of invalid rows, still to check
    ready: list[Ready] = field(default_factory=list)
    new_patients: dict[str, NewPatient] = field(default_factory=dict)
    updates: dict[int, PatientUpdate] = field(default_factory=dict)
    imported: int = 0
    existing: int = 0
    patients_created: int = 0
    patients_updated: int = 0


def read_rows(
    path: Path,
    settings: Settings,
    now: datetime,
    *,
    mapping: Sequence[str] = (),
    date_format: str = "iso",
    ignore_unknown: bool = False,
) -> ImportReport:
    """Parse and check every row alone; nothing is read from or written to the database.

    `mapping` holds --map COLUMN=FIELD items, `date_format` --date-format, `ignore_unknown`
    drops the columns that are no field. A bad header is one InputError; a bad row is a line
    of `report.invalid` naming every bad cell of it."""
    columns = csv_headers.parse_map(mapping)
    rules = RowRules(settings, now, DateFormat(date_format))
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    report = ImportReport()
    try:
        header = next(reader, [])
        if not any(name.strip() for name in header):
            raise InputError(f"{path} is empty; the first line must be a header like phone,name,start")
        layout = csv_headers.resolve(str(path), header, columns, ignore_unknown=ignore_unknown)
        for line, raw in _numbered(reader, layout.width):
            try:
                report.rows.append(parse_row(line, _cells(layout, raw), rules))
            except RowError as exc:
                report.invalid.append((line, str(exc)))
                if exc.patient is not None:
                    report.refused_patients.append(exc.patient)
            except InputError as exc:
                report.invalid.append((line, str(exc)))
    except csv.Error as exc:  # the parser cannot go on (a cell over csv's size limit)
        raise InputError(f"{path} line {reader.line_num}: not readable as CSV: {exc}") from None
    return report


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path} is not UTF-8 text (line {line}); save it as CSV UTF-8") from None


class _CsvLines(Protocol):
    """A csv reader: its rows, and the line of the file the last one ended on."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...


def _numbered(reader: _CsvLines, width: int) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each row that is not blank, padded to the header's width."""
    for raw in reader:
        if not any(cell.strip() for cell in raw):
            continue  # blank lines at the end of spreadsheets
        yield reader.line_num, raw + [""] * (width - len(raw)) if len(raw) < width else raw


def _cells(layout: Layout, raw: list[str]) -> dict[str, str]:
    """The row's cells by field; InputError for cells no column would read."""
    if len(raw) > layout.width:
        # Its cells are shifted: what the columns would read is not what the row meant.
        raise InputError(f"row: {len(raw) - layout.width} cell(s) more than the header has")
    stray = layout.stray(raw)
    if stray is not None:
        raise InputError(stray)
    return layout.cells(raw)


def chunks(items: Sequence[T], size: int = QUERY_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing_patients(session: Session, phones: Collection[str]) -> dict[str, ExistingPatient]:
    """The patients these E.164 phones belong to. The only lookup of patients by phone in the
    import: by the phone's blind index under every index key (worker.db.blind), a chunk of
    phones per query; names are compared in Python by the caller, never in SQL."""
    cipher = cipher_of(session.get_bind().dialect)
    by_index = {index: phone for phone in phones for index in cipher.indexes(phone)}
    found: dict[str, ExistingPatient] = {}
    query = select(Patient.id, Patient.phone_index, Patient.name, Patient.timezone, Patient.language)
    for part in chunks(sorted(by_index)):
        for pid, index, name, zone, language in session.execute(query.where(Patient.phone_index.in_(part))):
            found[by_index[index]] = ExistingPatient(pid, name, zone, language)
    return found


def _known_ids(session: Session, ids: Collection[int]) -> set[int]:
    known: set[int] = set()
    for part in chunks(sorted(ids)):
        known.update(session.scalars(select(Patient.id).where(Patient.id.in_(part))))
    return known


def _booked(session: Session, ids: Collection[int]) -> set[tuple[int, datetime]]:
    """(patient, start) of every active appointment of these patients."""
    booked: set[tuple[int, datetime]] = set()
    for part in chunks(sorted(ids)):
        query = select(Appointment.patient_id, Appointment.start_at).where(
            Appointment.patient_id.in_(part), Appointment.status.in_(ACTIVE_APPOINTMENT)
        )
        booked.update((pid, start) for pid, start in session.execute(query))
    return booked


def same_name(a: str, b: str) -> bool:
    """Names compared as people read them: case and spacing ignored."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def check_against_database(session: Session, report: ImportReport, *, update_patients: bool) -> None:
    """Resolve each checked row to its patient and fill `report.ready`; conflicts, unknown ids
    and duplicates go to `report.invalid`. Reads only: nothing is written here."""
    rows: list[Row | RowPatient] = [*report.rows, *report.refused_patients]
    resolver = _Resolver(report, existing_patients(session, _phones(rows)), update_patients)
    known = _known_ids(session, {row.patient_id for row in rows if row.patient_id is not None})
    if not update_patients:
        _add_patient_problems(report, resolver.existing, known)
    seen: dict[tuple[int | str, datetime], int] = {}
    for row in report.rows:
        try:
            target = resolver.target(row, known)
            first = seen.setdefault((target, row.start_at), row.line)
            if first != row.line:
                raise InputError(f"start: duplicate of line {first} (same patient and start)")
        except InputError as exc:
            report.invalid.append((row.line, str(exc)))
            continue
        report.ready.append(Ready(row.line, target, row.start_at, row.duration, row.kind))
    report.invalid.sort()
    booked = _booked(session, {r.patient for r in report.ready if isinstance(r.patient, int)})
    fresh = [r for r in report.ready if (r.patient, r.start_at) not in booked]
    report.existing += len(report.ready) - len(fresh)  # importing a file again doubles nothing
    report.ready = fresh


def _add_patient_problems(
    report: ImportReport, existing: dict[str, ExistingPatient], known: set[int]
) -> None:
    """To a row refused for its cells, the problems of its patient too (an unknown id, someone
    else's phone), so that one run shows everything wrong with it. Only what needs no other
    row: which name a new phone gets is decided by the valid rows alone."""
    more: dict[int, str] = {}
    for who in report.refused_patients:
        found = existing.get(who.phone) if who.phone is not None else None
        if who.patient_id is not None and who.patient_id not in known:
            more[who.line] = _unknown_id(who.patient_id)
        elif found is not None and who.name and not same_name(who.name, found.name):
            more[who.line] = _someone_elses_phone(found)
    if more:
        report.invalid = [
            (line, f"{error}; {more[line]}" if line in more else error) for line, error in report.invalid
        ]


def _unknown_id(patient_id: int) -> str:
    return f"patient_id: no patient with id {patient_id}"


def _someone_elses_phone(found: ExistingPatient) -> str:
    return f"phone: belongs to patient {found.id} with a different name"


def _phones(rows: Sequence[Row | RowPatient]) -> set[str]:
    return {row.phone for row in rows if row.phone is not None}


class _Resolver:
    """Which patient each row is for; the first row that names a new phone defines its patient."""

    def __init__(
        self, report: ImportReport, existing: dict[str, ExistingPatient], update_patients: bool
    ) -> None:
        self.report, self.existing, self.update_patients = report, existing, update_patients
        self.named_on: dict[str, int] = {}  # phone -> the line whose name it now carries
        self.first_named: dict[str, Row] = {}
        for row in report.rows:
            if row.phone is not None and row.phone not in existing and row.name:
                self.first_named.setdefault(row.phone, row)

    def target(self, row: Row, known: set[int]) -> int | str:
        if row.patient_id is not None:
            if row.patient_id not in known:
                raise InputError(_unknown_id(row.patient_id))
            return row.patient_id
        assert row.phone is not None
        found = self.existing.get(row.phone)
        if found is not None:
            self._check_existing(row, found)
            return found.id
        first = self.first_named.get(row.phone)
        if first is None:
            raise InputError("name: empty, and the phone is not a known patient")
        if row.name and not same_name(row.name, first.name):
            raise InputError(f"phone: line {first.line} gives this phone a different name")
        self.report.new_patients.setdefault(
            row.phone, NewPatient(first.name, row.phone, first.timezone, first.language, first.consent)
        )
        return row.phone

    def _check_existing(self, row: Row, found: ExistingPatient) -> None:
        """A known phone with another name is someone else's number, unless --update-patients
        (then the first line that renames the patient decides, and later lines must agree)."""
        assert row.phone is not None
        renamed_on = self.named_on.get(row.phone)
        update = self.report.updates.get(found.id, PatientUpdate())
        if row.name and not same_name(row.name, update.name or found.name):
            if renamed_on is not None:
                raise InputError(f"phone: line {renamed_on} gives this phone a different name")
            if not self.update_patients:
                raise InputError(_someone_elses_phone(found))
            update.name, self.named_on[row.phone] = row.name, row.line
        if self.update_patients:
            if row.timezone and row.timezone != found.timezone and update.timezone is None:
                update.timezone = row.timezone
            if row.language and row.language != found.language and update.language is None:
                update.language = row.language
            if update.fields():
                self.report.updates[found.id] = update
