"""Writing a checked import, a batch of rows per transaction.

Each batch creates its new patients, its appointments, their planned messages and their
audit rows in one transaction, with a few multi-row statements rather than a round trip per
row. A batch commits on its own so that a large import never holds SQLite's write lock (or
PostgreSQL row locks) for long: the webhook's inbox waits at most 10 s for a commit. If the
process dies half-way, the batches already written stay; importing the file again adds only
the rest, since rows already present are recognised (see importer.check_against_database).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from worker.clinic.import_plan import booking, message_rows
from worker.clinic.importer import ImportReport, NewPatient, PatientUpdate, Ready, chunks
from worker.db import audit, blind
from worker.db.bulk import insert_many
from worker.db.engine import Sessions, transaction
from worker.db.models import Base, Patient
from worker.enums import AppointmentStatus, MessageStatus
from worker.lib.errors import InputError
from worker.messages.replan import Booking, FollowUpPlans, followup_plans
from worker.planning.textable import textable_reason
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
    writer = _BatchWriter(settings, report, actor, now, followup_plans(settings))
    with _collector_for_batches():
        for batch in chunks(report.ready, BATCH_ROWS):
            with transaction(sessions) as session:
                writer.write(session, batch)
            progress(len(batch))


@contextmanager
def _collector_for_batches() -> Iterator[None]:
    """The garbage collector set for the batches, and put back after (the command runs
    alone in its process). What is alive when they start (the checked rows, tens of
    thousands of objects, and the loaded modules) outlives the import: frozen, it is not
    rescanned by every full collection. The batches make cyclic garbage by the thousand
    (statements, result rows, every flushed ORM object with its state): collected every
    20,000 allocations rather than 700, it is traversed far fewer times. Measured at 50,000
    rows, when the audit links were still ORM objects: 1.3 s of collection instead of 6-7 s,
    a fifth of the import's CPU time."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


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


@dataclass
class _BatchWriter:
    """What every batch of one import shares, and the writing of one batch: new patients,
    appointments and messages by bulk inserts (worker.db.bulk: no ORM object per row), the audit
    rows through the trail's own `record`."""

    settings: Settings
    report: ImportReport
    actor: str
    now: datetime
    plans: FollowUpPlans  # read once per import, not once per appointment
    created: dict[str, int] = field(default_factory=dict)  # phone -> id of the patients this import made

    def write(self, session: Session, batch: Sequence[Ready]) -> None:
        self._add_patients(session, batch)
        ids = [r.patient if isinstance(r.patient, int) else self.created[r.patient] for r in batch]
        patients = _planning_facts(session, ids)
        reserved = _reserve_ids(session, _APPOINTMENTS, len(batch))
        rows = [
            _appointment_row(appointment_id, r, patient_id, self.now)
            for appointment_id, r, patient_id in zip(reserved, batch, ids, strict=True)
        ]
        insert_many(session, _APPOINTMENTS, rows)  # the kind is still encrypted by its type
        bookings = [(booking(row, *patients[row["patient_id"]]), row["patient_id"]) for row in rows]
        self._plan(session, bookings)
        self.report.imported += len(rows)

    def _add_patients(self, session: Session, batch: Sequence[Ready]) -> None:
        phones = sorted({r.patient for r in batch if isinstance(r.patient, str)} - self.created.keys())
        if not phones:
            return
        ids = _reserve_ids(session, _PATIENTS, len(phones))
        rows = [
            _patient_row(session, pid, self.report.new_patients[phone], self.settings, self.actor, self.now)
            for pid, phone in zip(ids, phones, strict=True)
        ]
        insert_many(session, _PATIENTS, rows)
        self.created.update(zip(phones, ids, strict=True))
        self.report.patients_created += len(rows)
        # One audit row per batch, linked to every patient in it: `audit list --patient` finds
        # it, and 50,000 new patients do not cost 50,000 chained hashes.
        audit.record(
            session,
            self.actor,
            "patients.import",
            patient_ids=ids,
            count=len(rows),
            without_consent=sum(1 for row in rows if not row["sms_consent"]),
        )

    def _plan(self, session: Session, appointments: Sequence[tuple[Booking, int]]) -> None:
        """The batch's one re-plan: every new appointment's messages in one multi-row INSERT."""
        rows = message_rows(self.settings, self.plans, appointments, self.now)
        if rows:
            insert_many(session, _MESSAGES, rows)
        audit.record(
            session,
            self.actor,
            "appointments.import",
            patient_ids=sorted({patient_id for _, patient_id in appointments}),
            appointment_ids=[a.id for a, _ in appointments],
            planned=sum(1 for row in rows if row["status"] == MessageStatus.PLANNED),
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


def _planning_facts(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    """Each of the batch's patients' time zone (read after --update-patients changed it) and
    why they cannot be texted (None: they can), for planning their messages."""
    found: dict[int, tuple[str, str | None]] = {}
    query = select(Patient.id, Patient.timezone, Patient.opted_out, Patient.sms_consent)
    for part in chunks(sorted(set(ids))):
        for pid, zone, opted_out, consent in session.execute(query.where(Patient.id.in_(part))):
            found[pid] = (zone, textable_reason(opted_out, consent))
    return found


def _patient_row(
    session: Session, pid: int, data: NewPatient, settings: Settings, actor: str, now: datetime
) -> dict[str, Any]:
    """A new patient as the Patient model writes it. Core bypasses the model's listener that
    fills the blind index, so it is filled here, by the same helper; name and phone are
    encrypted by their column type as in the ORM."""
    return {
        "id": pid,
        "name": data.name,
        "phone": data.phone,
        "phone_index": blind.index_of(session, data.phone),
        "timezone": data.timezone or settings.timezone,
        "language": data.language or "en",
        "sms_consent": data.consent,
        "consent_at": now if data.consent else None,
        "consent_source": actor if data.consent else None,
        "opted_out": False,
        "created_at": now,
    }


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
