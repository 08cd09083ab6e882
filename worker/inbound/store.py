"""Storing inbound texts raw, before the webhook answers: once per MessageSid, in one
statement for a batch (Twilio retries the same SID; two web processes may race)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from worker.db.models import InboundMessage

# Of the form fields not stored in their own columns, the only ones kept (encrypted like the
# rest): what helps staff explain a message. Twilio's guess at the sender's city, state, ZIP
# and country, and MMS media links (readable by anyone holding them), are never stored.
KEPT_FIELDS = frozenset({"MessagingServiceSid", "NumSegments", "ApiVersion", "SmsStatus"})
KEPT_PREFIXES = ("MediaContentType",)  # "image/jpeg": that a photo came, not the photo


def store_inbound(
    session: Session, form: Mapping[str, Sequence[str]], source: str, now: datetime
) -> int | None:
    """Insert the raw message unless its MessageSid is already stored; its id if it was new."""
    return store_inbound_many(session, [form], source, now).get(form["MessageSid"][-1])


def store_inbound_many(
    session: Session, forms: Sequence[Mapping[str, Sequence[str]]], source: str, now: datetime
) -> dict[str, int]:
    """Insert each raw message whose MessageSid is not stored yet, in one statement.

    Returns {MessageSid: id} for the rows this call inserted; a SID already stored (a
    Twilio retry), or repeated within `forms`, is inserted once and only the first time.
    """
    rows: dict[str, dict[str, object]] = {}
    for form in forms:
        row = _inbound_row(form, source, now)
        rows.setdefault(str(row["message_sid"]), row)
    statement = _insert_new_inbound(session.get_bind().dialect.name)
    # A Core insert on the session's connection: the webhook's hot path needs no ORM
    # bookkeeping. RETURNING, not rowcount: psycopg reports -1 for INSERT ... DO NOTHING,
    # and SQLAlchemy sends many rows as one multi-row INSERT ("insertmanyvalues"). In SID
    # order: two web processes inserting the same retried SIDs wait for each other in the
    # same order, so they cannot deadlock.
    result = session.connection().execute(statement, [rows[sid] for sid in sorted(rows)])
    return {sid: id_ for id_, sid in result.all()}


@functools.cache
def _insert_new_inbound(dialect: str) -> ReturningInsert[int, str]:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, InboundMessage.__table__)
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(table.c.id, table.c.message_sid)
    )


def _inbound_row(form: Mapping[str, Sequence[str]], source: str, now: datetime) -> dict[str, object]:
    values = {k: v[-1] for k, v in form.items() if v}
    return {
        "message_sid": values["MessageSid"],
        "account_sid": values.get("AccountSid", ""),
        "from_number": values.get("From", ""),
        "to_number": values.get("To", ""),
        "body": values.get("Body", ""),
        "num_media": _int(values.get("NumMedia", "0")),
        "params": {k: list(v) for k, v in form.items() if _kept(k)},
        "source": source,
        "received_at": now,
    }


def _kept(field: str) -> bool:
    return field in KEPT_FIELDS or field.startswith(KEPT_PREFIXES)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def inbound_ids(session: Session, message_sids: Sequence[str]) -> dict[str, int]:
    """{MessageSid: id} for those of these SIDs that are stored."""
    rows = session.execute(
        select(InboundMessage.message_sid, InboundMessage.id).where(
            InboundMessage.message_sid.in_(set(message_sids))
        )
    )
    return {sid: id_ for sid, id_ in rows}


def unprocessed(session: Session, older_than: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.processed_at.is_(None), InboundMessage.received_at <= older_than)
            .order_by(InboundMessage.received_at)
            .limit(limit)
        )
    )
