"""Who is told about an alert, and when, until a person acknowledges it.

On-call (CLINIC_ONCALL_NUMBER) is texted at once. Every CLINIC_ALERT_ESCALATE_MINUTES the
alert stays open, one more backup number (CLINIC_ONCALL_BACKUP_NUMBERS, in order) is texted.
Every CLINIC_ALERT_REPEAT_MINUTES, everyone told so far is texted again. This goes on at any
hour until the alert is acknowledged: an automated crisis reply is not care (JMIR Mental
Health 2024, e58409); a person must be reached and must close the loop.

The texts carry the alert id, where it came from and its category, never the patient's
name, number or words: a phone's lock screen is not a private place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.aftercommit import log_on_commit
from worker.db.models import Message, SafetyAlert
from worker.enums import MessageKind
from worker.messages.outbox import queue_now
from worker.retries import alert_escalation_level, alert_repeat_cutoff, urgent_lease
from worker.settings import Settings

log = logging.getLogger(__name__)

# Templates of texts to staff about an alert: all stop once it is acknowledged.
FIRST_NOTICE, REPEAT_NOTICE, BACKUP_NOTICE = "safety_oncall", "safety_oncall_repeat", "safety_backup"
NOTICES = frozenset({FIRST_NOTICE, REPEAT_NOTICE, BACKUP_NOTICE})


def queue_safety_text(session: Session, alert: SafetyAlert, now: datetime, *, to_number: str | None) -> int:
    """The patient's crisis-resources text: once per alert, whatever joins it later."""
    return _queue(session, f"alert:{alert.id}:patient", MessageKind.SAFETY, "safety", alert, now, to_number)


def notify_oncall(session: Session, settings: Settings, alert: SafetyAlert, now: datetime) -> list[int]:
    """The first round: on-call now (backups follow by escalation)."""
    alert.notified_count += 1
    alert.last_notified_at = now
    if not settings.oncall_number:
        if not settings.oncall_backup_numbers:
            return _nobody(alert)
        # No primary: the first backup is on-call.
        alert.escalation_level = max(alert.escalation_level, 1)
        return [_to_backup(session, settings, alert, 0, now)]
    number = settings.oncall_number
    return [
        _queue(
            session, f"alert:{alert.id}:oncall:1", MessageKind.SAFETY_NOTICE, FIRST_NOTICE, alert, now, number
        )
    ]


def repeat_and_escalate(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Every minute from beat: escalate and repeat every open alert that is due.

    1. Lock the open alerts (another beat tick or an ACK holding one skips it this time).
    2. For each, text every backup number its age has reached and nobody has texted yet.
    3. If nobody was texted about it for CLINIC_ALERT_REPEAT_MINUTES, text everyone reached
       so far again: on-call and the backups, with the count of texts that joined it.
    """
    alerts = session.scalars(
        select(SafetyAlert)
        .where(SafetyAlert.acknowledged_at.is_(None))
        .order_by(SafetyAlert.id)
        .with_for_update(skip_locked=True)
    ).all()
    ids: list[int] = []
    for alert in alerts:
        reached_before = alert.escalation_level
        ids += _escalate(session, settings, alert, now)
        last = alert.last_notified_at
        if last is None or last <= alert_repeat_cutoff(now, settings.alert_repeat_minutes):
            # A backup reached just now has its first text already: it is not repeated.
            ids += _repeat(session, settings, alert, now, backups=reached_before)
    return ids


def _escalate(session: Session, settings: Settings, alert: SafetyAlert, now: datetime) -> list[int]:
    backups = settings.oncall_backup_numbers
    due = alert_escalation_level(alert.created_at, now, settings.alert_escalate_minutes, len(backups))
    ids = []
    while alert.escalation_level < due:
        ids.append(_to_backup(session, settings, alert, alert.escalation_level, now))
        alert.escalation_level += 1
        log_on_commit(
            session,
            log,
            logging.WARNING,
            "SAFETY ALERT not acknowledged: backup texted",
            alert_id=alert.id,
            backup=alert.escalation_level,
        )
    return ids


def _to_backup(session: Session, settings: Settings, alert: SafetyAlert, index: int, now: datetime) -> int:
    number = settings.oncall_backup_numbers[index]
    key = f"alert:{alert.id}:backup{index + 1}:reached"
    return _queue(session, key, MessageKind.SAFETY_NOTICE, BACKUP_NOTICE, alert, now, number)


def _repeat(
    session: Session, settings: Settings, alert: SafetyAlert, now: datetime, *, backups: int
) -> list[int]:
    alert.notified_count += 1
    alert.last_notified_at = now
    round_ = alert.notified_count
    told = [("oncall", settings.oncall_number)] if settings.oncall_number else []
    told += [(f"backup{i + 1}", n) for i, n in enumerate(settings.oncall_backup_numbers[:backups])]
    if not told:
        return _nobody(alert)
    log_on_commit(
        session,
        log,
        logging.WARNING,
        "SAFETY ALERT still open: texted again",
        alert_id=alert.id,
        times=round_,
    )
    return [
        _queue(
            session,
            f"alert:{alert.id}:{who}:{round_}",
            MessageKind.SAFETY_NOTICE,
            REPEAT_NOTICE,
            alert,
            now,
            n,
        )
        for who, n in told
    ]


def _nobody(alert: SafetyAlert) -> list[int]:
    # `doctor` and the settings check warn long before this; the alert still stands in
    # `alerts list --open` for whoever looks.
    log.error("no CLINIC_ONCALL_NUMBER: nobody was texted about a safety alert", extra={"alert_id": alert.id})
    return []


def _queue(
    session: Session,
    key: str,
    kind: MessageKind,
    template: str,
    alert: SafetyAlert,
    now: datetime,
    to_number: str | None,
) -> int:
    message = queue_now(
        session,
        key=key,
        kind=kind,
        template=template,
        now=now,
        lease=urgent_lease(),
        patient_id=alert.patient_id if kind == MessageKind.SAFETY and to_number is None else None,
        to_number=to_number,
        alert_id=alert.id,
    )
    return message.id


@dataclass(frozen=True)
class Told:
    """One text to staff about an alert, for `alerts list`."""

    to_number: str
    template: str
    status: str
    queued_at: datetime | None
    sent_at: datetime | None


def told_about(session: Session, alert_ids: list[int]) -> dict[int, list[Told]]:
    """Alert id -> the texts to staff about it, oldest first."""
    rows = session.scalars(
        select(Message)
        .where(Message.alert_id.in_(alert_ids), Message.kind == MessageKind.SAFETY_NOTICE)
        .order_by(Message.id)
    )
    told: dict[int, list[Told]] = {i: [] for i in alert_ids}
    for row in rows:
        assert row.alert_id is not None
        told[row.alert_id].append(
            Told(row.to_number or "", row.template, str(row.status), row.queued_at, row.sent_at)
        )
    return told
