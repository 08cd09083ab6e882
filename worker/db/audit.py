"""The audit trail: append-only rows saying who did what, with ids and codes, never PHI.

Three guards keep it true. The database refuses UPDATE and DELETE on it (triggers; on
PostgreSQL also the application role's privileges, worker.db.roles). And every row carries
a hash chained to the row before it, so a change made by someone who got past both (the
owner role, a restored and edited backup, a SQLite file opened by hand) shows in
`audit verify`:

    hash = SHA-256(prev_hash || canonical(row))

canonical(row) is compact JSON with sorted keys of: id, at (UTC ISO with microseconds),
actor, os_user, action, patient_id, the sorted linked patient ids, entity, entity_id,
detail, note. The first row's prev_hash is 64 zeros. The id is in the hash, so the id is
assigned before the INSERT, under the same lock that reads the previous hash: on
PostgreSQL a transaction-level advisory lock (then nextval of the id sequence), on SQLite
the write lock that BEGIN IMMEDIATE already holds (then max(id) + 1). A flush chains all
its new rows under one acquisition; the lock is held until the transaction ends, so the
next writer reads this one's last hash only once it is committed: no forks.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, event, func, insert, or_, select, text
from sqlalchemy.orm import Session, UOWTransaction, selectinload

from worker.db.models import AuditEntry, AuditPatient, utcnow

GENESIS = "0" * 64
# Any fixed bigint; only audit writers take it. b"auditlog" read as a number.
_PG_LOCK_KEY = int.from_bytes(b"auditlog", "big")
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, :n)")
_VERIFY_BATCH = 5000
_TAIL = "audit_chain_tail"  # session.info: (the transaction that chained last, its last hash)
_LINKS = "audit_pending_links"  # session.info: {new entry: its sorted linked patient ids}


def os_user() -> str:
    """The login running this process, recorded beside every actor."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def default_actor() -> str:
    return os_user()


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    patient_id: int | None = None,
    patient_ids: Iterable[int] = (),
    entity: str | None = None,
    entity_id: int | None = None,
    **detail: Any,
) -> None:
    """Add one audit row to `session`; it gets its id and hash when the session flushes.

    `patient_ids` are the patients the action concerns or showed (a list command's rows);
    they and `patient_id` go to audit_patients, where `entries(patient_id=X)` finds them.
    """
    linked = set(patient_ids)
    if patient_id is not None:
        linked.add(patient_id)
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        os_user=os_user(),
        action=action,
        patient_id=patient_id,
        entity=entity,
        entity_id=entity_id,
        detail=detail or None,
    )
    session.add(entry)
    # The links are written by one Core INSERT once the entry is (see _insert_links), not as
    # an ORM object each: an import batch's entry links 1,000 patients.
    _pending_links(session)[entry] = sorted(linked)


def entries(
    session: Session,
    *,
    since: datetime | None = None,
    patient_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AuditEntry]:
    """The trail, oldest first; for a patient, every row about them or linking them;
    `limit`/`offset`: one page of it."""
    query = _entries(since, patient_id).options(selectinload(AuditEntry.patient_links))
    query = query.order_by(AuditEntry.at, AuditEntry.id).offset(offset).limit(limit)
    return list(session.scalars(query))


def count_entries(session: Session, *, since: datetime | None = None, patient_id: int | None = None) -> int:
    """How many rows `entries` pages through with the same filters."""
    filtered = _entries(since, patient_id).with_only_columns(AuditEntry.id)
    return session.scalar(select(func.count()).select_from(filtered.subquery())) or 0


def _entries(since: datetime | None, patient_id: int | None) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if patient_id is not None:
        linking = select(AuditPatient.audit_id).where(AuditPatient.patient_id == patient_id)
        query = query.where(or_(AuditEntry.patient_id == patient_id, AuditEntry.id.in_(linking)))
    return query


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def linked_ids(entry: AuditEntry) -> list[int]:
    return sorted(link.patient_id for link in entry.patient_links)


# --- the chain -------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _iso(at: datetime) -> str:
    # Naive values are UTC already (SQLite, or a migration reading raw rows).
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev_hash: str, row: Any, linked: Sequence[int]) -> str:
    """The hash of one row (an AuditEntry or a result row with the same attributes)."""
    fields = {
        "id": row.id,
        "at": _iso(row.at),
        "actor": row.actor,
        "os_user": row.os_user,
        "action": row.action,
        "patient_id": row.patient_id,
        "patient_ids": sorted(linked),
        "entity": row.entity,
        "entity_id": row.entity_id,
        "detail": row.detail,
        "note": row.note,
    }
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def _chain_new_entries(session: Session, _context: UOWTransaction, _instances: object) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditEntry)]
    if not new:
        return
    ids, prev = _reserve(session, len(new))
    for entry, entry_id in zip(new, ids, strict=True):
        entry.id = entry_id
        if entry.at is None:
            entry.at = utcnow()
        if entry.detail is not None:
            # Stored exactly as hashed: tuples, enums and the like become plain JSON now.
            entry.detail = json.loads(canonical_json(entry.detail))
        entry.prev_hash = prev
        entry.hash = prev = row_hash(prev, entry, _pending_links(session).get(entry, []))
    session.info[_TAIL] = (_innermost(session), ids[-1], prev)


def _pending_links(session: Session) -> dict[AuditEntry, list[int]]:
    links: dict[AuditEntry, list[int]] = session.info.setdefault(_LINKS, {})
    return links


def _insert_links(session: Session, _context: UOWTransaction) -> None:
    """After the entries' INSERT, in the same flush and transaction: their patient links."""
    pending = _pending_links(session)
    rows = [
        {"audit_id": entry.id, "patient_id": patient}
        for entry, patients in pending.items()
        if entry.id is not None
        for patient in patients
    ]
    if rows:
        session.connection().execute(insert(AuditPatient), rows)


def _forget_links(session: Session, _context: UOWTransaction) -> None:
    """Once flushed, the entries' links are in the database: read them from there."""
    for entry in session.info.pop(_LINKS, {}):
        session.expire(entry, ["patient_links"])


def _drop_links(session: Session, _previous: object) -> None:
    # A failed flush or a rollback takes the unflushed entries with it: their links too.
    session.info.pop(_LINKS, None)


def _innermost(session: Session) -> object:
    # A savepoint rolled back takes its rows with it: what it chained is not the tail then.
    return session.get_nested_transaction() or session.get_transaction()


def _reserve(session: Session, count: int) -> tuple[list[int], str]:
    """`count` new ids in order and the hash they follow, with the chain's lock taken."""
    postgres = session.get_bind().dialect.name == "postgresql"
    tail = session.info.get(_TAIL)
    if tail is not None and tail[0] is _innermost(session):
        # This transaction chained rows already: it holds the lock and knows the last row.
        # Saves round trips per flush where rows come one by one (callbacks, imports).
        top, prev = int(tail[1]), str(tail[2])
    else:
        if postgres:
            session.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        # PostgreSQL: READ COMMITTED (the default, and what the engine uses) lets this read
        # see the last writer's commit; a REPEATABLE READ snapshot taken before the lock
        # would not. SQLite: every transaction began with BEGIN IMMEDIATE (worker.db.engine), so this
        # one holds the database's only write lock already; and an id taken twice would
        # fail on the primary key rather than fork the chain.
        last = select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
        row = session.execute(last).first()
        top, prev = (row.id, row.hash) if row is not None else (0, GENESIS)
    if postgres:
        # The sequence, not top + 1: it must move on, and every other writer waits on the lock.
        return sorted(session.scalars(_NEXT_IDS, {"n": count})), prev
    return list(range(top + 1, top + 1 + count)), prev


def install() -> None:
    """Chain every AuditEntry any Session flushes (idempotent)."""
    if not event.contains(Session, "before_flush", _chain_new_entries):
        event.listen(Session, "before_flush", _chain_new_entries)
        event.listen(Session, "after_flush", _insert_links)
        event.listen(Session, "after_flush_postexec", _forget_links)
        event.listen(Session, "after_soft_rollback", _drop_links)


install()


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int
    first_broken: int | None = None
    reason: str | None = None
    head: str = GENESIS  # the last good row's hash: kept elsewhere, it shows a rewritten chain

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "first_broken": self.first_broken,
            "reason": self.reason,
            "head": self.head,
        }


_COLUMNS = [c for c in AuditEntry.__table__.columns]


def verify(
    session: Session, *, batch: int = _VERIFY_BATCH, progress: Callable[[int], None] | None = None
) -> Verdict:
    """Walk the chain in id order and recompute each hash; the first broken row, if any."""
    prev_hash, prev_id, rows, after = GENESIS, None, 0, 0
    while True:
        chunk = session.execute(
            select(*_COLUMNS).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not chunk:
            return Verdict(True, rows, head=prev_hash)
        links = _links(session, chunk[0].id, chunk[-1].id)
        for row in chunk:
            broken = _check(row, prev_hash, prev_id, links.get(row.id, []))
            if broken is not None:
                return Verdict(False, rows, row.id, broken, head=prev_hash)
            prev_hash, prev_id, rows = row.hash, row.id, rows + 1
        after = chunk[-1].id
        if progress is not None:
            progress(len(chunk))


def _check(row: Any, prev_hash: str, prev_id: int | None, linked: list[int]) -> str | None:
    if row.prev_hash != prev_hash:
        if prev_id is None:
            return f"audit row {row.id}: prev_hash does not start the chain (rows before it were removed)"
        return f"audit row {row.id}: prev_hash does not follow row {prev_id} (a row was removed or inserted)"
    if row.hash != row_hash(prev_hash, row, linked):
        return f"audit row {row.id}: hash does not match (changed after it was written)"
    return None


def _links(session: Session, first: int, last: int) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    query = select(AuditPatient.audit_id, AuditPatient.patient_id).where(
        AuditPatient.audit_id.between(first, last)
    )
    for audit_id, patient_id in session.execute(query):
        found.setdefault(audit_id, []).append(patient_id)
    return found
