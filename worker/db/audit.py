"""The audit trail: append-only rows saying who did what, with ids and codes, never PHI."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import AuditEntry, utcnow


def default_actor() -> str:
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    patient_id: int | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            patient_id=patient_id,
            entity=entity,
            entity_id=entity_id,
            detail=detail or None,
        )
    )


def entries(
    session: Session, *, since: datetime | None = None, patient_id: int | None = None
) -> list[AuditEntry]:
    """The trail, oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if patient_id is not None:
        query = query.where(AuditEntry.patient_id == patient_id)
    return list(session.scalars(query))
