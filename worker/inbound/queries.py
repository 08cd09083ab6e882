"""Reading stored inbound texts for the faces (CLI, console): the queries live here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from worker.db.models import InboundMessage, Patient
from worker.inbound.replies import UNMATCHED_KINDS


@dataclass(frozen=True)
class ReplyFilter:
    """Which stored texts a list shows. `unmatched_only`: the texts a person must read;
    `needs_attention`: those waiting for a person and not yet resolved, oldest first (it
    takes the place of `unmatched_only`, as `replies list --needs-attention` always did)."""

    patient_id: int | None = None
    since: datetime | None = None
    unmatched_only: bool = False
    needs_attention: bool = False


def list_replies(
    session: Session, wanted: ReplyFilter, *, limit: int | None = None, offset: int = 0
) -> list[InboundMessage]:
    """One page of texts, newest first (needs attention: oldest first, the order the front
    desk works through them)."""
    if wanted.needs_attention:
        order = (InboundMessage.received_at.asc(), InboundMessage.id.asc())
    else:
        order = (InboundMessage.received_at.desc(), InboundMessage.id.desc())
    query = _replies(wanted).order_by(*order).offset(offset).limit(limit)
    return list(session.scalars(query))


def count_replies(session: Session, wanted: ReplyFilter) -> int:
    """How many texts `list_replies` pages through."""
    ids = _replies(wanted).with_only_columns(InboundMessage.id)
    return session.scalar(select(func.count()).select_from(ids.subquery())) or 0


def _replies(wanted: ReplyFilter) -> Select[InboundMessage]:
    query = select(InboundMessage)
    if wanted.patient_id is not None:
        query = query.where(InboundMessage.patient_id == wanted.patient_id)
    if wanted.since is not None:
        query = query.where(InboundMessage.received_at >= wanted.since)
    if wanted.needs_attention:
        # The same rows as worker.inbound.attention.needing_attention, pageable in SQL.
        return query.where(InboundMessage.attention.is_not(None), InboundMessage.resolved_at.is_(None))
    if wanted.unmatched_only:
        query = query.where(InboundMessage.kind.in_(UNMATCHED_KINDS))
    return query


def patient_names(session: Session, patient_ids: Iterable[int | None]) -> dict[int, str]:
    """{patient id: name} for these patients, names decrypted by the ORM (for staff lists;
    the caller audits the read)."""
    wanted = {pid for pid in patient_ids if pid is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Patient.id, Patient.name).where(Patient.id.in_(wanted)))
    return {pid: name for pid, name in rows}
