"""Safety alerts: the part that may never fail.

An alert row, the patient's crisis-resources text and the on-call text are written in one
transaction, committed before anything is sent. If Redis is down they wait as queued rows
with a short lease and the dispatcher sends them when it can: delayed, never dropped. They go
out at any hour, whatever the consent or opt-out (the patient wrote to us), are never
skipped as stale, skip the rate limit and travel on the urgent queue.

One open alert per patient: ten crisis texts in five seconds are one alert with ten
triggers, one crisis text to the patient and one page, not ten. The next repeat tells on-call
how many more came. A new alert opens only after a person acknowledged the last one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.blind import index_of, matches
from worker.db.models import AlertTrigger, Message, Patient, SafetyAlert
from worker.enums import ALERT_SEVERITY, ALERT_WORDS, AlertCategory, MessageKind
from worker.language.screening import MODEL_RULE
from worker.safety.notices import notify_oncall, queue_safety_text
from worker.settings import Settings

log = logging.getLogger(__name__)

CRISIS_LANGUAGE = "crisis_language"


@dataclass(frozen=True)
class Trigger:
    """One reason to alert: a crisis text, or an answer (or silence) on a safety item."""

    source: str  # crisis_language, or questionnaire:item
    category: AlertCategory
    summary: str  # what on-call reads: clinical words, never the patient's own
    rule: str | None = None
    inbound_id: int | None = None
    run_id: int | None = None


def crisis_trigger(category: str | None, rule: str | None, inbound_id: int) -> Trigger:
    """A crisis text; a rule file older than the categories counts as ideation (alert anyway)."""
    kind = AlertCategory(category) if category in set(AlertCategory) else AlertCategory.IDEATION
    # The learned model reads a likely kind, not a sure one: on-call is told it is a reading.
    words = (
        f"possible {ALERT_WORDS[kind]} (the learned model; no rule matched)"
        if rule == MODEL_RULE
        else ALERT_WORDS[kind]
    )
    return Trigger(CRISIS_LANGUAGE, kind, f"crisis text, {words}", rule, inbound_id)


def raise_alert(
    session: Session,
    settings: Settings,
    trigger: Trigger,
    *,
    now: datetime,
    patient: Patient | None,
    reply_to: str | None,
) -> list[int]:
    """Open an alert, or join this patient's open one; the message ids to enqueue after commit.

    1. Lock the patient (or, for a number we do not know, that number), so that two texts
       arriving together in two web processes cannot open two alerts.
    2. Record the trigger. A trigger already stored (a Twilio retry of the same text) is not
       counted again and raises nothing.
    3. If an alert is open for them, the trigger joins it: counted, and the alert shows the
       most severe category so far. No new texts: the next repeat tells on-call.
    4. Otherwise open an alert and queue the patient's crisis text and the on-call text.
    """
    _lock_sender(session, patient, reply_to)
    trigger_id = _store_trigger(session, trigger, now)
    if trigger_id is None:
        return []
    alert = _open_alert_of(session, patient, reply_to)
    if alert is not None:
        _join(session, alert, trigger, trigger_id)
        return []
    return _open(session, settings, trigger, trigger_id, now, patient, reply_to)


def _lock_sender(session: Session, patient: Patient | None, reply_to: str | None) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer at a time: the trigger insert below serialises us
    if patient is not None:
        session.get(Patient, patient.id, with_for_update=True)
    elif reply_to:
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"alert:{reply_to}"})


def _store_trigger(session: Session, trigger: Trigger, now: datetime) -> int | None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return session.execute(
        insert(AlertTrigger)
        .values(
            alert_id=None,
            inbound_id=trigger.inbound_id,
            run_id=trigger.run_id,
            source=trigger.source,
            source_index=index_of(session, trigger.source),
            category=trigger.category,
            rule=trigger.rule,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["inbound_id", "source_index"])
        .returning(AlertTrigger.id)
    ).scalar()


def _open_alert_of(session: Session, patient: Patient | None, reply_to: str | None) -> SafetyAlert | None:
    query = select(SafetyAlert).where(SafetyAlert.acknowledged_at.is_(None))
    if patient is not None:
        query = query.where(SafetyAlert.patient_id == patient.id)
    elif reply_to:
        # A number we do not know: its alerts are the ones whose crisis text went to it.
        query = query.where(
            SafetyAlert.patient_id.is_(None),
            SafetyAlert.id.in_(
                select(Message.alert_id).where(
                    Message.kind == MessageKind.SAFETY, matches(session, Message.to_index, reply_to)
                )
            ),
        )
    else:
        return None
    return session.scalar(query.order_by(SafetyAlert.id.desc()).limit(1).with_for_update())


def _join(session: Session, alert: SafetyAlert, trigger: Trigger, trigger_id: int) -> None:
    session.get_one(AlertTrigger, trigger_id).alert_id = alert.id
    alert.more_texts += 1
    if _more_severe(trigger.category, alert.category):
        alert.category, alert.rule, alert.summary = trigger.category, trigger.rule, trigger.summary
    audit.record(
        session,
        "safety",
        "alert.join",
        patient_id=alert.patient_id,
        entity="alert",
        entity_id=alert.id,
        trigger_id=trigger_id,  # what raised it stays in the encrypted alert rows, not here
    )
    log_on_commit(
        session,
        log,
        logging.WARNING,
        "SAFETY ALERT joined by another trigger",
        alert_id=alert.id,
        category=trigger.category,
    )


def _more_severe(category: AlertCategory, than: str | None) -> bool:
    if than not in set(AlertCategory):
        return True
    return ALERT_SEVERITY.index(category) < ALERT_SEVERITY.index(AlertCategory(than))


def _open(
    session: Session,
    settings: Settings,
    trigger: Trigger,
    trigger_id: int,
    now: datetime,
    patient: Patient | None,
    reply_to: str | None,
) -> list[int]:
    alert = SafetyAlert(
        patient_id=patient.id if patient else None,
        inbound_id=trigger.inbound_id,
        run_id=trigger.run_id,
        source=trigger.source,
        category=trigger.category,
        rule=trigger.rule,
        summary=trigger.summary,
        created_at=now,
        notified_count=0,
        more_texts=0,
        escalation_level=0,
    )
    session.add(alert)
    session.flush()
    session.get_one(AlertTrigger, trigger_id).alert_id = alert.id
    audit.record(
        session,
        "safety",
        "alert.raise",
        patient_id=alert.patient_id,
        entity="alert",
        entity_id=alert.id,
        trigger_id=trigger_id,  # what raised it stays in the encrypted alert rows, not here
    )
    log_on_commit(
        session,
        log,
        logging.WARNING,
        "SAFETY ALERT raised",
        alert_id=alert.id,
        source=trigger.source,
        category=trigger.category,
    )
    ids = []
    if patient is not None or reply_to:
        ids.append(queue_safety_text(session, alert, now, to_number=None if patient else reply_to))
    return ids + notify_oncall(session, settings, alert, now)


def list_alerts(
    session: Session, *, open_only: bool = False, limit: int | None = None, offset: int = 0
) -> list[SafetyAlert]:
    """Newest first; `open_only`: those nobody acknowledged; `limit`/`offset`: one page."""
    query = _alerts(open_only).order_by(SafetyAlert.created_at.desc(), SafetyAlert.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_alerts(session: Session, *, open_only: bool = False) -> int:
    """How many alerts `list_alerts` pages through."""
    ids = _alerts(open_only).with_only_columns(SafetyAlert.id)
    return session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def _alerts(open_only: bool) -> Select[SafetyAlert]:
    query = select(SafetyAlert)
    return query.where(SafetyAlert.acknowledged_at.is_(None)) if open_only else query


def triggers_of(session: Session, alert_ids: list[int]) -> dict[int, list[AlertTrigger]]:
    """Alert id -> what raised and joined it, oldest first."""
    found: dict[int, list[AlertTrigger]] = {i: [] for i in alert_ids}
    for row in session.scalars(
        select(AlertTrigger).where(AlertTrigger.alert_id.in_(alert_ids)).order_by(AlertTrigger.id)
    ):
        assert row.alert_id is not None
        found[row.alert_id].append(row)
    return found
