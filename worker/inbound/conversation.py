"""A patient's text that is not STOP, START or HELP: an answer to the waiting question, a
reply about the visit, a question, or something unclear. Each is handled or put in front
of a person (worker.inbound.attention); none is dropped.

In order:
1. A questionnaire waits: a valid answer is taken (and a reschedule or question written
   with it is listed too); an exact C or R that is not an answer is about the visit; on a
   safety item nothing else leaves the question waiting (it is read fail-safe).
2. A text that raised a crisis alert at the webhook gets nothing more from a machine (a
   valid answer in it is still taken).
3. Confirm or reschedule the next reminded visit.
4. A question: listed, and thanked at most once a day.
5. "C" with nothing to confirm, "running late": listed. "Thanks": nothing to do.
6. Anything else: one clarification per reminded visit, then listed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.models import AlertTrigger, Appointment, InboundMessage, Patient, QuestionnaireRun
from worker.enums import AppointmentStatus, MessageKind
from worker.inbound import attention, intents
from worker.inbound.answering import Processed, flag, next_reminded_appointment, queue_answer, queue_once
from worker.inbound.intents import Reading
from worker.language import intents as visit_words
from worker.questionnaires.definitions import Catalogue, Item
from worker.questionnaires.runs import current_item, take_answer
from worker.settings import Settings

CONFIRM, RESCHEDULE, UNMATCHED = "confirm", "reschedule", "unmatched"
QUESTION, CLARIFY, THANKS, CRISIS = "question", "clarify", "thanks", "crisis"
EXACT_VISIT_RULES = ("keyword", "letter")  # C, R, "C!", "R, out of town": never an answer's words
_SETTLED = (AppointmentStatus.CONFIRMED, AppointmentStatus.RESCHEDULE_REQUESTED)


def patient_text(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    inbound: InboundMessage,
    patient: Patient,
    run: QuestionnaireRun | None,
    reading: Reading,
    now: datetime,
) -> Processed:
    alerted = _raised_an_alert(session, inbound.id)
    if run is not None and (not alerted or reading.intent == intents.ANSWER):
        answered = _in_questionnaire(session, settings, catalogue, run, inbound, patient, reading, now)
        if answered is not None:
            return answered
    if alerted:
        # On-call has it and the patient has the 988 text: no "sorry, we did not understand",
        # no question asked again, no change to the visit by machine after "me voy a matar".
        return Processed(CRISIS)
    if reading.intent in (intents.CONFIRM, intents.RESCHEDULE):
        return _visit_reply(session, settings, inbound, patient, reading, now)
    if reading.intent == intents.QUESTION:
        listed = flag(session, settings, inbound, patient, attention.QUESTION, None, now)
        thanks = queue_once(
            session, settings, f"patient:{patient.id}:question_ack:{now:%Y-%m-%d}", "question_ack", now,
            patient_id=patient.id,
        )  # fmt: skip
        return Processed(QUESTION, listed + ([thanks] if thanks else []))
    return _not_understood(session, settings, inbound, patient, reading, now)


def _raised_an_alert(session: Session, inbound_id: int) -> bool:
    """Screening at the webhook found crisis language in this text (worker.inbound.screening)."""
    return (
        session.scalar(select(AlertTrigger.id).where(AlertTrigger.inbound_id == inbound_id).limit(1))
        is not None
    )


def _in_questionnaire(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    run: QuestionnaireRun,
    inbound: InboundMessage,
    patient: Patient,
    reading: Reading,
    now: datetime,
) -> Processed | None:
    item = current_item(catalogue, run)
    if item is None:
        return None  # the questionnaire left the configuration: read the text as any other
    about_the_visit = reading.intent in (intents.CONFIRM, intents.RESCHEDULE)
    if item.is_safety and reading.rule not in EXACT_VISIT_RULES:
        about_the_visit = False  # "I can't go on" on item 9 is read fail-safe, not as a visit reply
    turn = take_answer(session, settings, catalogue, run, inbound, patient, now, fallback=about_the_visit)
    if turn is None:
        return None
    listed: list[int] = []
    if reading.intent == intents.QUESTION:
        listed += flag(session, settings, inbound, patient, attention.QUESTION, None, now)
    elif turn.kind == "answer":
        listed += _said_with_the_answer(session, settings, inbound, patient, item, now)
    if turn.gave_up:  # the item stays unanswered: someone should know why
        listed += flag(session, settings, inbound, patient, attention.NO_ANSWER, None, now)
    return Processed(turn.kind, turn.replies + listed)


def _said_with_the_answer(
    session: Session, settings: Settings, inbound: InboundMessage, patient: Patient, item: Item, now: datetime
) -> list[int]:
    """ "2 but I need to reschedule", a question as a check-in note: the answer is taken and
    the rest is listed for a person (the visit itself is not moved on such words)."""
    found = visit_words.read(inbound.body)
    if found.intent == visit_words.RESCHEDULE and found.rule not in EXACT_VISIT_RULES:
        return flag(session, settings, inbound, patient, attention.RESCHEDULE, found.when, now)
    asks = found.intent == visit_words.QUESTION and (item.type == "text" or found.rule != "en.question.mark")
    return flag(session, settings, inbound, patient, attention.QUESTION, None, now) if asks else []


def _visit_reply(
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
        return Processed(
            UNMATCHED if confirm else RESCHEDULE,
            flag(session, settings, inbound, patient, reason, reading.when, now),
        )
    inbound.appointment_id = appointment.id
    natural = reading.rule not in EXACT_VISIT_RULES
    if confirm and natural and appointment.status == AppointmentStatus.RESCHEDULE_REQUESTED:
        # "ok thanks" after "we will contact you": not a change of mind a machine should act on.
        listed = flag(session, settings, inbound, patient, attention.CONFIRM_AFTER_RESCHEDULE, None, now)
        return Processed(UNMATCHED, listed)
    return _set_status(session, settings, inbound, patient, appointment, reading, now)


def _set_status(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient,
    appointment: Appointment,
    reading: Reading,
    now: datetime,
) -> Processed:
    confirm = reading.intent == intents.CONFIRM
    appointment.status = AppointmentStatus.CONFIRMED if confirm else AppointmentStatus.RESCHEDULE_REQUESTED
    appointment.updated_at = now
    audit.record(
        session, "sms", f"appointment.{'confirm' if confirm else 'reschedule_request'}",
        patient_id=patient.id, entity="appointment", entity_id=appointment.id,
    )  # fmt: skip
    template = "confirm_ack" if confirm else "reschedule_ack"
    replies = [
        queue_answer(
            session,
            settings,
            inbound,
            patient,
            template,
            MessageKind.REPLY,
            now,
            appointment_id=appointment.id,
        )
    ]
    if not confirm:  # "thursday" kept for the front desk, encrypted like the text itself
        replies += flag(
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


def _not_understood(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    patient: Patient,
    reading: Reading,
    now: datetime,
) -> Processed:
    """Thanks need nothing; "C" with nothing to confirm and "running late" go to a person; a
    reply to a reminder that says neither yes nor no is asked once per visit, then listed."""
    if reading.rule.endswith(".no_reminder"):
        return Processed(
            UNMATCHED, flag(session, settings, inbound, patient, attention.NO_APPOINTMENT, None, now)
        )
    if reading.rule == visit_words.COURTESY:
        return Processed(THANKS)
    appointment = next_reminded_appointment(session, patient.id, now)
    if appointment is not None:
        inbound.appointment_id = appointment.id
    if reading.rule == visit_words.LATE:
        return Processed(UNMATCHED, flag(session, settings, inbound, patient, attention.LATE, None, now))
    if appointment is not None and appointment.status not in _SETTLED:
        clarify = queue_once(
            session, settings, f"appointment:{appointment.id}:clarify", "reminder_clarify", now,
            patient_id=patient.id, appointment_id=appointment.id,
        )  # fmt: skip
        if clarify is not None:
            # Listed as well, without a front-desk text: "I am in the hospital" must reach a
            # person even if the patient never answers the clarification.
            attention.flag(session, inbound, attention.UNCLEAR_ASKED, None, lambda: None)
            return Processed(CLARIFY, [clarify])
    return Processed(UNMATCHED, flag(session, settings, inbound, patient, attention.UNCLEAR, None, now))
