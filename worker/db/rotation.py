"""Re-encrypting stored text under the first key of CLINIC_ENCRYPTION_KEYS (`keys rotate`)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from worker.db.engine import transaction
from worker.lib.crypto import Cipher

# (table, column) pairs holding encrypted text. Read and written raw here, on purpose: the
# column type would decrypt on read and encrypt again under whatever cipher it has.
ENCRYPTED = (("inbound_messages", "body"), ("questionnaire_answers", "text"))
BATCH_ROWS = 500  # one transaction each, so a long rotation holds no lock for long


def rotate_all(sessions: sessionmaker[Session], cipher: Cipher) -> dict[str, int]:
    """Rows re-encrypted, per table."""
    return {table: _rotate_table(sessions, cipher, table, column) for table, column in ENCRYPTED}


def _rotate_table(sessions: sessionmaker[Session], cipher: Cipher, table: str, column: str) -> int:
    done, last_id = 0, 0
    while True:
        with transaction(sessions) as session:
            rows = session.execute(
                text(
                    f"SELECT id, {column} FROM {table} WHERE id > :last AND {column} IS NOT NULL "  # noqa: S608
                    "ORDER BY id LIMIT :n"
                ),
                {"last": last_id, "n": BATCH_ROWS},
            ).all()
            for row_id, stored in rows:
                session.execute(
                    text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),  # noqa: S608
                    {"v": cipher.rotate(stored), "id": row_id},
                )
        if not rows:
            return done
        done += len(rows)
        last_id = rows[-1][0]
