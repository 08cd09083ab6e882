"""What one dispatcher run costs as the messages table grows.

For each size a scratch database (a new PostgreSQL database, or a new SQLite file) is brought
to the migration head, seeded in SQL with `size` appointments, their two reminders each and
exactly `claim` due rows, and then the real `worker.dispatch.claim_due` is timed. The seed is
generated inside the database (generate_series / a recursive CTE) because shipping millions of
rows through the driver would make the seed, not the claim, the slow part of the benchmark.

Importing this module does nothing; `measure()` prints progress lines to stderr only.
"""

# The seed SQL is assembled from constants in this file (no outside input reaches it); values
# travel as bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench._scratch import scratch_database
from worker.db.engine import make_engine, session_factory
from worker.db.migrate import upgrade
from worker.db.models import Appointment, Message
from worker.enums import MessageStatus
from worker.outbound.dispatch import claim_due

LEASE = timedelta(minutes=5)
CLAIM_INDEX = "ix_messages_status_due"
DAY, HOUR = 86400, 3600


def measure(
    database_url: str,
    sizes: Sequence[int] = (10_000, 100_000, 1_000_000),
    claim: int = 1000,
    repeats: int = 5,
) -> dict[str, Any]:
    """Seed each size into a scratch database and time `claim_due(limit=claim)` `repeats` times.

    Each size gets its own scratch database beside `database_url` (see bench._scratch); the
    given one is not touched.
    """
    dialect = make_url(database_url).get_backend_name()
    results = [_measure_size(database_url, size, claim, repeats) for size in sizes]
    return {"database": dialect, "claim": claim, "repeats": repeats, "sizes": results}


def _say(line: str) -> None:
    sys.stderr.write(f"dispatcher_cost: {line}\n")
    sys.stderr.flush()


def _measure_size(database_url: str, size: int, claim: int, repeats: int) -> dict[str, Any]:
    # Whole seconds: SQLite rows are seeded as text with zero microseconds, so `now` must match.
    now = datetime.now(UTC).replace(microsecond=0)
    with scratch_database(database_url) as url:
        started = perf_counter()
        upgrade(url)
        migrate_s = perf_counter() - started
        engine = make_engine(url)
        try:
            _say(f"{size:,} appointments: seeding")
            started = perf_counter()
            patients = _seed(engine, size, claim, now)
            seed_s = perf_counter() - started
            started = perf_counter()
            _analyze(engine)
            analyze_s = perf_counter() - started
            counts = _counts(engine, now, claim)
            _say(f"{size:,} appointments: {counts['messages']:,} messages seeded in {seed_s:.1f} s; claiming")
            sessions = session_factory(engine)
            load = os.getloadavg()[0]  # other work on the machine slows the claims too
            plan, cold_ms = _explain_claim(engine, sessions, now, claim)
            times = _time_claims(sessions, now, claim, repeats)
        finally:
            engine.dispose()
    return {
        "appointments": counts["appointments"],
        "patients": patients,
        "messages": counts["messages"],
        "due_rows": counts["due"],
        "migrate_s": round(migrate_s, 2),
        "seed_s": round(seed_s, 2),
        "analyze_s": round(analyze_s, 2),
        "claim_ms_cold": round(cold_ms, 2),
        "claim_ms_median": round(statistics.median(times), 2),
        "claim_ms_max": round(max(times), 2),
        "claim_ms_all": [round(t, 2) for t in times],
        "claimed": claim,
        "index_used": CLAIM_INDEX in "\n".join(plan),
        "plan": plan,
        "load_average_1m": round(load, 2),
    }


class _Sql:
    """The few SQL pieces that differ between PostgreSQL and SQLite."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def series(self, bound: str) -> str:
        """A FROM item yielding i = 1 .. :bound."""
        if self.postgres:
            return f"generate_series(1, :{bound}) AS s(i)"
        recursive = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :{bound})"
        return f"({recursive} SELECT i FROM s) AS s"

    def at(self, seconds: str) -> str:
        """The timestamp `seconds` (an SQL expression) after :now, as the column type stores it."""
        if self.postgres:
            return f"(CAST(:now AS timestamptz) + ({seconds}) * interval '1 second')"
        # The text UTCDateTime stores on SQLite: naive UTC with six fractional digits.
        return f"(strftime('%Y-%m-%d %H:%M:%S', :epoch + ({seconds}), 'unixepoch') || '.000000')"


# Appointment i: even ones are in the past (up to 180 days), odd ones 49 h to 90 days ahead, so
# both reminders of a future appointment (48 h and 2 h before) are still to come. The mixing
# (i * 7919) spreads start times without a random() that differs between the dialects.
def _start_seconds(i: str) -> str:
    mixed = f"(CAST({i} AS BIGINT) * 7919)"  # BIGINT: i * 7919 overflows a PostgreSQL integer
    past = f"-{HOUR} * (1 + {mixed} % {180 * 24})"
    future = f"{49 * HOUR} + {HOUR} * ({mixed} % {90 * 24})"
    return f"(CASE WHEN {i} % 2 = 0 THEN {past} ELSE {future} END)"


_APPOINTMENT_STATUS = """CASE WHEN i % 2 = 1 AND i % 20 = 3 THEN 'cancelled'
    WHEN i % 2 = 1 THEN CASE WHEN i % 10 = 1 THEN 'confirmed' ELSE 'scheduled' END
    WHEN i % 20 = 0 THEN 'cancelled' WHEN i % 20 = 2 THEN 'no_show' ELSE 'completed' END"""

# Future: planned (cancelled with a cancelled appointment). Past: about nine in ten delivered
# or sent, the rest cancelled, skipped or failed: the history a clinic accumulates.
_MESSAGE_STATUS = """CASE WHEN a.status = 'cancelled' THEN 'cancelled'
    WHEN a.id % 2 = 1 THEN 'planned'
    WHEN a.status = 'no_show' AND o.n = 2 THEN 'skipped'
    WHEN (a.id * 7 + o.n) % 50 = 0 THEN 'failed'
    WHEN a.id % 10 = 6 THEN 'sent' ELSE 'delivered' END"""


def _seed(engine: Engine, size: int, claim: int, now: datetime) -> int:
    """Insert patients, appointments, their reminders and exactly `claim` due rows."""
    sql = _Sql(engine.dialect.name)
    patients = max(1, size // 10)
    params = {"now": now, "epoch": int(now.timestamp()), "patients": patients, "size": size, "claim": claim}
    start, due = _start_seconds("a.id"), _start_seconds("a.id") + " - o.secs"
    statements = [
        # Patients are only there for the foreign keys: the claim never reads a patient, so
        # name and phone stay plaintext (read back as legacy values, were they ever read) and
        # phone_index is a unique placeholder, not an HMAC that SQL cannot compute here.
        f"""INSERT INTO patients (name, phone, phone_index, timezone, language, sms_consent, consent_at,
            consent_source, opted_out, created_at)
        SELECT 'Patient ' || CAST(i AS TEXT), '+1' || CAST(2000000000 + i AS TEXT),
            'bench-' || CAST(i AS TEXT), 'America/New_York',
            'en', TRUE, {sql.at(f"-{400 * DAY}")}, 'bench', FALSE, {sql.at(f"-{400 * DAY}")}
        FROM {sql.series("patients")}""",
        # Fresh database: ids start at 1, so patient 1 + (i - 1) % patients exists.
        f"""INSERT INTO appointments (patient_id, start_at, duration_minutes, kind, status, created_at,
            updated_at)
        SELECT 1 + (i - 1) % :patients, {sql.at(_start_seconds("i"))}, 60, 'session',
            {_APPOINTMENT_STATUS}, {sql.at(f"-{200 * DAY}")}, {sql.at(f"-{200 * DAY}")}
        FROM {sql.series("size")}""",
        # Keys as worker.scheduling.reminder_key builds them. Colons are escaped: text() would
        # read ':reminder' as a bind parameter. Inserted in key order, which keeps the unique
        # key index compact and the insert about 15% faster.
        f"""INSERT INTO messages (key, appointment_id, patient_id, kind, template, due_at, status,
            attempts, twilio_sid, sent_at, created_at, updated_at)
        SELECT m.key, m.id, m.patient_id, 'reminder', 'reminder', m.due_at, m.status,
            CASE WHEN m.status IN ('delivered', 'sent', 'failed') THEN 1 ELSE 0 END,
            CASE WHEN m.status IN ('delivered', 'sent') THEN 'SM' || m.sid END,
            CASE WHEN m.status IN ('delivered', 'sent') THEN m.due_at END,
            m.created_at, m.created_at
        FROM (SELECT a.id, a.patient_id, a.created_at, {sql.at(due)} AS due_at, {_MESSAGE_STATUS} AS status,
                'appt\\:' || CAST(a.id AS TEXT) || '\\:reminder\\:' || o.label || '\\:'
                    || CAST(CAST(:epoch AS BIGINT) + {start} AS TEXT) AS key,
                CAST(a.id * 10 + o.n AS TEXT) AS sid
            FROM appointments a CROSS JOIN
                (SELECT 1 AS n, '48h' AS label, {48 * HOUR} AS secs UNION ALL SELECT 2, '2h', {2 * HOUR}) o
        ) m ORDER BY m.key""",
        # Exactly `claim` due rows, on active future appointments, due in the last ten minutes.
        f"""INSERT INTO messages (key, appointment_id, patient_id, kind, template, due_at, status,
            attempts, created_at, updated_at)
        SELECT 'appt\\:' || CAST(a.id AS TEXT) || '\\:manual\\:bench-due', a.id, a.patient_id,
            'reminder', 'reminder', {sql.at("-1 - a.id % 600")}, 'planned', 0, {sql.at("-3600")},
            {sql.at("-3600")}
        FROM appointments a WHERE a.id % 2 = 1 AND a.status <> 'cancelled' ORDER BY a.id LIMIT :claim""",
    ]
    with engine.begin() as connection:
        _skip_foreign_key_checks(connection)
        for statement in statements:
            connection.execute(text(statement), params)
    return patients


def _skip_foreign_key_checks(connection: Connection) -> None:
    """On PostgreSQL, skip the per-row foreign key triggers for this seeding transaction.

    They double the seed time (7 s instead of 3 s for 100,000 appointments) and check nothing
    here: every id the seed refers to was inserted just before. Only a superuser may do this;
    anyone else seeds with the checks, just more slowly.
    """
    if connection.dialect.name == "postgresql" and connection.scalar(text("SHOW is_superuser")) == "on":
        connection.execute(text("SET LOCAL session_replication_role = replica"))


def _analyze(engine: Engine) -> None:
    """VACUUM ANALYZE on PostgreSQL, as autovacuum would have done on a table this old.

    SQLite gets nothing: the worker never runs ANALYZE there, so neither does the benchmark.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def _counts(engine: Engine, now: datetime, claim: int) -> dict[str, int]:
    due = select(func.count()).where(Message.status == MessageStatus.PLANNED, Message.due_at <= now)
    with engine.connect() as connection:
        counts = {
            "appointments": int(connection.scalar(select(func.count()).select_from(Appointment)) or 0),
            "messages": int(connection.scalar(select(func.count()).select_from(Message)) or 0),
            "due": int(connection.scalar(due) or 0),
        }
    if counts["due"] != claim:  # about 45% of appointments are active and ahead
        raise ValueError(f"{counts['appointments']} appointments are too few for {claim} due rows")
    return counts


def _explain_claim(
    engine: Engine, sessions: sessionmaker[Session], now: datetime, claim: int
) -> tuple[list[str], float]:
    """Run one untimed claim (it also warms the pool), capture its UPDATE and EXPLAIN that.

    Capturing the statement the real function sent, rather than rebuilding the query here,
    keeps the plan honest if worker.outbound.dispatch changes.
    """
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE MESSAGES"):
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        started = perf_counter()
        ids = claim_due(sessions, now, limit=claim, lease=LEASE)
        cold_ms = (perf_counter() - started) * 1000
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    _check_claimed(ids, claim)
    _reset(sessions, ids)
    statement, parameters = captured[0]
    prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    # PostgreSQL returns one text column; SQLite (id, parent, notused, detail).
    return [str(row[-1]) for row in rows], cold_ms


def _time_claims(sessions: sessionmaker[Session], now: datetime, claim: int, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = perf_counter()
        ids = claim_due(sessions, now, limit=claim, lease=LEASE)
        times.append((perf_counter() - started) * 1000)
        _check_claimed(ids, claim)
        _reset(sessions, ids)  # the same rows are due again for the next repeat
    return times


def _check_claimed(ids: list[int], claim: int) -> None:
    if len(set(ids)) != claim:
        raise AssertionError(f"claim_due claimed {len(set(ids))} distinct rows, expected {claim}")


def _reset(sessions: sessionmaker[Session], ids: list[int]) -> None:
    with sessions() as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(status=MessageStatus.PLANNED, queued_at=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
