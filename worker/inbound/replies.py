"""Inbound texts: stored raw first, processed afterwards (by a task, or by the sweep when the
task was never queued), exactly once each."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from worker.clinic.records import cancel_pending_for_patient, replan_patient
from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.models import Appointment, InboundMessage, Message, Patient
from worker.enums import ACTIVE_APPOINTMENT, AppointmentStatus, MessageKind, MessageStatus
from worker.language import opt_out
from worker.language.keywords import Keyword, classify
from worker.lib.phones import normalise_sender
from worker.messages.outbox import queue_now
from worker.questionnaires.definitions import Catalogue
from worker.questionnaires.runs import active_run, stop_active, take_answer
from worker.safety.acks import ack_id, acknowledge_by_text, is_staff_number
from worker.settings import Settings

log = logging.getLogger(__name__)

# Kinds of inbound text, as `replies list` shows them.
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
CONFIRM, RESCHEDULE = "confirm", "reschedule"
UNMATCHED, UNKNOWN_SENDER = "unmatched", "unknown_sender"
UNMATCHED_KINDS: tuple[str, ...] = (UNMATCHED, UNKNOWN_SENDER)
ACK, ACK_UNMATCHED = "ack", "ack_unmatched"  # on-call acknowledging an alert by text
# An ACK that matched no open alert is answered, and staff can still read it.
UNMATCHED_KINDS = (*UNMATCHED_KINDS, ACK_UNMATCHED)

_SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)


def store_inbound(
    session: Session, form: Mapping[str, Sequence[str]], source: str, now: datetime
) -> int | None:
    """Insert the raw message unless its MessageSid is already stored; its id if it was new."""
    return store_inbound_many(session, [form], source, now).get(form["MessageSid"][-1])


def store_inbound_many(
    session: Session, forms: Sequence[Mapping[str, Sequence[str]]], source: str, now: datetime
) -> dict[str, int]:
    """Insert each raw message whose MessageSid is not stored yet, in one statement.

    Returns {MessageSid: id} for the rows this call inserted; a SID already stored (a
    Twilio retry), or repeated within `forms`, is inserted once and only the first time.
    """
    rows: dict[str, dict[str, object]] = {}
    for form in forms:
        row = _inbound_row(form, source, now)
        rows.setdefault(str(row["message_sid"]), row)
    statement = _insert_new_inbound(session.get_bind().dialect.name)
    # A Core insert on the session's connection: the webhook's hot path needs no ORM
    # bookkeeping. RETURNING, not rowcount: psycopg reports -1 for INSERT ... DO NOTHING,
    # and SQLAlchemy sends many rows as one multi-row INSERT ("insertmanyvalues"). In SID
    # order: two web processes inserting the same retried SIDs wait for each other in the
    # same order, so they cannot deadlock.
    result = session.connection().execute(statement, [rows[sid] for sid in sorted(rows)])
    return {sid: id_ for id_, sid in result.all()}


@functools.cache
def _insert_new_inbound(dialect: str) -> ReturningInsert[int, str]:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, InboundMessage.__table__)
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(table.c.id, table.c.message_sid)
    )


def _inbound_row(form: Mapping[str, Sequence[str]], source: str, now: datetime) -> dict[str, object]:
    values = {k: v[-1] for k, v in form.items() if v}
    return {
        "message_sid": values["MessageSid"],
        "account_sid": values.get("AccountSid", ""),
        "from_number": values.get("From", ""),
        "to_number": values.get("To", ""),
        "body": values.get("Body", ""),
        "num_media": _int(values.get("NumMedia", "0")),
        "params": {k: list(v) for k, v in form.items() if k != "Body"},
        "source": source,
        "received_at": now,
    }


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def inbound_ids(session: Session, message_sids: Sequence[str]) -> dict[str, int]:
    """{MessageSid: id} for those of these SIDs that are stored."""
    rows = session.execute(
        select(InboundMessage.message_sid, InboundMessage.id).where(
            InboundMessage.message_sid.in_(set(message_sids))
        )
    )
    return {sid: id_ for sid, id_ in rows}


def unprocessed(session: Session, older_than: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.processed_at.is_(None), InboundMessage.received_at <= older_than)
            .order_by(InboundMessage.received_at)
            .limit(limit)
        )
    )


@dataclass
class Processed:
    kind: str
    replies: list[int] = field(default_factory=list)  # outbound rows to enqueue after commit


def process_inbound(
    session: Session, settings: Settings, catalogue: Catalogue, inbound_id: int, now: datetime
) -> Processed | None:
    """Act on one stored text, in the caller's transaction. None if it was already processed.

    The claim (processed_at set only where it is still empty) makes a second run, from the
    sweep or a redelivered task, a no-op; a failure rolls the claim back with everything else.
    """
    claimed = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.processed_at.is_(None))
        .values(processed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    inbound = session.get_one(InboundMessage, inbound_id)
    sender = normalise_sender(inbound.from_number)
    patient = session.scalar(select(Patient).where(Patient.phone == sender)) if sender else None
    keyword = classify(inbound.body)
    # Said in the patient's own words ("please stop", "no me manden más mensajes"): the same
    # opt-out, which Twilio's own keyword handling does not see or answer.
    natural = opt_out.read(inbound.body) if keyword is None else None
    if natural is not None:
        keyword = Keyword.OPT_OUT
    result = _act(session, settings, catalogue, inbound, patient, keyword, now, natural)
    inbound.kind = result.kind
    inbound.patient_id = patient.id if patient else None
    audit.record(
        session,
        "sms",
        f"reply.{result.kind}",
        patient_id=inbound.patient_id,
        entity="inbound",
        entity_id=inbound.id,
    )
    log_on_commit(session, log, logging.INFO, "reply processed", inbound_id=inbound.id, kind=result.kind)
    return result


def _act(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient | None,
    keyword: Keyword | None,
    now: datetime,
    natural: str | None = None,
) -> Processed:
    """An ACK from on-call first; STOP, START and HELP, whoever sends them; then what a
    patient's text means. `natural` is the rule that read an opt-out in the patient's words."""
    sender = normalise_sender(inbound.from_number)
    is_ack, alert_id = ack_id(inbound.body)
    if is_ack and patient is None and sender is not None and is_staff_number(settings, sender):
        acked = acknowledge_by_text(session, settings, sender, alert_id, inbound.id, now)
        return Processed(ACK if acked.acknowledged is not None else ACK_UNMATCHED, acked.replies)
    if keyword == Keyword.OPT_OUT:
        return _opt_out(session, settings, inbound, patient, now, natural)
    if keyword == Keyword.OPT_IN or (keyword == Keyword.YES and patient is not None and patient.opted_out):
        return _opt_in(session, settings, inbound, patient, now)
    if keyword == Keyword.HELP:
        return Processed(HELP, _keyword_answer(session, settings, inbound, patient, "help", now))
    if patient is None:
        return Processed(UNKNOWN_SENDER)
    return _patient_text(session, settings, catalogue, inbound, patient, keyword, now)


def _patient_text(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient,
    keyword: Keyword | None,
    now: datetime,
) -> Processed:
    appointment_words = keyword in (Keyword.CONFIRM, Keyword.RESCHEDULE)
    run = active_run(session, patient.id)
    if run is not None:
        # A valid answer wins over C/R; C or R that is not a valid answer is an appointment reply.
        turn = take_answer(
            session, settings, catalogue, run, inbound, patient, now, fallback=appointment_words
        )
        if turn is not None:
            return Processed(turn.kind, turn.replies)
    if keyword is not None and appointment_words:
        return _appointment_reply(session, settings, inbound, patient, keyword, now)
    return Processed(UNMATCHED)


def _opt_out(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    now: datetime,
    natural: str | None = None,
) -> Processed:
    """Opt the sender out. A wrong number is said in `opt_out_source` and the audit row, for
    staff to correct the record."""
    wrong = natural is not None and opt_out.wrong_number(inbound.body)
    if patient is not None:
        stop_active(session, patient.id, now)  # before the cancel: a check-in it releases is cancelled too
        if not patient.opted_out:
            source = "sms: wrong number" if wrong else "sms"
            patient.opted_out, patient.opted_out_at, patient.opt_out_source = True, now, source
            audit.record(
                session,
                "sms",
                "patient.opt_out",
                patient_id=patient.id,
                entity="inbound",
                entity_id=inbound.id,
                rule=natural or "keyword",
                wrong_number=wrong,
            )
        cancel_pending_for_patient(session, patient.id, "patient opted out by text")
    # Twilio answers only its own keywords; an opt-out in other words is confirmed here always.
    answers = _keyword_answer(
        session, settings, inbound, patient, "stop_ack", now, always=natural is not None
    )
    return Processed(OPT_OUT, answers)


def _opt_in(
    session: Session, settings: Settings, inbound: InboundMessage, patient: Patient | None, now: datetime
) -> Processed:
    if patient is None:
        return Processed(UNKNOWN_SENDER)
    patient.opted_out, patient.opted_out_at, patient.opt_out_source = False, None, None
    # Texting START is express consent to receive texts again.
    patient.sms_consent, patient.consent_at, patient.consent_source = True, now, "sms"
    replan_patient(session, settings, patient.id, now)
    audit.record(
        session, "sms", "patient.opt_in", patient_id=patient.id, entity="inbound", entity_id=inbound.id
    )
    return Processed(OPT_IN, _keyword_answer(session, settings, inbound, patient, "start_ack", now))


def next_reminded_appointment(session: Session, patient_id: int, now: datetime) -> Appointment | None:
    """The soonest upcoming active appointment the patient has been reminded of."""
    reminded = exists().where(Message.appointment_id == Appointment.id, Message.status.in_(_SENT))
    return session.scalar(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(ACTIVE_APPOINTMENT),
            Appointment.start_at > now,
            reminded,
        )
        .order_by(Appointment.start_at)
        .limit(1)
        .with_for_update()
    )


def _appointment_reply(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient,
    keyword: Keyword,
    now: datetime,
) -> Processed:
    appointment = next_reminded_appointment(session, patient.id, now)
    if appointment is None:
        return Processed(UNMATCHED)  # nothing to confirm: staff read it
    inbound.appointment_id = appointment.id
    confirm = keyword == Keyword.CONFIRM
    appointment.status = AppointmentStatus.CONFIRMED if confirm else AppointmentStatus.RESCHEDULE_REQUESTED
    appointment.updated_at = now
    audit.record(
        session,
        "sms",
        f"appointment.{'confirm' if confirm else 'reschedule_request'}",
        patient_id=patient.id,
        entity="appointment",
        entity_id=appointment.id,
    )
    replies = [
        _queue(
            session,
            settings,
            inbound,
            patient,
            "confirm_ack" if confirm else "reschedule_ack",
            MessageKind.REPLY,
            now,
            appointment_id=appointment.id,
        )
    ]
    if not confirm and settings.front_desk_number:
        replies.append(
            _queue(
                session,
                settings,
                inbound,
                patient,
                "front_desk_reschedule",
                MessageKind.STAFF_NOTICE,
                now,
                appointment_id=appointment.id,
                to_number=settings.front_desk_number,
            )
        )
    return Processed(CONFIRM if confirm else RESCHEDULE, replies)


def _keyword_answer(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    template: str,
    now: datetime,
    *,
    always: bool = False,
) -> list[int]:
    if not settings.keyword_replies and not always:
        return []  # Twilio Advanced Opt-Out answers these itself on this account
    to_number = None if patient else normalise_sender(inbound.from_number)
    if patient is None and to_number is None:
        return []  # a short code or alphanumeric sender: nothing to answer
    return [
        _queue(
            session, settings, inbound, patient, template, MessageKind.KEYWORD_REPLY, now, to_number=to_number
        )
    ]


def _queue(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    template: str,
    kind: MessageKind,
    now: datetime,
    *,
    appointment_id: int | None = None,
    to_number: str | None = None,
) -> int:
    """An answer to the patient's text: it goes straight to a worker after commit."""
    return queue_now(
        session,
        key=f"inbound:{inbound.id}:{template}",
        kind=kind,
        template=template,
        now=now,
        lease=settings.claim_lease,
        appointment_id=appointment_id,
        patient_id=patient.id if patient else None,
        to_number=to_number,
    ).id
