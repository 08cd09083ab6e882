"""Tables. Every time is stored in UTC; every planned outbound SMS is one row with a unique key."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from worker.db.cipher import cipher_of
from worker.enums import AppointmentStatus, MessageKind, MessageStatus, RunStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, UTC in the database on SQLite and PostgreSQL alike.

    SQLite has no time zone type: values are stored as naive UTC text, which sorts and
    compares correctly, and come back aware so no naive datetime leaks into the code.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token under the cipher its engine carries (see worker.db.cipher).

    Tokens differ each time the same value is written, so an encrypted column can be neither
    searched, sorted nor unique in SQL: what must be looked up has a blind index beside it.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).decrypt(value)


class EncryptedInt(TypeDecorator[int]):
    """An integer (an answer's value, a score) stored as an encrypted token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).encrypt(str(int(value)))

    def process_result_value(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else int(cipher_of(dialect).decrypt(value))


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object (a stored webhook form) stored as an encrypted token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        loaded: dict[str, Any] = json.loads(cipher_of(dialect).decrypt(value))
        return loaded


# A blind index: HMAC-SHA256 in hex (worker.lib.crypto.Cipher.index).
INDEX_LENGTH = 64


E = TypeVar("E", bound=enum.StrEnum)


class ValueOf(TypeDecorator[E]):
    """A StrEnum stored as its value in a plain string column, read back as the member.

    Plain strings, not database enum types: adding a member needs no migration. Writing a
    value that is not a member fails in Python, before it reaches the database.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("phone_index", name="uq_patients_phone_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(EncryptedText)
    phone: Mapped[str] = mapped_column(EncryptedText)  # E.164
    # The phone's blind index: how a texting number finds its patient, and why two patients
    # cannot share a number. Set from `phone` on every write (see worker.db.blind).
    phone_index: Mapped[str] = mapped_column(String(INDEX_LENGTH))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    consent_source: Mapped[str | None] = mapped_column(String(64))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    opt_out_source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    appointments: Mapped[list[Appointment]] = relationship(back_populates="patient")


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    start_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    kind: Mapped[str] = mapped_column(EncryptedText, default="session")  # "ketamine-infusion" is PHI
    status: Mapped[AppointmentStatus] = mapped_column(
        ValueOf(AppointmentStatus, 32), default=AppointmentStatus.SCHEDULED
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="appointments")


class Message(Base):
    """One planned outbound SMS. `key` is unique: the same reminder is never planned twice."""

    __tablename__ = "messages"
    __table_args__ = (
        # The dispatcher's claim walks this index: due rows of one status, oldest first.
        Index("ix_messages_status_due", "status", "due_at"),
        Index("ix_messages_patient_status", "patient_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    # None only for answers to numbers that are not patients (STOP/HELP from strangers)
    # and notices to staff; then to_number says where it goes.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    to_number: Mapped[str | None] = mapped_column(EncryptedText)
    to_index: Mapped[str | None] = mapped_column(String(INDEX_LENGTH), index=True)  # blind index of to_number
    run_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_runs.id", name="fk_messages_run_id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("safety_alerts.id", name="fk_messages_alert_id"))
    kind: Mapped[MessageKind] = mapped_column(ValueOf(MessageKind, 32))
    template: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    # When quiet hours moved it: the time it was first due, and why it moved.
    original_due_at: Mapped[datetime | None]
    adjust_reason: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[MessageStatus] = mapped_column(ValueOf(MessageStatus, 16), default=MessageStatus.PLANNED)
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    call_started_at: Mapped[datetime | None]  # set just before the provider call, per attempt
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    queued_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Append-only record of who did what. `detail` holds ids and codes, never PHI."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    entity: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    # Who ran the process, beside the actor it claims (`--by` is only what the operator typed).
    os_user: Mapped[str | None] = mapped_column(String(100))
    # The hash chain (worker.db.audit): a changed, removed or inserted row breaks it.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    patient_links: Mapped[list[AuditPatient]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="AuditPatient.patient_id"
    )


class AuditPatient(Base):
    """A patient an audit row concerns, in an indexed form: `audit list --patient` finds it."""

    __tablename__ = "audit_patients"

    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"), primary_key=True)
    # No foreign key to patients: the trail outlives the rows it speaks about.
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    entry: Mapped[AuditEntry] = relationship(back_populates="patient_links")


class InboundMessage(Base):
    """A text a patient (or anyone) sent us, stored raw before the webhook answers."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index("ix_inbound_unprocessed", "processed_at", "received_at"),
        Index("ix_inbound_patient_received", "patient_id", "received_at"),
        Index("ix_inbound_attention", "attention", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)  # Twilio retries: dedupe
    account_sid: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(EncryptedText)
    to_number: Mapped[str] = mapped_column(EncryptedText)
    body: Mapped[str] = mapped_column(EncryptedText)  # what a patient wrote: encrypted at rest
    num_media: Mapped[int] = mapped_column(Integer, default=0)
    # The other form fields the worker uses (worker.inbound.store.KEPT_FIELDS), encrypted.
    params: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    source: Mapped[str] = mapped_column(String(16))  # webhook or reconcile
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    kind: Mapped[str | None] = mapped_column(String(32))
    intent: Mapped[str | None] = mapped_column(String(16))  # worker.inbound.intents.INTENTS
    intent_rule: Mapped[str | None] = mapped_column(String(64))  # the rule that read it
    # Why a person must read it (None: nobody needs to); off the list once resolved.
    attention: Mapped[str | None] = mapped_column(String(32))
    attention_detail: Mapped[str | None] = mapped_column(EncryptedText)  # "thursday": the patient's words
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(EncryptedText)


class StatusEvent(Base):
    """One status callback. (message_sid, status) is unique: a repeated callback is one row."""

    __tablename__ = "status_events"
    __table_args__ = (UniqueConstraint("message_sid", "status", name="uq_status_events_sid_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # webhook or reconcile
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionnaireRun(Base):
    """One patient's pass through one questionnaire. The conversation state lives here."""

    __tablename__ = "questionnaire_runs"
    __table_args__ = (Index("ix_runs_patient_status", "patient_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    questionnaire: Mapped[str] = mapped_column(String(64))
    status: Mapped[RunStatus] = mapped_column(ValueOf(RunStatus, 16))
    current_item: Mapped[str | None] = mapped_column(String(64))
    invalid_count: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int | None] = mapped_column(EncryptedInt)
    severity: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    last_prompt_at: Mapped[datetime | None]
    nudged_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Answer(Base):
    __tablename__ = "questionnaire_answers"
    __table_args__ = (UniqueConstraint("run_id", "item_id", name="uq_answers_run_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_runs.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[int | None] = mapped_column(EncryptedInt)  # choice, integer; yes/no as 1/0
    text: Mapped[str | None] = mapped_column(EncryptedText)  # free-text answers: encrypted at rest
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)  # SKIP, or no valid answer
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class SafetyAlert(Base):
    """A patient who may be in danger. Committed before any message about it is sent."""

    __tablename__ = "safety_alerts"
    __table_args__ = (
        UniqueConstraint("inbound_id", "source_index", name="uq_alerts_inbound_source"),
        Index("ix_alerts_open", "acknowledged_at", "last_notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_runs.id"))
    source: Mapped[str] = mapped_column(EncryptedText)  # crisis_language, or questionnaire:item
    source_index: Mapped[str] = mapped_column(
        String(INDEX_LENGTH)
    )  # blind index: one alert per text and source
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_count: Mapped[int] = mapped_column(Integer, default=0)
    last_notified_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(EncryptedText)
    # What on-call is told: the most severe trigger so far, in clinical words, never the
    # patient's own ("PHQ-9 item 9 = 2", "crisis text, plan or means"). Health data: encrypted.
    category: Mapped[str | None] = mapped_column(EncryptedText)
    rule: Mapped[str | None] = mapped_column(EncryptedText)
    summary: Mapped[str | None] = mapped_column(EncryptedText)
    more_texts: Mapped[int] = mapped_column(Integer, default=0)  # later triggers that joined it
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # backup numbers texted so far


class AlertTrigger(Base):
    """Each thing that raised or joined an alert: ten crisis texts give one alert, ten rows."""

    __tablename__ = "alert_triggers"
    __table_args__ = (
        UniqueConstraint("inbound_id", "source_index", name="uq_alert_triggers_inbound_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Written first (its unique key is what makes a retried text raise nothing), then linked.
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("safety_alerts.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_runs.id"))
    source: Mapped[str] = mapped_column(EncryptedText)
    source_index: Mapped[str] = mapped_column(String(INDEX_LENGTH))  # blind index of source
    category: Mapped[str] = mapped_column(EncryptedText)
    rule: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# (table, blind index column, the encrypted column it indexes): `keys rotate-index` walks these.
BLIND_INDEXES = (
    ("patients", "phone_index", "phone"),
    ("messages", "to_index", "to_number"),
    ("safety_alerts", "source_index", "source"),
    ("alert_triggers", "source_index", "source"),
)


# Blind indexes follow their values on every ORM write (worker.db.blind explains them). Core
# inserts of these tables (alert triggers) set the index themselves.
@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _index_phone(_mapper: Mapper[Patient], connection: Connection, target: Patient) -> None:
    target.phone_index = cipher_of(connection.dialect).index(target.phone)


@event.listens_for(Message, "before_insert")
@event.listens_for(Message, "before_update")
def _index_to_number(_mapper: Mapper[Message], connection: Connection, target: Message) -> None:
    target.to_index = cipher_of(connection.dialect).index(target.to_number) if target.to_number else None


@event.listens_for(SafetyAlert, "before_insert")
@event.listens_for(SafetyAlert, "before_update")
@event.listens_for(AlertTrigger, "before_insert")
@event.listens_for(AlertTrigger, "before_update")
def _index_source(
    _mapper: Mapper[SafetyAlert | AlertTrigger], connection: Connection, target: SafetyAlert | AlertTrigger
) -> None:
    target.source_index = cipher_of(connection.dialect).index(target.source)
