"""Inbound texts, after they are stored (worker.inbound.store): processed by a task, or by
the sweep when the task was never queued, exactly once each; what each means is read by
worker.inbound.intents and acted on here."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from worker.clinic.queries import patient_with_phone
from worker.clinic.records import cancel_pending_for_patient, replan_patient
from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.models import InboundMessage, Patient
from worker.enums import MessageKind, MessageStatus
from worker.inbound import attention, intents
from worker.inbound.answering import Processed, flag, next_reminded_appointment, queue_answer
from worker.inbound.conversation import patient_text
from worker.inbound.intents import Context, Reading, read_reply
from worker.language.keywords import Keyword
from worker.lib.phones import normalise_sender
from worker.questionnaires.definitions import Catalogue
from worker.questionnaires.runs import active_run, current_item, stop_on_opt_out, take_answer
from worker.safety.acks import ack_id, acknowledge_by_text, is_staff_number
from worker.settings import Settings

log = logging.getLogger(__name__)

# Kinds of inbound text, as `replies list` shows them.
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
CONFIRM, RESCHEDULE = "confirm", "reschedule"
UNMATCHED, UNKNOWN_SENDER = "unmatched", "unknown_sender"
QUESTION, CLARIFY, THANKS, CRISIS = "question", "clarify", "thanks", "crisis"  # worker.inbound.conversation
UNMATCHED_KINDS: tuple[str, ...] = (UNMATCHED, UNKNOWN_SENDER, QUESTION)
ACK, ACK_UNMATCHED = "ack", "ack_unmatched"  # on-call acknowledging an alert by text
# An ACK that matched no open alert is answered, and staff can still read it.
UNMATCHED_KINDS = (*UNMATCHED_KINDS, ACK_UNMATCHED)

_SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)


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
    patient = patient_with_phone(session, sender)
    reading = read_reply(inbound.body, _context(session, catalogue, patient, now))
    inbound.patient_id = patient.id if patient else None
    inbound.intent, inbound.intent_rule = reading.intent, reading.rule[:64]
    result = _act(session, settings, catalogue, inbound, patient, reading, now)
    inbound.kind, result.intent = result.kind, reading.intent
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
    item = current_item(catalogue, run) if run is not None else None
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
        return Processed(
            HELP, answer + _help_on_a_safety_item(session, settings, catalogue, inbound, patient, now)
        )
    if patient is None:  # perhaps a patient writing from a new phone: listed for a person
        return Processed(
            UNKNOWN_SENDER, flag(session, settings, inbound, None, attention.UNKNOWN_SENDER, None, now)
        )
    run = active_run(session, patient.id)
    return patient_text(session, settings, catalogue, inbound, patient, run, reading, now)


def _help_on_a_safety_item(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient | None,
    now: datetime,
) -> list[int]:
    """HELP while PHQ-9 item 9 waits: answered, and read fail-safe as the item's answer too
    (an alert, the question again) rather than leaving the item to a day of silence."""
    run = active_run(session, patient.id) if patient is not None else None
    item = current_item(catalogue, run) if run is not None else None
    if run is None or patient is None or item is None or not item.is_safety:
        return []
    turn = take_answer(session, settings, catalogue, run, inbound, patient, now, fallback=False)
    return turn.replies if turn is not None else []


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
        flagged = flag(session, settings, inbound, patient, attention.WRONG_NUMBER, None, now)
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
        queue_answer(
            session, settings, inbound, patient, template, MessageKind.KEYWORD_REPLY, now, to_number=to_number
        )
    ]
