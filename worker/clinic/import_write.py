"""Writing a checked import, a batch of rows per transaction.

Each batch creates its new patients, its appointments, their planned messages and their
audit rows in one transaction, with a few multi-row statements rather than a round trip per
row. A batch commits on its own so that a large import never holds SQLite's write lock (or
PostgreSQL row locks) for long: the webhook's inbox waits at most 10 s for a commit. If the
process dies half-way, the batches already written stay; importing the file again adds only
the rest, since rows already present are recognised (see importer.check_against_database).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from worker.clinic.import_plan import for_import, message_rows
from worker.clinic.importer import ImportReport, NewPatient, PatientUpdate, Ready, chunks
from worker.db import audit
from worker.db.engine import Sessions, transaction
from worker.db.models import Appointment, Base, Patient
from worker.enums import AppointmentStatus, MessageStatus
from worker.lib.errors import InputError
from worker.settings import Settings

BATCH_ROWS = 1_000
_MESSAGES = Base.metadata.tables["messages"]
_APPOINTMENTS = Base.metadata.tables["appointments"]
_PATIENTS = Base.metadata.tables["patients"]
MAX_ACTOR = 64  # patients.consent_source records who imported the consent


def write(
    sessions: Sessions,
    settings: Settings,
    report: ImportReport,
    *,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] = lambda _: None,
) -> None:
    """Write `report.ready` and `report.updates`; `progress` is told each batch's row count."""
    if len(actor) > MAX_ACTOR:
        raise InputError(f"the actor name is longer than {MAX_ACTOR} characters")
    for part in chunks(sorted(report.updates.items())):
        with transaction(sessions) as session:
            _update_patients(session, part, actor)
        report.patients_updated += len(part)
    created: dict[str, int] = {}  # phone -> id of the patients this import made
    settings = for_import(settings)
    for batch in chunks(report.ready, BATCH_ROWS):
        with transaction(sessions) as session:
            _write_batch(session, settings, report, batch, created, actor, now)
        progress(len(batch))


def _update_patients(session: Session, part: Sequence[tuple[int, PatientUpdate]], actor: str) -> None:
    query = select(Patient).where(Patient.id.in_([pid for pid, _ in part]))
    loaded = {
        patient.id: patient for patient in session.scalars(query)
    }  # in the session: changes are written
    for pid, change in part:
        patient = loaded[pid]
        for name in change.fields():
            setattr(patient, name, getattr(change, name))
        # Which fields changed, never their values: the audit trail holds no PHI.
        audit.record(
            session,
            actor,
            "patient.update",
            patient_id=pid,
            entity="patient",
            entity_id=pid,
            fields=change.fields(),
            source="import",
        )


def _write_batch(
    session: Session,
    settings: Settings,
    report: ImportReport,
    batch: Sequence[Ready],
    created: dict[str, int],
    actor: str,
    now: datetime,
) -> None:
    _add_patients(session, settings, report, batch, created, actor, now)
    ids = [r.patient if isinstance(r.patient, int) else created[r.patient] for r in batch]
    patients = _patients(session, ids)
    rows = [
        _appointment_row(appointment_id, r, patient_id, now)
        for appointment_id, r, patient_id in zip(
            _reserve_ids(session, _APPOINTMENTS, len(batch)), batch, ids, strict=True
        )
    ]
    session.execute(insert(_APPOINTMENTS), rows)  # Core: the kind is still encrypted by its type
    _plan(session, settings, [_planned(row, patients[row["patient_id"]]) for row in rows], actor, now)
    report.imported += len(rows)


def _add_patients(
    session: Session,
    settings: Settings,
    report: ImportReport,
    batch: Sequence[Ready],
    created: dict[str, int],
    actor: str,
    now: datetime,
) -> None:
    """The batch's new patients, through the ORM so the model's encryption and blind index apply."""
    phones = sorted({r.patient for r in batch if isinstance(r.patient, str)} - created.keys())
    if not phones:
        return
    ids = _reserve_ids(session, _PATIENTS, len(phones))
    fresh = [
        _new_patient(pid, report.new_patients[phone], settings, actor, now)
        for pid, phone in zip(ids, phones, strict=True)
    ]
    session.add_all(fresh)
    session.flush()
    created.update(zip(phones, ids, strict=True))
    report.patients_created += len(fresh)
    # One audit row per batch, linked to every patient in it: `audit list --patient` finds
    # it, and 50,000 new patients do not cost 50,000 chained hashes.
    audit.record(
        session,
        actor,
        "patients.import",
        patient_ids=ids,
        count=len(fresh),
        without_consent=sum(1 for p in fresh if not p.sms_consent),
    )


def _reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """Ids for `count` new rows, taken before the INSERT: with its ids given, a multi-row
    INSERT needs no RETURNING, which SQLite cannot pair with rows (SQLAlchemy then sends
    one INSERT per row). SQLite: the write lock BEGIN IMMEDIATE took makes max(id) ours."""
    if session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return [int(pid) for pid in session.scalars(query)]
    last = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
    return list(range(last + 1, last + 1 + count))


def _patients(session: Session, ids: Sequence[int]) -> dict[int, Patient]:
    """The batch's patients as planning reads them (id and time zone): one query, and
    transient objects, never added to the session, so nothing is decrypted or written back."""
    found: dict[int, Patient] = {}
    for part in chunks(sorted(set(ids))):
        for pid, zone in session.execute(select(Patient.id, Patient.timezone).where(Patient.id.in_(part))):
            found[pid] = Patient(id=pid, timezone=zone)
    return found


def _new_patient(pid: int, data: NewPatient, settings: Settings, actor: str, now: datetime) -> Patient:
    return Patient(
        id=pid,
        name=data.name,
        phone=data.phone,
        timezone=data.timezone or settings.timezone,
        language=data.language or "en",
        sms_consent=data.consent,
        consent_at=now if data.consent else None,
        consent_source=actor if data.consent else None,
        opted_out=False,
        created_at=now,
    )


def _appointment_row(appointment_id: int, row: Ready, patient_id: int, now: datetime) -> dict[str, Any]:
    return {
        "id": appointment_id,
        "patient_id": patient_id,
        "start_at": row.start_at,
        "duration_minutes": row.duration,
        "kind": row.kind,
        "status": AppointmentStatus.SCHEDULED,
        "created_at": now,
        "updated_at": now,
    }


def _planned(row: dict[str, Any], patient: Patient) -> Appointment:
    """The appointment as planning reads it: a transient object, never added to the session
    (the row is already inserted); its patient is set without events, so no backref adds it."""
    appointment = Appointment(**row)
    set_committed_value(appointment, "patient", patient)
    return appointment


def _plan(
    session: Session, settings: Settings, appointments: Sequence[Appointment], actor: str, now: datetime
) -> None:
    """The batch's one re-plan: every new appointment's messages in one multi-row INSERT."""
    rows = message_rows(settings, appointments, now)
    if rows:
        session.execute(insert(_MESSAGES), rows)  # Core: no ORM bookkeeping per row
    audit.record(
        session,
        actor,
        "appointments.import",
        patient_ids=sorted({a.patient_id for a in appointments}),
        appointment_ids=[a.id for a in appointments],
        planned=sum(1 for row in rows if row["status"] == MessageStatus.PLANNED),
    )
