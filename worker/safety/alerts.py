"""Safety alerts: the part that may never fail.

An alert row, the patient's crisis-resources text and the on-call text are written in one
transaction, committed before anything is sent. If Redis is down they wait as queued rows
with a short lease and the dispatcher sends them when it can: delayed, never dropped. They go
out at any hour, whatever the consent or opt-out (the patient wrote to us), are never
skipped as stale, skip the rate limit and travel on the urgent queue.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from worker.db import audit
from worker.db.aftercommit import log_on_commit
from worker.db.models import Patient, SafetyAlert
from worker.enums import MessageKind
from worker.lib.errors import InputError, NotFound
from worker.messages.outbox import queue_now
from worker.retries import alert_repeat_cutoff, urgent_lease
from worker.settings import Settings

log = logging.getLogger(__name__)

# Short: if the enqueue after commit fails, the dispatcher re-queues these within seconds.


def raise_alert(
    session: Session,
    settings: Settings,
    *,
    source: str,
    now: datetime,
    patient: Patient | None,
    reply_to: str | None,
    inbound_id: int | None = None,
    run_id: int | None = None,
    category: str | None = None,
    rule: str | None = None,
) -> list[int]:
    """Create the alert and queue its two texts; returns the message ids to enqueue after
    commit. A second alert for the same inbound text and source is not created."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    alert_id = session.execute(
        insert(SafetyAlert)
        .values(
            patient_id=patient.id if patient else None,
            inbound_id=inbound_id,
            run_id=run_id,
            source=source,
            created_at=now,
            notified_count=0,
        )
        .on_conflict_do_nothing(index_elements=["inbound_id", "source"])
        .returning(SafetyAlert.id)
    ).scalar()
    if alert_id is None:
        return []
    audit.record(
        session,
        "safety",
        "alert.raise",
        patient_id=patient.id if patient else None,
        entity="alert",
        entity_id=alert_id,
        source=source,
    )
    log_on_commit(session, log, logging.WARNING, "SAFETY ALERT raised", alert_id=alert_id, source=source)
    ids = []
    if patient is not None or reply_to:
        ids.append(
            _queue(
                session,
                f"alert:{alert_id}:patient",
                MessageKind.SAFETY,
                "safety",
                now,
                alert_id,
                patient_id=patient.id if patient else None,
                to_number=None if patient else reply_to,
            )
        )
    ids += _notify_oncall(session, settings, session.get_one(SafetyAlert, alert_id), now)
    return ids


def _notify_oncall(session: Session, settings: Settings, alert: SafetyAlert, now: datetime) -> list[int]:
    alert.notified_count += 1
    alert.last_notified_at = now
    if not settings.oncall_number:
        log.error(
            "no CLINIC_ONCALL_NUMBER: nobody was texted about a safety alert", extra={"alert_id": alert.id}
        )
        return []
    return [
        _queue(
            session,
            f"alert:{alert.id}:oncall:{alert.notified_count}",
            MessageKind.SAFETY_NOTICE,
            "safety_oncall",
            now,
            alert.id,
            patient_id=None,
            to_number=settings.oncall_number,
        )
    ]


def _queue(
    session: Session,
    key: str,
    kind: MessageKind,
    template: str,
    now: datetime,
    alert_id: int,
    *,
    patient_id: int | None,
    to_number: str | None,
) -> int:
    message = queue_now(
        session,
        key=key,
        kind=kind,
        template=template,
        now=now,
        lease=urgent_lease(),
        patient_id=patient_id,
        to_number=to_number,
        alert_id=alert_id,
    )
    return message.id


def repeat_unacknowledged(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Text on-call again about every alert nobody acknowledged in CLINIC_ALERT_REPEAT_MINUTES."""
    cutoff = alert_repeat_cutoff(now, settings.alert_repeat_minutes)
    due = session.scalars(
        select(SafetyAlert)
        .where(SafetyAlert.acknowledged_at.is_(None), SafetyAlert.last_notified_at <= cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    ids = []
    for alert in due:
        ids += _notify_oncall(session, settings, alert, now)
        log_on_commit(
            session,
            log,
            logging.WARNING,
            "SAFETY ALERT still open: on-call texted again",
            alert_id=alert.id,
            times=alert.notified_count,
        )
    return ids


def acknowledge(session: Session, alert_id: int, *, by: str, note: str | None, now: datetime) -> SafetyAlert:
    alert = session.get(SafetyAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.acknowledged_at is not None:
        raise InputError(
            f"alert {alert_id} was acknowledged by {alert.acknowledged_by} "
            f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC"
        )
    alert.acknowledged_at, alert.acknowledged_by, alert.note = now, by, note
    audit.record(
        session,
        f"operator:{by}",
        "alert.ack",
        patient_id=alert.patient_id,
        entity="alert",
        entity_id=alert.id,
    )
    return alert


def list_alerts(session: Session, *, open_only: bool = False) -> list[SafetyAlert]:
    """Newest first; `open_only`: those nobody acknowledged."""
    query = select(SafetyAlert).order_by(SafetyAlert.created_at.desc(), SafetyAlert.id.desc())
    if open_only:
        query = query.where(SafetyAlert.acknowledged_at.is_(None))
    return list(session.scalars(query))
