"""Reading stored inbound texts for the faces (CLI, console): the queries live here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import InboundMessage, Patient
from worker.inbound.replies import UNMATCHED_KINDS


def list_replies(
    session: Session,
    *,
    patient_id: int | None = None,
    since: datetime | None = None,
    unmatched_only: bool = False,
) -> list[InboundMessage]:
    """Newest first. `unmatched_only`: the texts a person must read."""
    query = select(InboundMessage).order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    if patient_id is not None:
        query = query.where(InboundMessage.patient_id == patient_id)
    if since is not None:
        query = query.where(InboundMessage.received_at >= since)
    if unmatched_only:
        query = query.where(InboundMessage.kind.in_(UNMATCHED_KINDS))
    return list(session.scalars(query))


def patient_names(session: Session, patient_ids: Iterable[int | None]) -> dict[int, str]:
    """{patient id: name} for these patients, names decrypted by the ORM (for staff lists;
    the caller audits the read)."""
    wanted = {pid for pid in patient_ids if pid is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Patient.id, Patient.name).where(Patient.id.in_(wanted)))
    return {pid: name for pid, name in rows}
