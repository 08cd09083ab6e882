"""identifiers and health data encrypted at rest, with blind indexes for lookups

Names, phone numbers, appointment kinds, answer values, scores and severities, alert sources
and details and the stored webhook forms become Fernet tokens; phone numbers and alert
sources get a blind index (HMAC) for lookups and uniqueness. Existing rows are encrypted
here, so this migration needs the keys of the caller's Settings when rows exist.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:45:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import context, op

from worker.db.cipher import MissingCipher
from worker.lib.crypto import PREFIX, Cipher

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH_ROWS = 500
INDEX = sa.String(length=64)
# What was stored in clear, per table; each becomes TEXT holding a token.
ENCRYPTED: dict[str, tuple[str, ...]] = {
    "patients": ("name", "phone"),
    "appointments": ("kind",),
    "messages": ("to_number",),
    "inbound_messages": ("from_number", "to_number", "params"),
    "questionnaire_runs": ("score", "severity"),
    "questionnaire_answers": ("value",),
    "safety_alerts": ("source", "note", "category", "rule", "summary"),
    "alert_triggers": ("source", "category", "rule"),
}
# (table, index column, the encrypted column it indexes)
INDEXES = (
    ("patients", "phone_index", "phone"),
    ("messages", "to_index", "to_number"),
    ("safety_alerts", "source_index", "source"),
    ("alert_triggers", "source_index", "source"),
)
# Of a stored webhook form, what is kept (worker.inbound.store.KEPT_FIELDS): no city, ZIP,
# country or media links.
KEPT_FIELDS = frozenset({"MessagingServiceSid", "NumSegments", "ApiVersion", "SmsStatus"})


def upgrade() -> None:
    _require_keys_for_existing_rows()  # before any change: SQLite's DDL is not transactional
    _widen_to_text()
    _add_index_columns()
    _encrypt_rows()
    _constrain_indexes()


def _require_keys_for_existing_rows() -> None:
    if context.config.attributes.get("cipher") is not None:
        return
    connection = op.get_bind()
    stored = [t for t in ENCRYPTED if connection.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first()]  # noqa: S608
    if stored:
        raise MissingCipher(
            f"migration 0009 encrypts the rows already in {', '.join(stored)}: run `clinic-worker db "
            "upgrade` with CLINIC_ENCRYPTION_KEYS and CLINIC_BLIND_INDEX_KEYS set; nothing was changed"
        )


def _widen_to_text() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in ENCRYPTED.items():
        # The naming convention names SQLite's unnamed UNIQUE(phone) so it can be dropped.
        with op.batch_alter_table(
            table, naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
        ) as batch:
            if table == "patients":
                batch.drop_constraint(
                    "patients_phone_key" if postgres else "uq_patients_phone", type_="unique"
                )
            if table in ("safety_alerts", "alert_triggers"):
                name = (
                    "uq_alerts_inbound_source"
                    if table == "safety_alerts"
                    else "uq_alert_triggers_inbound_source"
                )
                batch.drop_constraint(name, type_="unique")
            for column in columns:
                batch.alter_column(column, type_=sa.Text(), postgresql_using=f"{column}::text")


def _add_index_columns() -> None:
    for table, index_column, _ in INDEXES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(index_column, INDEX, nullable=True))


def _encrypt_rows() -> None:
    connection = op.get_bind()
    cipher: Cipher | None = context.config.attributes.get("cipher")
    for table, columns in ENCRYPTED.items():
        index = next(((i, c) for t, i, c in INDEXES if t == table), None)
        _encrypt_table(connection, cipher, table, columns, index)


def _encrypt_table(
    connection: sa.Connection,
    cipher: Cipher | None,
    table: str,
    columns: tuple[str, ...],
    index: tuple[str, str] | None,
) -> None:
    names = ", ".join(columns)
    last_id = 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT id, {names} FROM {table} WHERE id > :last ORDER BY id LIMIT :n"),  # noqa: S608
            {"last": last_id, "n": BATCH_ROWS},
        ).all()
        if not rows:
            return
        assert cipher is not None, "checked by _require_keys_for_existing_rows"
        for row in rows:
            values = {c: _encrypted(cipher, table, c, v) for c, v in zip(columns, row[1:], strict=True)}
            if index is not None:
                clear = row[1 + columns.index(index[1])]
                values[index[0]] = None if clear is None else cipher.index(_clear(cipher, str(clear)))
            assignments = ", ".join(f"{c} = :{c}" for c in values)
            connection.execute(
                sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id"),  # noqa: S608
                {**values, "id": row[0]},
            )
        last_id = rows[-1][0]


def _clear(cipher: Cipher, stored: str) -> str:
    return cipher.decrypt(stored) if stored.startswith(PREFIX) else stored


def _encrypted(cipher: Cipher, table: str, column: str, value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    if text.startswith(PREFIX):
        return text
    if table == "inbound_messages" and column == "params":
        text = _kept_params(text)
    return cipher.encrypt(text)


def _kept_params(stored: str) -> str:
    form = json.loads(stored) if stored else {}
    kept = {k: v for k, v in form.items() if k in KEPT_FIELDS or k.startswith("MediaContentType")}
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))


def _constrain_indexes() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.alter_column("phone_index", existing_type=INDEX, nullable=False)
        batch.create_unique_constraint("uq_patients_phone_index", ["phone_index"])
    with op.batch_alter_table("messages") as batch:
        batch.create_index("ix_messages_to_index", ["to_index"])
    for table, name in (
        ("safety_alerts", "uq_alerts_inbound_source"),
        ("alert_triggers", "uq_alert_triggers_inbound_source"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("source_index", existing_type=INDEX, nullable=False)
            batch.create_unique_constraint(name, ["inbound_id", "source_index"])


def downgrade() -> None:
    raise NotImplementedError(
        "0009 encrypts data in place; restore the backup taken before `db upgrade` to go back"
    )
