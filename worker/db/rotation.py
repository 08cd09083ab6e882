"""Re-encrypting stored values under the first key of CLINIC_ENCRYPTION_KEYS (`keys rotate`),
and re-indexing blind indexes under the first key of CLINIC_BLIND_INDEX_KEYS
(`keys rotate-index`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from worker.db.engine import transaction
from worker.db.models import BLIND_INDEXES, Base, EncryptedInt, EncryptedJSON, EncryptedText
from worker.lib.crypto import PREFIX, Cipher

BATCH_ROWS = 500  # one transaction each, so a long rotation holds no lock for long
Progress = Callable[[str, int], None]


def encrypted_columns() -> dict[str, tuple[str, ...]]:
    """Every encrypted column, per table, read from the models: a new one cannot be missed."""
    found: dict[str, tuple[str, ...]] = {}
    for table in Base.metadata.sorted_tables:
        names = tuple(
            c.name for c in table.columns if isinstance(c.type, EncryptedText | EncryptedInt | EncryptedJSON)
        )
        if names:
            found[table.name] = names
    return found


def rotate_all(
    sessions: sessionmaker[Session], cipher: Cipher, progress: Progress | None = None
) -> dict[str, int]:
    """Rows re-encrypted, per table. Values are read and written raw here, on purpose: the
    column types would decrypt on read and encrypt again under whatever cipher they have."""
    done: dict[str, int] = {}
    for table, columns in encrypted_columns().items():

        def rotated(row: Sequence[object], columns: tuple[str, ...] = columns) -> dict[str, object]:
            return {
                c: None if v is None else cipher.rotate(str(v)) for c, v in zip(columns, row[1:], strict=True)
            }

        done[table] = _walk(sessions, table, columns, rotated, progress)
    return done


def rotate_indexes(
    sessions: sessionmaker[Session], cipher: Cipher, progress: Progress | None = None
) -> dict[str, int]:
    """Rows re-indexed, per table: each blind index recomputed from its decrypted value."""
    done: dict[str, int] = {}
    for table, index_column, value_column in BLIND_INDEXES:

        def reindexed(row: Sequence[object], index_column: str = index_column) -> dict[str, object]:
            stored = row[1]
            value = None if stored is None else cipher.index(_clear(cipher, str(stored)))
            return {index_column: value}

        done[f"{table}.{index_column}"] = _walk(sessions, table, (value_column,), reindexed, progress)
    return done


def _clear(cipher: Cipher, stored: str) -> str:
    return cipher.decrypt(stored) if stored.startswith(PREFIX) else stored


def _walk(
    sessions: sessionmaker[Session],
    table: str,
    columns: tuple[str, ...],
    change: Callable[[Sequence[object]], dict[str, object]],
    progress: Progress | None,
) -> int:
    done, last_id = 0, 0
    names = ", ".join(columns)
    while True:
        with transaction(sessions) as session:
            rows = session.execute(
                text(f"SELECT id, {names} FROM {table} WHERE id > :last ORDER BY id LIMIT :n"),  # noqa: S608
                {"last": last_id, "n": BATCH_ROWS},
            ).all()
            for row in rows:
                values = change(row)
                assignments = ", ".join(f"{c} = :{c}" for c in values)
                session.execute(
                    text(f"UPDATE {table} SET {assignments} WHERE id = :id"),  # noqa: S608
                    {**values, "id": row[0]},
                )
        if not rows:
            return done
        done += len(rows)
        last_id = rows[-1][0]
        if progress is not None:
            progress(table, done)
