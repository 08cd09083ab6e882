"""Per-message bookkeeping for the chaos scenarios: what was planned, what Twilio got.

Every planned message goes to its own phone number, so the stand-in's record of accepted
requests counts, per message, how many texts the patient would have received.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.twilio_standin import StandIn
from worker.clinic import records
from worker.db.engine import transaction
from worker.db.models import Message, Patient, utcnow
from worker.enums import MessageStatus
from worker.settings import Settings

FINAL = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.SKIPPED,
    MessageStatus.CANCELLED,
    MessageStatus.AMBIGUOUS,
}
ACCEPTED = {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED}
EXPLAINED = {MessageStatus.FAILED, MessageStatus.SKIPPED, MessageStatus.CANCELLED, MessageStatus.AMBIGUOUS}


def phone(n: int) -> str:
    return f"+1202555{n:04d}"


def plan_batch(
    sessions: sessionmaker[Session], settings: Settings, count: int, due_at: datetime, first: int = 1000
) -> list[int]:
    """`count` patients with one appointment each whose single reminder falls due at `due_at`.

    Planned through the clinic functions (the same path as the CLI) in one transaction.
    """
    [offset] = settings.reminder_offsets
    now = utcnow()
    with transaction(sessions) as session:
        for n in range(first, first + count):
            data = records.PatientInput(name=f"Chaos {n}", phone=phone(n), timezone="UTC")
            patient = records.add_patient(session, settings, data, "chaos", now)
            records.add_appointment(session, settings, patient.id, due_at + offset, actor="chaos", now=now)
    with sessions() as session:
        ids = list(session.scalars(select(Message.id).where(Message.status == MessageStatus.PLANNED)))
    assert len(ids) == count, f"planned {len(ids)} of {count}"
    return ids


@dataclass
class Row:
    scenario: str
    planned: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    ambiguous: int = 0
    duplicates: int = 0
    lost: int = 0
    unexplained: int = 0  # the database and the stand-in disagree, or a final state has no reason

    @staticmethod
    def header() -> list[str]:
        return [f.name for f in fields(Row)]

    def cells(self) -> list[str]:
        return [str(getattr(self, name)) for name in self.header()]


def _numbers(sessions: sessionmaker[Session], ids: list[int]) -> dict[int, str]:
    """Message id -> the number it goes to (a patient's phone or the message's own number)."""
    with sessions() as session:
        rows = session.execute(
            select(Message.id, Message.to_number, Patient.phone)
            .outerjoin(Patient, Patient.id == Message.patient_id)
            .where(Message.id.in_(ids))
        )
        return {mid: to or ph for mid, to, ph in rows}


def unsettled(sessions: sessionmaker[Session], ids: list[int], due_by: datetime | None = None) -> int:
    """Messages not yet in a final state; planned rows count only if due by `due_by` (now)."""
    due_by = due_by or utcnow()
    with sessions() as session:
        rows = session.execute(select(Message.status, Message.due_at).where(Message.id.in_(ids)))
        return sum(
            1 for status, due in rows if status not in FINAL and not (status == "planned" and due > due_by)
        )


def wait_settled(sessions: sessionmaker[Session], ids: list[int], timeout: float) -> float:
    started = time.monotonic()
    # Rows falling due within the wait must be settled by its end. Counting only rows due
    # already let a batch planned half a second ahead look settled at the first look, and
    # a scenario then counted all of it lost without waiting at all.
    due_by = utcnow() + timedelta(seconds=timeout)
    while unsettled(sessions, ids, due_by):
        if time.monotonic() - started > timeout:
            break  # the tally reports what is still open as lost
        time.sleep(0.5)
    time.sleep(2.0)  # a duplicate would land now
    return time.monotonic() - started


def tally(scenario: str, sessions: sessionmaker[Session], standin: StandIn, ids: list[int]) -> Row:
    """Count per message how many times Twilio accepted it, and what the database says."""
    numbers = _numbers(sessions, ids)
    accepted = Counter(a.to for a in standin.accepted)
    per_number = Counter(numbers.values())
    row = Row(scenario, planned=len(ids))
    now = utcnow()
    with sessions() as session:
        messages = list(session.scalars(select(Message).where(Message.id.in_(ids))))
    for message in messages:
        # Several messages to one number (the on-call phone) share its count evenly.
        got = accepted[numbers[message.id]] / per_number[numbers[message.id]]
        _classify(row, message, got, now)
    return row


def _classify(row: Row, message: Message, got: float, now: datetime) -> None:
    status = MessageStatus(message.status)
    if got > 1:
        row.duplicates += 1
    if status in ACCEPTED:
        row.sent += 1
        row.unexplained += got < 1
    elif status in EXPLAINED:
        setattr(row, str(status), getattr(row, str(status)) + 1)
        # Only an ambiguous send may have reached Twilio; the others must not have.
        row.unexplained += (status != MessageStatus.AMBIGUOUS and got > 0) or not message.reason
    elif status == MessageStatus.PLANNED and message.due_at > now + timedelta(seconds=1):
        row.planned -= 1  # moved to a later time (rescheduled): not due, not part of this count
    else:
        row.lost += 1
