"""Inbound texts, after they are stored (worker.inbound.store): processed by a task, or by
the sweep when the task was never queued, exactly once each; what each means is read by
worker.inbound.intents and acted on here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from worker.clinic.records import cancel_pending_for_patient, replan_patient
from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.models import Appointment, InboundMessage, Message, Patient
from worker.enums import ACTIVE_APPOINTMENT, AppointmentStatus, MessageKind, MessageStatus
from worker.inbound import attention, intents
from worker.inbound.intents import Context, Reading, read_reply
from worker.language.keywords import Keyword
from worker.lib.phones import normalise_sender
from worker.messages.outbox import queue_now
from worker.questionnaires.definitions import Catalogue, Item
from worker.questionnaires.runs import active_run, stop_on_opt_out, take_answer
from worker.safety.acks import ack_id, acknowledge_by_text, is_staff_number
from worker.settings import Settings

log = logging.getLogger(__name__)

# Kinds of inbound text, as `replies list` shows them.
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
CONFIRM, RESCHEDULE = "confirm", "reschedule"
UNMATCHED, UNKNOWN_SENDER = "unmatched", "unknown_sender"
QUESTION, CLARIFY = "question", "clarify"  # a question for staff; a reminder reply asked again
UNMATCHED_KINDS: tuple[str, ...] = (UNMATCHED, UNKNOWN_SENDER, QUESTION)
ACK, ACK_UNMATCHED = "ack", "ack_unmatched"  # on-call acknowledging an alert by text
# An ACK that matched no open alert is answered, and staff can still read it.
UNMATCHED_KINDS = (*UNMATCHED_KINDS, ACK_UNMATCHED)

_SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)


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
    reading = read_reply(inbound.body, _context(session, catalogue, patient, now))
    inbound.patient_id = patient.id if patient else None
    inbound.intent, inbound.intent_rule = reading.intent, reading.rule[:64]
    result = _act(session, settings, catalogue, inbound, patient, reading, now)
    inbound.kind = result.kind
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


def _context(session: Session, catalogue: Catalogue, patient: Patient | None, now: datetime) -> Context:
    """What the text can be an answer to: the waiting questionnaire item, a reminded visit."""
    if patient is None:
        return Context()
    run = active_run(session, patient.id)
    item: Item | None = None
    if run is not None and run.current_item:
        item = catalogue.get(run.questionnaire).item(run.current_item)
    reminded = next_reminded_appointment(session, patient.id, now) is not None
    return Context(item, reminded, patient.opted_out)


_KEYWORDS = {intents.OPT_OUT: Keyword.OPT_OUT, intents.OPT_IN: Keyword.OPT_IN, intents.HELP: Keyword.HELP}


def _act(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient | None,
    reading: Reading,
    now: datetime,
) -> Processed:
    """An ACK from on-call first; STOP, START and HELP, whoever sends them; then what a
    patient's text means (worker.inbound.intents)."""
    keyword = _KEYWORDS.get(reading.intent)
    natural = None if reading.rule == "keyword" else reading.rule
    sender = normalise_sender(inbound.from_number)
    is_ack, alert_id = ack_id(inbound.body)
    if is_ack and patient is None and sender is not None and is_staff_number(settings, sender):
        acked = acknowledge_by_text(session, settings, sender, alert_id, inbound.id, now)
        return Processed(ACK if acked.acknowledged is not None else ACK_UNMATCHED, acked.replies)
    if keyword == Keyword.OPT_OUT:
        return _opt_out(session, settings, catalogue, inbound, patient, now, natural)
    if keyword == Keyword.OPT_IN:
        return _opt_in(session, settings, inbound, patient, now, always=natural is not None)
    if keyword == Keyword.HELP:
        answer = _keyword_answer(session, settings, inbound, patient, "help", now, always=natural is not None)
        return Processed(HELP, answer)
    if patient is None:
        # Perhaps a patient writing from a new phone: listed for a person, no front-desk text
        # (anyone can text the number).
        attention.flag(session, inbound, attention.UNKNOWN_SENDER, None, lambda: None)
        return Processed(UNKNOWN_SENDER)
    return _patient_text(session, settings, catalogue, inbound, patient, reading, now)


def _patient_text(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient,
    reading: Reading,
    now: datetime,
) -> Processed:
    about_the_visit = reading.intent in (intents.CONFIRM, intents.RESCHEDULE)
    run = active_run(session, patient.id)
    if run is not None:
        # A valid answer wins over C/R; a visit reply that is not a valid answer is one.
        turn = take_answer(session, settings, catalogue, run, inbound, patient, now, fallback=about_the_visit)
        if turn is not None:
            flagged = _flag_question(session, settings, inbound, patient, reading, now)
            if turn.gave_up:  # the item stays unanswered: someone should know why
                flagged += _flag(session, settings, inbound, patient, attention.NO_ANSWER, None, now)
            return Processed(turn.kind, turn.replies + flagged)
    if about_the_visit:
        return _appointment_reply(session, settings, inbound, patient, reading, now)
    if reading.intent == intents.QUESTION:
        replies = _flag_question(session, settings, inbound, patient, reading, now)
        return Processed(QUESTION, replies + _question_ack(session, settings, inbound, patient, now))
    if reading.rule.endswith(".no_reminder"):  # "C" or "yes" with nothing to confirm
        return Processed(
            UNMATCHED, _flag(session, settings, inbound, patient, attention.NO_APPOINTMENT, None, now)
        )
    return _unclear(session, settings, inbound, patient, now)


def _flag_question(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient,
    reading: Reading,
    now: datetime,
) -> list[int]:
    if reading.intent != intents.QUESTION:
        return []
    return _flag(session, settings, inbound, patient, attention.QUESTION, None, now)


def _question_ack(
    session: Session, settings: Settings, inbound: InboundMessage, patient: Patient, now: datetime
) -> list[int]:
    """At most one a day: a chatty patient is not answered by a robot every time."""
    key = f"patient:{patient.id}:question_ack:{now:%Y-%m-%d}"
    if session.scalar(select(Message.id).where(Message.key == key)) is not None:
        return []
    return [
        queue_now(
            session, key=key, kind=MessageKind.REPLY, template="question_ack", now=now,
            lease=settings.claim_lease, patient_id=patient.id,
        ).id
    ]  # fmt: skip


def _unclear(
    session: Session, settings: Settings, inbound: InboundMessage, patient: Patient, now: datetime
) -> Processed:
    """A reply to a reminder that is neither yes nor no is asked once per appointment; after
    that, or with no reminder to answer, a person reads it."""
    appointment = next_reminded_appointment(session, patient.id, now)
    if appointment is not None:
        inbound.appointment_id = appointment.id
        key = f"appointment:{appointment.id}:clarify"
        if session.scalar(select(Message.id).where(Message.key == key)) is None:
            clarify = queue_now(
                session, key=key, kind=MessageKind.REPLY, template="reminder_clarify", now=now,
                lease=settings.claim_lease, patient_id=patient.id, appointment_id=appointment.id,
            )  # fmt: skip
            return Processed(CLARIFY, [clarify.id])
    return Processed(UNMATCHED, _flag(session, settings, inbound, patient, attention.UNCLEAR, None, now))


def _flag(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    reason: str,
    detail: str | None,
    now: datetime,
    template: str = "front_desk_attention",
) -> list[int]:
    """On the needs-attention list, and one text to the front desk (an id, nothing else)."""

    def notify() -> int | None:
        if not settings.front_desk_number:
            return None
        return _queue(
            session, settings, inbound, patient, template, MessageKind.STAFF_NOTICE, now,
            appointment_id=inbound.appointment_id, to_number=settings.front_desk_number,
        )  # fmt: skip

    return attention.flag(session, inbound, reason, detail, notify)


def _opt_out(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient | None,
    now: datetime,
    natural: str | None = None,
) -> Processed:
    """Opt the sender out. A wrong number is said in `opt_out_source` and the audit row, for
    staff to correct the record."""
    wrong = natural is not None and ("wrong_number" in natural or "equivocado" in natural)
    flagged: list[int] = []
    if wrong:  # staff correct the record: the patient may not have this phone any more
        flagged = _flag(session, settings, inbound, patient, attention.WRONG_NUMBER, None, now)
    if patient is not None:
        # Before the cancel: a check-in the run releases is cancelled too.
        flagged += stop_on_opt_out(session, settings, catalogue, patient, inbound.id, now)
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
    return Processed(OPT_OUT, answers + flagged)


def _opt_in(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient | None,
    now: datetime,
    *,
    always: bool = False,
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
    answer = _keyword_answer(session, settings, inbound, patient, "start_ack", now, always=always)
    return Processed(OPT_IN, answer)


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
    reading: Reading,
    now: datetime,
) -> Processed:
    confirm = reading.intent == intents.CONFIRM
    appointment = next_reminded_appointment(session, patient.id, now)
    if appointment is None:  # nothing to confirm or move: a person reads it
        reason = attention.NO_APPOINTMENT if confirm else attention.RESCHEDULE
        flagged = _flag(session, settings, inbound, patient, reason, reading.when, now)
        return Processed(UNMATCHED if confirm else RESCHEDULE, flagged)
    inbound.appointment_id = appointment.id
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
    if not confirm:  # "thursday" kept for the front desk, encrypted like the text itself
        replies += _flag(
            session,
            settings,
            inbound,
            patient,
            attention.RESCHEDULE,
            reading.when,
            now,
            "front_desk_reschedule",
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
