"""The SMS conversation of a questionnaire, one question per text. State lives in the database.

Outbound texts of a run are message rows whose template points into the definition:
`phq9/start` (intro and first question), `phq9/q3`, `phq9/q3/reask`, `phq9/q3/nudge`,
`phq9/closing`. Answers to the patient's own text go out at once; nudges we start ourselves
wait out quiet hours like any planned message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.models import Answer, InboundMessage, Message, Patient, QuestionnaireRun
from worker.enums import MessageKind, MessageStatus, RunStatus
from worker.lib.errors import InputError
from worker.questionnaires.definitions import Catalogue, Item, Questionnaire, next_item
from worker.questionnaires.parsing import INVALID, read_answer
from worker.questionnaires.safety_answers import read_safety_answer
from worker.questionnaires.safety_items import MAX_SAFETY_REASKS, answer_trigger, unanswered_trigger
from worker.questionnaires.scoring import score
from worker.safety.alerts import raise_alert
from worker.settings import Settings

log = logging.getLogger(__name__)

MAX_REASKS = 2
WAIT_FOR_OTHER_RUN = timedelta(hours=1)


@dataclass
class Turn:
    """What one inbound text did to a run: texts to enqueue after commit."""

    kind: str
    replies: list[int] = field(default_factory=list)
    gave_up: bool = False  # no valid answer after the re-asks: the item was left unanswered


def active_run(session: Session, patient_id: int) -> QuestionnaireRun | None:
    return session.scalar(
        select(QuestionnaireRun).where(
            QuestionnaireRun.patient_id == patient_id, QuestionnaireRun.status == RunStatus.ACTIVE
        )
    )


def open_run(
    session: Session, catalogue: Catalogue, message: Message, patient: Patient, now: datetime
) -> QuestionnaireRun | None:
    """At send time of a check-in: start its run and point the text at the first question.
    None when another questionnaire is still active: this one waits its turn."""
    session.get(Patient, patient.id, with_for_update=True)  # one active run per patient
    if active_run(session, patient.id) is not None:
        return None
    questionnaire = catalogue.get(message.template.split("/")[0])
    first = next_item(questionnaire, None, {})
    run = QuestionnaireRun(
        patient_id=patient.id,
        appointment_id=message.appointment_id,
        questionnaire=questionnaire.id,
        status=RunStatus.ACTIVE,
        current_item=first.id if first else None,
        invalid_count=0,
        created_at=now,
        started_at=now,
        last_prompt_at=now,
    )
    session.add(run)
    session.flush()
    message.run_id, message.template = run.id, f"{questionnaire.id}/start"
    audit.record(
        session,
        "system",
        "questionnaire.start",
        patient_id=patient.id,
        entity="run",
        entity_id=run.id,
        questionnaire=questionnaire.id,
    )
    return run


def take_answer(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    run: QuestionnaireRun,
    inbound: InboundMessage,
    patient: Patient,
    now: datetime,
    *,
    fallback: bool,
) -> Turn | None:
    """Apply one text to the run. None when the text is not a valid answer and `fallback` says
    the caller has another meaning for it (C or R): then the run does not count it."""
    questionnaire = catalogue.get(run.questionnaire)
    item = questionnaire.item(run.current_item or "")
    if item.is_safety:
        return _take_safety_answer(
            session, settings, questionnaire, run, item, inbound, patient, now, fallback
        )
    reading = read_answer(item, inbound.body)
    value = reading.value
    if value is INVALID and fallback:
        return None
    if value is INVALID and run.invalid_count < MAX_REASKS:
        reask = _reask(session, settings, run, item, now, inbound.id, reading.ambiguous)
        return Turn("answer_invalid", [reask])
    _record(session, run, item, value, inbound, now)
    replies = _advance(session, settings, questionnaire, run, now, inbound.id)
    unread = value is INVALID
    return Turn("answer_invalid" if unread else "answer", replies, gave_up=unread)


def _reask(
    session: Session,
    settings: Settings,
    run: QuestionnaireRun,
    item: Item,
    now: datetime,
    inbound_id: int,
    ambiguous: str | None = None,
) -> int:
    """Ask again: with what was unclear ("reask/days") when the reply could mean two things."""
    run.invalid_count += 1
    run.last_prompt_at = now
    template = f"{run.questionnaire}/{item.id}/reask" + (f"/{ambiguous}" if ambiguous else "")
    return _queue(session, settings, run, template, MessageKind.QUESTION, now, inbound_id)


def _take_safety_answer(
    session: Session,
    settings: Settings,
    questionnaire: Questionnaire,
    run: QuestionnaireRun,
    item: Item,
    inbound: InboundMessage,
    patient: Patient,
    now: datetime,
    fallback: bool,
) -> Turn | None:
    """A safety item: the alert first (anything but a clear lowest answer), then the run."""
    reading = read_safety_answer(item, inbound.body)
    if reading.how == "unreadable" and fallback:
        return None  # C or R: an appointment reply; the question stays open
    trigger = answer_trigger(questionnaire, item, reading, run.id, inbound.id)
    urgent = (
        raise_alert(session, settings, trigger, now=now, patient=patient, reply_to=None) if trigger else []
    )
    if reading.value is None and run.invalid_count < MAX_SAFETY_REASKS:
        return Turn("answer_invalid", [*urgent, _reask(session, settings, run, item, now, inbound.id)])
    if reading.value is None:
        unanswered = unanswered_trigger(questionnaire, item, run.id, inbound.id, silent=False)
        urgent += raise_alert(session, settings, unanswered, now=now, patient=patient, reply_to=None)
    _record(session, run, item, reading.value, inbound, now)
    urgent += _advance(session, settings, questionnaire, run, now, inbound.id)
    unread = reading.value is None
    return Turn("answer_invalid" if unread else "answer", urgent, gave_up=unread)


def _record(
    session: Session,
    run: QuestionnaireRun,
    item: Item,
    value: Any,
    inbound: InboundMessage,
    now: datetime,
) -> None:
    unanswered = value is INVALID or value is None
    answer = Answer(
        run_id=run.id, item_id=item.id, skipped=unanswered, inbound_id=inbound.id, answered_at=now
    )
    if isinstance(value, bool):
        answer.value = int(value)
    elif isinstance(value, int):
        answer.value = value
    elif isinstance(value, str):
        answer.text = value
    session.add(answer)


def answers_of(session: Session, questionnaire: Questionnaire, run_id: int) -> dict[str, Any]:
    """Item id -> answer (int, bool or text); None for an item left unanswered."""
    values: dict[str, Any] = {}
    for row in session.scalars(select(Answer).where(Answer.run_id == run_id)):
        item = questionnaire.item(row.item_id)
        if row.skipped:
            values[row.item_id] = None
        elif item.type == "yes_no":
            values[row.item_id] = bool(row.value)
        else:
            values[row.item_id] = row.text if item.type == "text" else row.value
    return values


def _advance(
    session: Session,
    settings: Settings,
    questionnaire: Questionnaire,
    run: QuestionnaireRun,
    now: datetime,
    inbound_id: int | None,
) -> list[int]:
    session.flush()
    answers = answers_of(session, questionnaire, run.id)
    following = next_item(questionnaire, run.current_item, answers)
    run.invalid_count, run.last_prompt_at, run.nudged_at = 0, now, None
    if following is not None:
        run.current_item = following.id
        return [
            _queue(
                session,
                settings,
                run,
                f"{questionnaire.id}/{following.id}",
                MessageKind.QUESTION,
                now,
                inbound_id,
            )
        ]
    run.score = score(questionnaire, answers)
    run.severity = questionnaire.severity(run.score) if run.score is not None else None
    complete = all(answers.get(i.id) is not None for i in questionnaire.items if i.scored)
    finish(session, run, RunStatus.COMPLETED if complete else RunStatus.PARTIAL, now)
    return [
        _queue(session, settings, run, f"{questionnaire.id}/closing", MessageKind.QUESTION, now, inbound_id)
    ]


def finish(session: Session, run: QuestionnaireRun, status: RunStatus, now: datetime) -> None:
    """End the run; a check-in that was waiting for it goes out on the next dispatcher pass."""
    run.status, run.finished_at, run.current_item = status, now, None
    if status != RunStatus.COMPLETED:
        run.score = run.severity = None  # partial, expired and stopped runs are kept, not scored
    audit.record(
        session,
        "system",
        f"questionnaire.{status}",
        patient_id=run.patient_id,
        entity="run",
        entity_id=run.id,
    )
    session.execute(
        update(Message)
        .where(
            Message.patient_id == run.patient_id,
            Message.kind == MessageKind.CHECKIN,
            Message.status == MessageStatus.PLANNED,
            Message.adjust_reason == WAITING_REASON,
        )
        .values(due_at=now)
        .execution_options(synchronize_session=False)
    )


WAITING_REASON = "waiting for another questionnaire to finish"


def _queue(
    session: Session,
    settings: Settings,
    run: QuestionnaireRun,
    template: str,
    kind: MessageKind,
    now: datetime,
    inbound_id: int | None,
) -> int:
    planned = kind == MessageKind.NUDGE  # a nudge is ours to start: it waits out quiet hours like a reminder
    message = Message(
        key=f"run:{run.id}:{template}:{inbound_id or int(now.timestamp())}",
        appointment_id=run.appointment_id,
        patient_id=run.patient_id,
        run_id=run.id,
        kind=kind,
        template=template,
        due_at=now,
        attempts=0,
        status=MessageStatus.PLANNED if planned else MessageStatus.QUEUED,
        queued_at=None if planned else now,
        lease_until=None if planned else now + settings.claim_lease,
    )
    session.add(message)
    session.flush()
    return message.id


@dataclass
class Silences:
    """What one pass over silent runs did; `urgent`: safety texts to enqueue after commit."""

    nudged: int = 0
    expired: int = 0
    urgent: list[int] = field(default_factory=list)


def nudge_or_expire(session: Session, settings: Settings, catalogue: Catalogue, now: datetime) -> Silences:
    """One nudge after CLINIC_QUESTIONNAIRE_TIMEOUT without a reply; after another, expiry.

    A safety item is never asked a third time: a run silent on one that was already asked
    again expires without a nudge, and a run that expires on a safety item raises an alert.
    """
    cutoff = now - settings.questionnaire_timeout
    stale = session.scalars(
        select(QuestionnaireRun)
        .where(QuestionnaireRun.status == RunStatus.ACTIVE, QuestionnaireRun.last_prompt_at <= cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    done = Silences()
    for run in stale:
        questionnaire = catalogue.get(run.questionnaire)
        item = questionnaire.item(run.current_item) if run.current_item else None
        asked_twice = item is not None and item.is_safety and run.invalid_count >= MAX_SAFETY_REASKS
        if run.nudged_at is None and not asked_twice:
            run.nudged_at = run.last_prompt_at = now
            template = f"{run.questionnaire}/{run.current_item}/nudge"
            _queue(session, settings, run, template, MessageKind.NUDGE, now, None)
            done.nudged += 1
            continue
        if item is not None and item.is_safety:
            done.urgent += _silent_on_safety_item(session, settings, questionnaire, item, run, now)
        finish(session, run, RunStatus.EXPIRED, now)
        done.expired += 1
    return done


def _silent_on_safety_item(
    session: Session,
    settings: Settings,
    questionnaire: Questionnaire,
    item: Item,
    run: QuestionnaireRun,
    now: datetime,
) -> list[int]:
    patient = session.get_one(Patient, run.patient_id)
    trigger = unanswered_trigger(questionnaire, item, run.id, None, silent=True)
    return raise_alert(session, settings, trigger, now=now, patient=patient, reply_to=None)


def current_item(catalogue: Catalogue, run: QuestionnaireRun) -> Item | None:
    """The item the run waits on; None if it is gone from the configuration."""
    try:
        return catalogue.get(run.questionnaire).item(run.current_item or "")
    except (KeyError, InputError):
        return None


def stop_on_opt_out(
    session: Session,
    settings: Settings,
    catalogue: Catalogue,
    patient: Patient,
    inbound_id: int,
    now: datetime,
) -> list[int]:
    """End the run of a patient who opted out. Opting out when asked a safety item (PHQ-9
    item 9) leaves it unanswered: on-call is told, as for silence (fail-safe)."""
    run = active_run(session, patient.id)
    if run is None:
        return []
    # Looked up before the run ends; a questionnaire gone from the configuration still lets
    # the patient opt out.
    item = current_item(catalogue, run)
    finish(session, run, RunStatus.STOPPED, now)
    if item is None or not item.is_safety:
        return []
    questionnaire = catalogue.get(run.questionnaire)
    trigger = unanswered_trigger(questionnaire, item, run.id, inbound_id, silent=False, why="(opted out)")
    return raise_alert(session, settings, trigger, now=now, patient=patient, reply_to=None)


def stop_active(session: Session, patient_id: int, now: datetime) -> None:
    run = active_run(session, patient_id)
    if run is not None:
        finish(session, run, RunStatus.STOPPED, now)
